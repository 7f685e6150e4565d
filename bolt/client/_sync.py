"""The blocking Bolt client (the seed's ``BoltClient``).

Theory of operation: every call is one *round trip* -- a batch of requests
(one for a method call, many for a pipeline) written with one ``sendall``,
then read until each reply is in. A lock makes a round trip atomic, so one
client can be shared by threads. When the connection breaks, the retry rule
decides (see :mod:`bolt.client._commands`): a batch whose unanswered
requests are all retry-safe is re-sent once on a new connection (to the next
node, for a cluster client); one holding a counter or list write that may
have reached the server raises :class:`~bolt.errors.WriteOutcomeUnknownError`
instead. Before each send the socket is checked for a close that happened
while idle, so a server restart between calls never makes a write "unknown".
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Self

from bolt import limits
from bolt.client._cluster import Address, ClusterMembership, can_try_next_node, unreachable
from bolt.client._commands import CommandsMixin
from bolt.client._options import Call, ConnectionLost, Settings, check_resend, result_of
from bolt.client._pipeline import Pipeline
from bolt.client._sync_connection import SyncConnection, readable
from bolt.client._watch import key_change, watch_args
from bolt.errors import (
    BadRequestError,
    BoltConnectionError,
    BoltError,
    ProtocolError,
    TooLargeError,
)
from bolt.wire import Push, Reply, format_address

log = logging.getLogger(__name__)

_PUSH_WAIT_SLICE_SECONDS = 0.25  # next_push re-checks the connection this often
_ROUND_TRIP_ATTEMPTS_MAX = 3  # connections tried for one round trip (requests re-sent once)


class BoltClient(CommandsMixin[Any]):
    """A blocking client for one Bolt node, or for a cluster (see :meth:`cluster`).

    Args:
        host, port: the node to connect to.
        username, password: credentials sent in the ``HELLO`` handshake.
        database: default database (namespace) of data commands.
        timeout: seconds allowed for connecting and for each round trip
            (``None``: wait forever).
        auto_reconnect: reconnect (and re-send retry-safe requests once)
            when the connection breaks.
        tls, tls_ca_file, tls_verify, ssl_context: speak TLS; see
            :func:`bolt.client._options.make_ssl_context`.
        client_name: a name the server shows for this connection.
        nodes: ``"host:port"`` strings of a cluster; overrides host and port.

    Every command method (``put``, ``get``, ``incr`` ...) sends one request and
    returns its reply, raising the server's error as the matching
    :mod:`bolt.errors` class. The client connects on first use if
    :meth:`connect` was not called.

    Thread safety: one client may be shared by any number of threads. A lock
    is held around each round trip (one command, or one pipeline's
    ``execute``), so requests of different threads never interleave on the
    connection; they are served one round trip at a time. For parallelism,
    give each thread its own client.

    Raises (from any command):
        BoltConnectionError: the node is unreachable or the connection broke
            and could not be restored (``ClusterError`` when every node of a
            cluster client is unreachable).
        WriteOutcomeUnknownError: the connection broke after a non-idempotent
            write was sent; it was not re-sent.
        BoltTimeoutError: no reply within ``timeout``; the connection is
            dropped (its byte stream is out of sync) and the next call
            reconnects.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = limits.port_default,
        username: str | None = None,
        password: str | None = None,
        database: str | None = None,
        timeout: float | None = 30.0,
        auto_reconnect: bool = True,
        *,
        tls: bool = False,
        tls_ca_file: str | None = None,
        tls_verify: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        client_name: str | None = None,
        nodes: Sequence[str] | None = None,
    ) -> None:
        self._settings = Settings.build(
            host=host,
            port=port,
            nodes=nodes,
            username=username,
            password=password,
            database=database,
            timeout=timeout,
            auto_reconnect=auto_reconnect,
            tls=tls,
            tls_ca_file=tls_ca_file,
            tls_verify=tls_verify,
            ssl_context=ssl_context,
            client_name=client_name,
        )
        self.database = database
        self._lock = threading.RLock()
        self._connection: SyncConnection | None = None
        self._broken = False  # the connection broke and auto_reconnect is off
        self._failover = False  # the next connection starts with the next node
        self._pushes: deque[Push] = deque()
        self._connect_hooks: list[Callable[[BoltClient], None]] = []
        self.dropped_pushes = 0
        """Pushes discarded because ``limits.client_push_queue_max`` were unread."""

    @classmethod
    def cluster(
        cls,
        nodes: Sequence[str],
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Self:
        """A client over several nodes: it uses the first reachable one and,
        when the connection is lost, fails over to the next.

        Args:
            nodes: ``"host:port"`` strings (``"[::1]:8518"`` for IPv6).
            username, password, kwargs: as for the constructor.

        Raises:
            BadRequestError: ``nodes`` is empty or holds a bad address.
        """
        client = cls(username=username, password=password, nodes=nodes, **kwargs)
        client.add_connect_hook(ClusterMembership(client._settings.ring))
        return client

    # --- connection ---------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether a connection is open right now."""
        return self._connection is not None

    @property
    def address(self) -> Address:
        """The node in use (or to be tried first)."""
        return self._settings.ring.current

    @property
    def server_info(self) -> dict[str, Any]:
        """The server's ``HELLO`` reply (``{}`` when not connected)."""
        connection = self._connection
        return connection.server_info if connection is not None else {}

    def connect(self) -> Self:
        """Open the connection now (no-op when connected) and greet the server.

        Returns:
            The client itself.

        Raises:
            BoltConnectionError, ClusterError: no node is reachable.
            AuthenticationError: the credentials were refused.
        """
        with self._lock:
            self._broken = False
            self._ensure_connection()
        return self

    def close(self) -> None:
        """Close the connection. A later command connects again."""
        with self._lock:
            self._drop()
            self._broken = False

    def __enter__(self) -> Self:
        return self.connect()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def add_connect_hook(self, hook: Callable[[BoltClient], None]) -> None:
        """Call ``hook(client)`` after every (re)connection, e.g. to subscribe again.

        The hook runs with the client's lock held and may issue commands.
        """
        self._connect_hooks.append(hook)

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<{type(self).__name__} {format_address(*self.address)} {state}>"

    # --- commands -----------------------------------------------------------------

    def _command(self, command: str, args: list[Any], database: str | None) -> Any:
        (reply,) = self._round_trip([Call.of(command, args, database)])
        return result_of(reply)

    def execute_command(
        self,
        command: str,
        *args: Any,
        database: str | None = None,
        retry_safe: bool | None = None,
    ) -> Any:
        """Send any command (e.g. one newer than this client) and return its reply.

        The arguments follow the command as in redis-py:
        ``execute_command("SADD", "tags", "a", "b")``.

        Args:
            command: the command name.
            args: its arguments (each msgpack-encodable).
            database: the request's database (default: the client's).
            retry_safe: whether it may be re-sent after a connection loss
                (default: looked up in ``RETRY_SAFE_COMMANDS``; unknown
                commands are not re-sent).

        Raises:
            UnknownCommandError: the server has no such command (the
                connection stays usable).
            TypeError: ``command`` or ``database`` is not a ``str``.
        """
        db = self.database if database is None else database
        (reply,) = self._round_trip([Call.of(command, list(args), db, retry_safe)])
        return result_of(reply)

    def auth(self, username: str, password: str) -> Any:
        """Authenticate as another user; later reconnections use these credentials.

        Returns:
            ``{"user": ..., "role": ...}``.

        Raises:
            AuthenticationError: wrong user name or password.
        """
        result = super().auth(username, password)
        self._settings.username, self._settings.password = username, password
        return result

    def pipeline(self) -> Pipeline:
        """A batch of commands sent in one write by :meth:`Pipeline.execute`."""
        return Pipeline(self)

    # --- pushes -------------------------------------------------------------------

    def next_push(self, timeout: float | None = None) -> Push | None:
        """The next server-initiated message.

        Pushes that arrive while replies are read are queued (at most
        ``limits.client_push_queue_max``; older ones are then dropped and
        counted in :attr:`dropped_pushes`). Other threads may use the client
        while this one waits.

        Args:
            timeout: seconds to wait for one (``None``: wait forever; 0: poll).

        Returns:
            The push, or ``None`` when none arrived in time.

        Raises:
            BoltConnectionError: the connection broke and cannot be restored.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                if self._pushes:
                    return self._pushes.popleft()
                connection = self._ensure_connection()
                try:
                    connection.read_idle()
                except ConnectionLost as lost:
                    self._after_loss(lost, [], resent=False)
                    if deadline is not None and time.monotonic() >= deadline:
                        return None
                    continue
                except ProtocolError:
                    self._drop()
                    raise
                if self._pushes:
                    return self._pushes.popleft()
                sock = connection.sock
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            wait = _PUSH_WAIT_SLICE_SECONDS
            if remaining is not None:
                wait = min(remaining, wait)
            try:
                readable(sock, wait)
            except (OSError, ValueError):
                pass  # another thread closed the socket: look again under the lock

    def subscribe_keys(
        self, pattern: str, *, database: str | None = None, timeout: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """Watch keys matching the glob ``pattern``; iterate over their changes.

        The ``WATCH`` is sent now; the iterator yields one dict per committed
        record touching matching keys, in log order (see
        :mod:`bolt.client._watch`), and ends when ``timeout`` seconds pass
        without one (``None``: never). Other pushes are skipped.

        Raises:
            FeedDroppedError: (while iterating) the server dropped the watch.
        """
        db = self.database if database is None else database
        self._command("WATCH", watch_args(pattern, db), None)
        return self._key_changes(timeout)

    def _key_changes(self, timeout: float | None) -> Iterator[dict[str, Any]]:
        while (push := self.next_push(timeout)) is not None:
            change = key_change(push)
            if change is not None:
                yield change

    def _on_push(self, push: Push) -> None:
        if len(self._pushes) >= limits.client_push_queue_max:
            self._pushes.popleft()
            self.dropped_pushes += 1
            if self.dropped_pushes == 1:
                log.warning("push queue full: dropping the oldest unread pushes")
        self._pushes.append(push)

    # --- the round trip and the retry rule --------------------------------------

    def _round_trip(self, calls: Sequence[Call]) -> list[Reply]:
        """Send ``calls`` and return one reply each, applying the retry rule."""
        with self._lock:
            replies: list[Reply] = []
            pending = list(calls)
            resent = False
            for _attempt in range(_ROUND_TRIP_ATTEMPTS_MAX):
                connection = self._ensure_connection()
                timeout = self._settings.timeout
                deadline = None if timeout is None else time.monotonic() + timeout
                try:
                    replies += connection.round_trip(pending, deadline)
                    return replies
                except ConnectionLost as lost:
                    replies += lost.replies
                    pending = pending[len(lost.replies) :]
                    self._after_loss(lost, pending, resent)
                    resent = resent or lost.sent
                except (BadRequestError, TooLargeError):
                    raise  # a request could not be encoded: nothing was sent
                except BaseException:
                    # A timeout, bad bytes, or an interrupt mid-read leave replies
                    # unread on the wire: this connection can never be trusted again.
                    self._drop()
                    raise
            raise BoltConnectionError("the server keeps closing new connections")

    def _after_loss(self, lost: ConnectionLost, pending: list[Call], resent: bool) -> None:
        """Drop the broken connection; raise unless ``pending`` may be re-sent."""
        self._drop()
        if self._settings.auto_reconnect:
            self._failover = True
        else:
            self._broken = True
        check_resend(lost, pending, self._settings.auto_reconnect, resent)

    def _ensure_connection(self) -> SyncConnection:
        connection = self._connection
        if connection is not None:
            return connection
        if self._broken:
            raise BoltConnectionError("the connection was lost; call connect() to reconnect")
        failover, self._failover = self._failover, False
        ring = self._settings.ring
        failures: list[tuple[Address, BaseException]] = []
        for index, address in ring.candidates(failover):
            try:
                connection = SyncConnection.open(address, self._settings, self._on_push)
            except (OSError, BoltError) as exc:
                if not can_try_next_node(exc):
                    raise
                failures.append((address, exc))
                continue
            ring.use(index)
            self._connection = connection
            try:
                for hook in self._connect_hooks:
                    hook(self)
            except BaseException:
                self._drop()
                raise
            return connection
        error, last = unreachable(failures), failures[-1][1]
        raise error from (None if error is last else last)

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
