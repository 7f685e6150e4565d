"""asyncio glue between the dashboard and a Bolt server (textual runs on asyncio).

Theory of operation
-------------------
The wire protocol is the sans-IO :class:`bolt.wire.Codec`; this module is
the thin asyncio shell around it, the counterpart of the sync and trio
clients' glue:

* :class:`AsyncioConnection` opens a TCP (optionally TLS) stream with
  :func:`asyncio.open_connection`, greets with ``HELLO [1, {user, password,
  client_name}]`` and then answers :meth:`~AsyncioConnection.request` calls.
  One reader task feeds every received byte to the codec and resolves the
  waiting future of each reply by its request id; an error reply becomes
  its typed exception through :meth:`bolt.wire.ErrorReply.to_exception`.
  When the stream ends (or the server's last word arrives, an error with id
  0) every waiting request fails with :class:`~bolt.errors.BoltConnectionError`.
* :class:`NodeLink` keeps one connection to one node alive for the
  dashboard: it connects lazily, drops the connection on any network error
  or timeout, and reconnects with exponential back-off (first retry at once,
  then :data:`RECONNECT_DELAY_SECONDS_MIN` doubling to
  :data:`RECONNECT_DELAY_SECONDS_MAX`). Between attempts a request fails
  fast with :class:`NotConnectedError` instead of waiting, so the UI never
  blocks. :class:`~bolt.errors.AuthenticationError` is not retried: wrong
  credentials stay wrong.

Nothing here blocks the event loop, and nothing is re-sent: the dashboard
only reads (``STATS``, ``CLUSTER``), so a lost request is simply asked again
on the next refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bolt import limits
from bolt.errors import (
    AuthenticationError,
    BoltConnectionError,
    BoltError,
    BoltTimeoutError,
    ProtocolError,
)
from bolt.wire import (
    CONNECTION_ERROR_ID,
    PROTOCOL_VERSION,
    Codec,
    ErrorReply,
    Push,
    Response,
    encode_request,
)

CLIENT_NAME = "boltctl-top"
"""The ``client_name`` the dashboard announces (seen in the clients table)."""
RECONNECT_DELAY_SECONDS_MIN = 0.25
"""Back-off before the second reconnect attempt (the first is immediate)."""
RECONNECT_DELAY_SECONDS_MAX = 5.0
"""Longest back-off between reconnect attempts."""
READ_CHUNK_BYTES = 256 * limits.KIB
"""Most bytes taken from the stream per read."""


class NotConnectedError(BoltConnectionError):
    """The node is unreachable and the next reconnect attempt is not due yet."""


@dataclass(frozen=True)
class ConnectSettings:
    """How to reach and greet every node (the same for all tabs).

    Attributes:
        user: user name for ``HELLO``, or None.
        password: password for ``HELLO``, or None.
        ssl_context: TLS context, or None for plain TCP.
        timeout: seconds for connect + handshake and for each reply (None: no limit).
        client_name: the name shown in the server's client list.
    """

    user: str | None = None
    password: str | None = None
    ssl_context: ssl.SSLContext | None = None
    timeout: float | None = 10.0
    client_name: str = CLIENT_NAME

    def hello_args(self) -> list[Any]:
        """``[PROTOCOL_VERSION, {user, password, client_name}]``."""
        options = {"client_name": self.client_name}
        if self.user is not None:
            options["user"] = self.user
        if self.password is not None:
            options["password"] = self.password
        return [PROTOCOL_VERSION, options]


class AsyncioConnection:
    """One greeted connection to a Bolt server, driven by asyncio.

    Build it with :meth:`open`; use :meth:`request`; :meth:`close` it.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._codec = Codec(max_frame_bytes=limits.reply_bytes_max)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 1
        self._closed_reason: str | None = None
        self._task = asyncio.get_running_loop().create_task(self._read_loop())
        self.server_info: dict[str, Any] = {}

    @classmethod
    async def open(cls, host: str, port: int, settings: ConnectSettings) -> AsyncioConnection:
        """Connect to ``host:port`` and greet with ``HELLO``.

        Raises:
            AuthenticationError: the server refused the credentials.
            BoltConnectionError: unreachable, TLS failure, or closed during the handshake.
            BoltTimeoutError: no answer within ``settings.timeout``.
            BoltError: the server refused the connection (e.g. too many connections).
        """
        try:
            async with asyncio.timeout(settings.timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    ssl=settings.ssl_context,
                    server_hostname=host if settings.ssl_context is not None else None,
                )
        except TimeoutError:
            raise BoltTimeoutError(f"no connection to {host}:{port} within the timeout") from None
        except OSError as exc:  # refused, unreachable, TLS handshake (ssl.SSLError)
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise BoltConnectionError(f"cannot connect to {host}:{port}: {reason}") from exc
        connection = cls(reader, writer)
        try:
            hello = settings.hello_args()
            info = await connection.request("HELLO", hello, timeout=settings.timeout)
            if not isinstance(info, dict):
                raise ProtocolError(f"HELLO reply is not a map: {info!r}")
            connection.server_info = info
        except BaseException:
            await connection.close()
            raise
        return connection

    @property
    def closed(self) -> bool:
        """The connection is closed (by us, the server or the network)."""
        return self._closed_reason is not None

    async def request(
        self, command: str, args: list[Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Send one request and wait for its result.

        Raises:
            BoltError: the server answered with an error (its typed class).
            BoltConnectionError: the connection closed before the reply.
            BoltTimeoutError: no reply within ``timeout`` seconds.
        """
        if self._closed_reason is not None:
            raise BoltConnectionError(self._closed_reason)
        request_id = self._next_id
        self._next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        frame = encode_request(request_id, command, list(args or []), None)
        self._waiting[request_id] = future
        try:
            async with asyncio.timeout(timeout):
                await self._send(frame)
                return await future
        except TimeoutError as exc:
            if isinstance(exc, BoltError):  # BoltTimeoutError is a TimeoutError too
                raise
            raise BoltTimeoutError(f"no reply to {command} within {timeout:g} s") from None
        finally:
            self._waiting.pop(request_id, None)

    async def _send(self, frame: bytes) -> None:
        try:
            self._writer.write(frame)
            await self._writer.drain()
        except OSError as exc:
            if isinstance(exc, BoltError):
                raise
            reason = f"connection lost: {exc.strerror or exc or type(exc).__name__}"
            self._shut(reason)
            raise BoltConnectionError(reason) from exc

    async def close(self) -> None:
        """Close the stream and fail every waiting request (idempotent)."""
        self._shut("connection closed")
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await self._writer.wait_closed()

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._reader.read(READ_CHUNK_BYTES)
                if not data:
                    self._shut("the server closed the connection")
                    return
                self._codec.receive_data(data)
                while (message := self._codec.next_message()) is not None:
                    self._dispatch(message)
        except ProtocolError as exc:
            self._shut(f"protocol error: {exc}")
        except (OSError, ssl.SSLError) as exc:
            self._shut(f"connection lost: {exc.strerror or exc}")

    def _dispatch(self, message: Any) -> None:
        if isinstance(message, Push):
            return  # the dashboard subscribes to nothing
        if isinstance(message, ErrorReply) and message.id == CONNECTION_ERROR_ID:
            self._shut(f"the server closed the connection: {message.name}: {message.message}")
            return
        if not isinstance(message, Response | ErrorReply):
            raise ProtocolError(f"unexpected message from the server: {type(message).__name__}")
        future = self._waiting.get(message.id)
        if future is None or future.done():
            return  # a reply to a request that timed out
        if isinstance(message, ErrorReply):
            future.set_exception(message.to_exception())
        else:
            future.set_result(message.result)

    def _shut(self, reason: str) -> None:
        if self._closed_reason is None:
            self._closed_reason = reason
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(BoltConnectionError(self._closed_reason))
        self._writer.close()


class NodeLink:
    """A self-healing connection to one node, for periodic read-only requests.

    Args:
        host: the node's address.
        port: the node's client port.
        settings: credentials, TLS and timeout.
        clock: monotonic seconds (injected so back-off is testable).

    Attributes:
        last_error: why the last attempt or request failed (None once it works).
        attempts: failed connection attempts since the last success.
        connected_at: ``clock()`` of the current connection, or None.
    """

    def __init__(
        self,
        host: str,
        port: int,
        settings: ConnectSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.port = port
        self.settings = settings
        self._clock = clock
        self._connection: AsyncioConnection | None = None
        self._next_attempt_at = 0.0
        self.last_error: BoltError | None = None
        self.attempts = 0
        self.connected_at: float | None = None
        self.server_info: dict[str, Any] = {}

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def connected(self) -> bool:
        """A connection is open now."""
        return self._connection is not None and not self._connection.closed

    def retry_in(self) -> float:
        """Seconds until the next reconnect attempt may start (0: now)."""
        return max(self._next_attempt_at - self._clock(), 0.0)

    async def request(self, command: str, args: list[Any] | None = None) -> Any:
        """Send ``command`` on the live connection, connecting first if needed.

        Raises:
            AuthenticationError: the credentials were refused (not retried).
            NotConnectedError: the node is down and the next attempt is not due.
            BoltConnectionError, BoltTimeoutError: this attempt failed; the
                next call reconnects (after the back-off).
            BoltError: the server refused this request (the connection stays).
        """
        connection = await self._ensure_connection()
        try:
            return await connection.request(command, args, timeout=self.settings.timeout)
        except (BoltConnectionError, BoltTimeoutError, ProtocolError) as exc:
            await self._drop(exc)
            self._next_attempt_at = self._clock()  # a fresh loss: retry at once
            raise

    async def close(self) -> None:
        """Close the connection, if any."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            self.connected_at = None
            await connection.close()

    async def _ensure_connection(self) -> AsyncioConnection:
        if self._connection is not None and not self._connection.closed:
            return self._connection
        if self._connection is not None:
            await self._drop(BoltConnectionError("the connection closed"))
        wait = self.retry_in()
        if wait > 0:
            raise NotConnectedError(
                f"{self.address} unreachable; next attempt in {wait:.1f} s"
                + (f" ({self.last_error})" if self.last_error else "")
            )
        try:
            connection = await AsyncioConnection.open(self.host, self.port, self.settings)
        except AuthenticationError as exc:
            self.last_error = exc
            raise
        except BoltError as exc:
            self.attempts += 1
            self.last_error = exc
            delay = RECONNECT_DELAY_SECONDS_MIN * 2 ** (self.attempts - 1)
            self._next_attempt_at = self._clock() + min(delay, RECONNECT_DELAY_SECONDS_MAX)
            raise
        self._connection = connection
        self.server_info = connection.server_info
        self.attempts = 0
        self.last_error = None
        self.connected_at = self._clock()
        return connection

    async def _drop(self, error: BoltError) -> None:
        self.last_error = error
        await self.close()
