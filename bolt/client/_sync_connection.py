"""One blocking socket to one Bolt node, driven through the sans-IO codec.

A :class:`SyncConnection` knows nothing about retries or other nodes: it
sends a batch of requests in one ``sendall``, reads until every reply has
arrived (queuing pushes on the way), and reports a broken connection as
:class:`ConnectionLost`, saying whether any request may have reached the
server. The client above it decides what to do about that.

It is not thread-safe; the client holds its lock around every use.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from typing import Any

from bolt import limits
from bolt.client import _login as login
from bolt.client._cluster import Address
from bolt.client._options import Call, ConnectionLost, Settings, result_of
from bolt.errors import BoltConnectionError, BoltError, BoltTimeoutError, ProtocolError
from bolt.wire import (
    CONNECTION_ERROR_ID,
    Codec,
    ErrorReply,
    Push,
    Reply,
    Request,
    encode_requests,
)

RECEIVE_BYTES = 256 * limits.KIB  # one recv_into buffer per connection, reused


def readable(sock: socket.socket, timeout: float, poller: Any = None) -> bool:
    """Whether ``sock`` has bytes (or EOF) to read within ``timeout`` seconds.

    ``poller`` is a ``select.poll`` object with ``sock`` registered, reused by
    the connection's owner; without one, a fresh one is made (poll objects
    must not be shared between threads).
    """
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    if hasattr(select, "poll"):
        if poller is None:
            poller = select.poll()
            poller.register(sock, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    return bool(select.select([sock], [], [], timeout)[0])  # pragma: no cover - Windows


class SyncConnection:
    """A connected, greeted socket (build it with :meth:`open`)."""

    def __init__(
        self,
        sock: socket.socket,
        address: Address,
        timeout: float | None,
        on_push: Callable[[Push], None],
    ) -> None:
        self.sock = sock
        self.address = address
        self.server_info: dict[str, Any] = {}
        self._timeout = timeout
        self._on_push = on_push
        self._codec = Codec(limits.reply_bytes_max)
        self._next_id = 1
        self._receive_buffer = bytearray(RECEIVE_BYTES)
        self._receive_view = memoryview(self._receive_buffer)
        self._poller: Any = None
        if hasattr(select, "poll"):
            self._poller = select.poll()
            self._poller.register(sock, select.POLLIN)
        self._timeout_changed = False

    @classmethod
    def open(
        cls, address: Address, settings: Settings, on_push: Callable[[Push], None]
    ) -> SyncConnection:
        """Connect to ``address``, set TCP_NODELAY, wrap in TLS if configured, and
        greet with ``HELLO``.

        Raises:
            OSError: the TCP connection or TLS handshake failed.
            AuthenticationError: the server refused the credentials.
            BoltError: the server refused the connection (e.g. too many).
            BoltConnectionError: the connection broke during the handshake.
        """
        sock = socket.create_connection(address, timeout=settings.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if settings.ssl_context is not None:
                sock = settings.ssl_context.wrap_socket(sock, server_hostname=address[0])
            connection = cls(sock, address, settings.timeout, on_push)
            hello_args, nonce = login.hello(settings)
            info = connection._handshake_call("HELLO", hello_args)
            if not isinstance(info, dict):
                raise ProtocolError(f"HELLO reply is not a dict: {info!r}")
            if nonce is not None and "challenge" in info:
                challenge = login.Challenge(info.pop("challenge"))
                assert settings.password is not None
                key = login.known_key(challenge, settings.password) or login.derive(
                    challenge, settings.password
                )
                reply = connection._handshake_call(
                    "LOGIN", login.login_args(settings, nonce, challenge, key)
                )
                info.update(login.finish(settings, nonce, challenge, key, reply))
            connection.server_info = info
            return connection
        except BaseException:
            sock.close()
            raise

    def close(self) -> None:
        """Close the socket (idempotent, never raises)."""
        try:
            self.sock.close()
        except OSError:
            pass

    def _handshake_call(self, command: str, args: list[Any]) -> Any:
        """One request of the handshake; its result (errors raised as the server's)."""
        try:
            (reply,) = self.round_trip([Call(command, args, None, True)])
        except ConnectionLost as lost:
            if isinstance(lost.cause, BoltError):
                raise lost.cause from None  # the server's reason (e.g. TOO_MANY_CONNECTIONS)
            message = f"connection lost during the handshake: {lost}"
            raise BoltConnectionError(message) from lost.cause
        return result_of(reply)

    def round_trip(self, calls: Sequence[Call], deadline: float | None = None) -> list[Reply]:
        """Send ``calls`` in one write and read their replies, in order.

        Args:
            calls: the requests.
            deadline: ``time.monotonic()`` value after which to give up
                (``None``: use the connection's timeout for each read).

        Raises:
            ConnectionLost: the connection broke (see its ``sent``).
            BoltTimeoutError: no complete reply by the deadline.
            ProtocolError: the server sent something invalid or out of order.
            BadRequestError, TooLargeError: a request cannot be encoded
                (nothing was sent).
        """
        first = self._next_id
        data = encode_requests(first, calls)  # one buffer for the whole batch
        self.read_idle()  # a server that closed while we were idle: nothing sent yet
        self._next_id = first + len(calls)
        try:
            self.sock.sendall(data)
        except TimeoutError as exc:
            raise BoltTimeoutError(f"sending to {self._name()} timed out") from exc
        except OSError as exc:
            raise ConnectionLost(exc, sent=True, replies=[]) from exc
        try:
            return self._read_replies(first, len(calls), deadline)
        finally:
            if self._timeout_changed:
                self._timeout_changed = False
                self.sock.settimeout(self._timeout)

    def read_idle(self) -> None:
        """Take in whatever the server sent while no request was pending.

        Pushes are queued; a connection-level error or EOF means the server
        closed this connection before the next request was sent.

        Raises:
            ConnectionLost: with ``sent=False``.
            ProtocolError: the server sent a reply nobody asked for.
        """
        while readable(self.sock, 0, self._poller):
            self.sock.setblocking(False)
            try:
                count = self.sock.recv_into(self._receive_buffer)
            except (BlockingIOError, ssl.SSLWantReadError):
                return  # a TLS record without application data
            except OSError as exc:
                raise ConnectionLost(exc, sent=False, replies=[]) from exc
            finally:
                self.sock.settimeout(self._timeout)
            if count == 0:
                raise ConnectionLost(self._closed_error(), sent=False, replies=[])
            self._codec.receive_data(self._receive_view[:count])
            for message in self._codec.next_messages():
                if type(message) is Push:
                    self._on_push(message)
                elif type(message) is ErrorReply and message.id == CONNECTION_ERROR_ID:
                    raise ConnectionLost(message.to_exception(), sent=False, replies=[])
                else:
                    raise ProtocolError(f"unexpected message while idle: {message!r}")

    def _read_replies(self, first: int, count: int, deadline: float | None) -> list[Reply]:
        replies: list[Reply] = []
        expected = first
        end = first + count
        reads = 0
        while True:
            for message in self._codec.next_messages():
                if isinstance(message, Push):
                    self._on_push(message)
                elif isinstance(message, Request):
                    raise ProtocolError("the server sent a request")
                elif message.id == expected and expected < end:
                    replies.append(message)
                    expected += 1
                elif isinstance(message, ErrorReply) and message.id == CONNECTION_ERROR_ID:
                    raise ConnectionLost(message.to_exception(), sent=True, replies=replies)
                else:
                    raise ProtocolError(f"got {message!r} while waiting for reply {expected}")
            if expected == end:
                return replies
            self._receive(deadline, reads, replies)
            reads += 1

    def _receive(self, deadline: float | None, reads: int, replies: list[Reply]) -> None:
        # The socket's own timeout serves the first read; later reads of the same
        # round trip get what is left until the deadline, so a trickle of bytes
        # cannot stretch the wait.
        if deadline is not None and reads:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BoltTimeoutError(f"no reply from {self._name()} within the timeout")
            self.sock.settimeout(remaining)
            self._timeout_changed = True
        try:
            count = self.sock.recv_into(self._receive_buffer)
        except TimeoutError as exc:
            raise BoltTimeoutError(f"no reply from {self._name()} within the timeout") from exc
        except OSError as exc:
            raise ConnectionLost(exc, sent=True, replies=replies) from exc
        if count == 0:
            raise ConnectionLost(self._closed_error(), sent=True, replies=replies)
        self._codec.receive_data(self._receive_view[:count])

    def _closed_error(self) -> BoltConnectionError:
        return BoltConnectionError(f"{self._name()} closed the connection")

    def _name(self) -> str:
        return f"{self.address[0]}:{self.address[1]}"
