"""What the sync and the trio client share: their settings and a queued call.

Both clients take the same constructor arguments; :meth:`Settings.build`
validates them once and turns the TLS options into an
:class:`ssl.SSLContext`, so the two clients differ only in their I/O glue.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from bolt.client._cluster import NodeRing, parse_nodes
from bolt.client._commands import RETRY_SAFE_COMMANDS
from bolt.errors import BadRequestError, BoltConnectionError, WriteOutcomeUnknownError
from bolt.wire import PROTOCOL_VERSION, ErrorReply, Reply


class Call(NamedTuple):
    """One request waiting to be sent: what, where, and whether it may be re-sent."""

    command: str
    args: list[Any]
    db: str | None
    retry_safe: bool

    @classmethod
    def of(
        cls, command: str, args: list[Any], db: str | None, retry_safe: bool | None = None
    ) -> Call:
        """Build a call; ``retry_safe=None`` looks the command up in the retry rule."""
        if not isinstance(command, str) or not command:
            raise TypeError("a command must be a non-empty str")
        if db is not None and not isinstance(db, str):
            # Refused here: the server closes a connection whose request names
            # a database that is not a string (a malformed message).
            raise TypeError(f"database must be str or None, not {type(db).__name__}")
        if retry_safe is None:
            retry_safe = command in RETRY_SAFE_COMMANDS
        return cls(command, list(args), db, retry_safe)


class ConnectionLost(Exception):
    """The connection broke (internal: the client turns it into a public error).

    Attributes:
        cause: what broke it (an ``OSError``, or the server's last word).
        sent: whether the unanswered requests may have reached the server.
        replies: replies that did arrive, in request order.
    """

    def __init__(self, cause: BaseException, sent: bool, replies: list[Reply]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.sent = sent
        self.replies = replies


def check_resend(
    lost: ConnectionLost, pending: Sequence[Call], auto_reconnect: bool, resent: bool
) -> None:
    """The retry rule: raise the error for a lost connection, unless the
    unanswered ``pending`` calls may be sent (again) on a new connection.

    Args:
        lost: how the connection broke.
        pending: the calls without a reply.
        auto_reconnect: the client's setting.
        resent: ``pending`` was already re-sent once.

    Raises:
        WriteOutcomeUnknownError: a call that is not retry-safe may have
            reached the server.
        BoltConnectionError: reconnecting is off, or the re-send failed too.
    """
    unsafe = [call.command for call in pending if not call.retry_safe]
    if lost.sent and unsafe:
        raise WriteOutcomeUnknownError(
            f"the connection broke after {', '.join(unsafe)} was sent; it may or may "
            f"not have been applied and was not re-sent ({lost})"
        ) from lost.cause
    if not auto_reconnect:
        raise BoltConnectionError(f"connection lost: {lost}") from lost.cause
    if lost.sent and resent:
        raise BoltConnectionError(f"connection lost again after re-sending: {lost}") from lost.cause


def result_of(reply: Reply) -> Any:
    """The value of a response, or raise the exception an error reply carries."""
    if isinstance(reply, ErrorReply):
        raise reply.to_exception()
    return reply.result


@dataclass
class Settings:
    """Validated connection settings of one client (mutable: ``auth`` updates the user)."""

    ring: NodeRing
    username: str | None
    password: str | None
    timeout: float | None
    auto_reconnect: bool
    ssl_context: ssl.SSLContext | None
    client_name: str | None

    @classmethod
    def build(
        cls,
        *,
        host: str,
        port: int,
        nodes: Sequence[str] | None,
        username: str | None,
        password: str | None,
        database: str | None,
        timeout: float | None,
        auto_reconnect: bool,
        tls: bool,
        tls_ca_file: str | None,
        tls_verify: bool,
        ssl_context: ssl.SSLContext | None,
        client_name: str | None,
    ) -> Settings:
        """Check the constructor arguments of a client.

        Raises:
            TypeError: an argument has the wrong type.
            BadRequestError: a value is out of range (port, timeout, nodes).
        """
        for name, value in (
            ("username", username),
            ("password", password),
            ("database", database),
            ("client_name", client_name),
            ("tls_ca_file", tls_ca_file),
        ):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be str or None, not {type(value).__name__}")
        if timeout is not None and not timeout > 0:
            raise BadRequestError(f"timeout must be positive seconds or None, not {timeout!r}")
        if nodes is not None:
            addresses = parse_nodes(nodes)
        else:
            if not isinstance(port, int) or not 0 < port < 65536:
                raise BadRequestError(f"bad port {port!r}")
            addresses = [(host, port)]
        return cls(
            ring=NodeRing(addresses),
            username=username,
            password=password,
            timeout=timeout,
            auto_reconnect=auto_reconnect,
            ssl_context=make_ssl_context(tls, tls_ca_file, tls_verify, ssl_context),
            client_name=client_name,
        )

    def hello_args(self) -> list[Any]:
        """Arguments of the ``HELLO`` handshake (see :func:`hello_args`)."""
        return hello_args(self.username, self.password, self.client_name)


def hello_args(
    username: str | None = None, password: str | None = None, client_name: str | None = None
) -> list[Any]:
    """The arguments of a ``HELLO`` request: ``[PROTOCOL_VERSION, options]``.

    The one builder of the handshake, used by both clients and by every tool
    that greets a server itself (``boltctl bench``'s raw sockets). An option
    that is ``None`` is left out.

    Args:
        username: sent as ``user``.
        password: sent as ``password`` (in plain text: use TLS across a network).
        client_name: the name the server shows for the connection.
    """
    options: dict[str, str] = {}
    if username is not None:
        options["user"] = username
    if password is not None:
        options["password"] = password
    if client_name is not None:
        options["client_name"] = client_name
    return [PROTOCOL_VERSION, options]


def make_ssl_context(
    tls: bool, tls_ca_file: str | None, tls_verify: bool, ssl_context: ssl.SSLContext | None
) -> ssl.SSLContext | None:
    """The TLS context to wrap connections in, or ``None`` for plain TCP.

    ``ssl_context`` wins when given. Otherwise ``tls=True`` (or a CA file)
    builds a default client context that trusts ``tls_ca_file`` (or the
    system store) and, unless ``tls_verify`` is false, checks the certificate
    and host name.
    """
    if ssl_context is not None:
        return ssl_context
    if not tls and tls_ca_file is None:
        return None
    context = ssl.create_default_context(cafile=tls_ca_file)
    if not tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
