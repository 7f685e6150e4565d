"""How the dashboard reaches a node: the SDK's blocking client, off the event loop.

Theory of operation
-------------------
textual runs on asyncio and the SDK's clients are blocking
(:class:`bolt.client.BoltClient`) or trio (:class:`bolt.client.AsyncBoltClient`),
so the dashboard drives a :class:`~bolt.client.BoltClient` from a worker
thread: each request runs in a short-lived daemon thread and its result (or
typed error) is handed back to the loop, which never blocks. The protocol,
the ``HELLO`` handshake, TLS and the typed errors are therefore the SDK's,
written once; this module only adds what a dashboard needs on top:

* :class:`NodeLink` keeps one connection to one node alive: it connects
  lazily, drops the connection on any network error or timeout, and
  reconnects with exponential back-off (first retry at once, then
  :data:`RECONNECT_DELAY_SECONDS_MIN` doubling to
  :data:`RECONNECT_DELAY_SECONDS_MAX`). Between attempts a request fails
  fast with :class:`NotConnectedError` instead of waiting, so the UI never
  stalls. :class:`~bolt.errors.AuthenticationError` is not retried: wrong
  credentials stay wrong. The client's own ``auto_reconnect`` is off: the
  link decides when to reconnect.
* Requests of one link run one at a time (the poller awaits each), so one
  client per node is enough. Closing the link while a request is in flight
  does not wait for it: the worker thread closes the client when the call
  returns (at most ``timeout`` later), and being a daemon thread it never
  holds up the process's exit.

Nothing is re-sent: the dashboard only reads (``STATS``, ``CLUSTER``, task
statistics), so a lost request is simply asked again on the next refresh.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bolt.client import BoltClient
from bolt.errors import (
    AuthenticationError,
    BoltConnectionError,
    BoltError,
    BoltTimeoutError,
    ProtocolError,
)
from bolt.wire import format_address

CLIENT_NAME = "boltctl-top"
"""The ``client_name`` the dashboard announces (seen in the clients table)."""
RECONNECT_DELAY_SECONDS_MIN = 0.25
"""Back-off before the second reconnect attempt (the first is immediate)."""
RECONNECT_DELAY_SECONDS_MAX = 5.0
"""Longest back-off between reconnect attempts."""

T = TypeVar("T")


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

    def client(self, host: str, port: int) -> BoltClient:
        """A new (not yet connected) SDK client for ``host:port`` with these settings."""
        return BoltClient(
            host=host,
            port=port,
            username=self.user,
            password=self.password,
            timeout=self.timeout,
            auto_reconnect=False,
            ssl_context=self.ssl_context,
            client_name=self.client_name,
        )


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` in a daemon thread and await its result.

    Unlike :func:`asyncio.to_thread`, the thread is not one of the loop's
    executor's, so a call stuck on a dead node never delays the loop's (or
    the process's) shutdown; if the awaiting task is cancelled, the result
    is dropped.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def work() -> None:
        try:
            result = function(*args)
        except BaseException as exc:  # handed to the awaiting task, never lost
            error = exc
            _post(loop, lambda: settle(lambda: future.set_exception(error)))
        else:
            _post(loop, lambda: settle(lambda: future.set_result(result)))

    threading.Thread(target=work, name="boltctl-top request", daemon=True).start()
    return await future


def _post(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    try:
        loop.call_soon_threadsafe(callback)
    except RuntimeError:
        pass  # the loop has closed (the app quit): nobody waits for this result


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
        server_info: the node's ``HELLO`` reply on the current connection.
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
        self._client: BoltClient | None = None
        self._job: _Job | None = None  # the call a worker thread is making
        self._next_attempt_at = 0.0
        self.last_error: BoltError | None = None
        self.attempts = 0
        self.connected_at: float | None = None
        self.server_info: dict[str, Any] = {}

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 hosts in brackets)."""
        return format_address(self.host, self.port)

    @property
    def connected(self) -> bool:
        """A connection is open now."""
        return self._client is not None and self._client.connected

    def retry_in(self) -> float:
        """Seconds until the next reconnect attempt may start (0: now)."""
        return max(self._next_attempt_at - self._clock(), 0.0)

    async def request(self, command: str, *args: Any) -> Any:
        """Send ``command`` on the live connection, connecting first if needed.

        Raises:
            AuthenticationError: the credentials were refused (not retried).
            NotConnectedError: the node is down and the next attempt is not due.
            BoltConnectionError, BoltTimeoutError: this attempt failed; the
                next call reconnects (after the back-off).
            BoltError: the server refused this request (the connection stays).
        """
        client = await self._ensure_client()
        try:
            return await self._call(client, client.execute_command, command, *args)
        except (BoltConnectionError, BoltTimeoutError, ProtocolError) as exc:
            self._drop(exc)
            self._next_attempt_at = self._clock()  # a fresh loss: retry at once
            raise

    async def request_many(self, calls: Sequence[Sequence[Any]]) -> list[Any]:
        """Send several commands in one round trip (an SDK pipeline).

        Args:
            calls: ``(command, *args)`` for each request.

        Returns:
            One result per call, in order; a call the server refused is its
            typed :class:`~bolt.errors.BoltError` instance in the list (the
            others still count).

        Raises:
            As :meth:`request` for the connection itself.
        """
        client = await self._ensure_client()

        def send() -> list[Any]:
            with client.pipeline() as pipe:
                for command, *args in calls:
                    pipe.execute_command(command, *args)
                return pipe.execute(raise_on_error=False)

        try:
            return await self._call(client, send)
        except (BoltConnectionError, BoltTimeoutError, ProtocolError) as exc:
            self._drop(exc)
            self._next_attempt_at = self._clock()  # a fresh loss: retry at once
            raise

    async def close(self) -> None:
        """Close the connection, if any (does not wait for a request in flight)."""
        client, self._client = self._client, None
        self.connected_at = None
        if client is not None:
            self._retire(client)

    async def _ensure_client(self) -> BoltClient:
        if self._client is not None and self._client.connected:
            return self._client
        if self._client is not None:
            self._drop(BoltConnectionError("the connection closed"))
        wait = self.retry_in()
        if wait > 0:
            raise NotConnectedError(
                f"{self.address} unreachable; next attempt in {wait:.1f} s"
                + (f" ({self.last_error})" if self.last_error else "")
            )
        client = self.settings.client(self.host, self.port)
        try:
            await self._call(client, client.connect)
        except AuthenticationError as exc:
            self.last_error = exc
            raise
        except BoltError as exc:
            self.attempts += 1
            self.last_error = exc
            delay = RECONNECT_DELAY_SECONDS_MIN * 2 ** (self.attempts - 1)
            self._next_attempt_at = self._clock() + min(delay, RECONNECT_DELAY_SECONDS_MAX)
            raise
        self._client = client
        self.server_info = client.server_info
        self.attempts = 0
        self.last_error = None
        self.connected_at = self._clock()
        return client

    async def _call(self, client: BoltClient, function: Callable[..., T], *args: Any) -> T:
        job = _Job(client)
        self._job = job
        try:
            return await in_thread(job.run, function, *args)
        finally:
            if self._job is job:
                self._job = None

    def _drop(self, error: BoltError) -> None:
        self.last_error = error
        client, self._client = self._client, None
        self.connected_at = None
        if client is not None:
            self._retire(client)

    def _retire(self, client: BoltClient) -> None:
        job = self._job
        if job is None or job.client is not client or not job.retire():
            client.close()  # idle: its lock is free, so this does not block


class _Job:
    """One call of a client in a worker thread, and whether to close the client after it."""

    def __init__(self, client: BoltClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._done = False
        self._retired = False

    def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` (in the worker thread); close the client after it
        if the link gave it up meanwhile."""
        try:
            return function(*args)
        finally:
            with self._lock:
                self._done = True
                close = self._retired
            if close:
                self.client.close()

    def retire(self) -> bool:
        """Ask the worker to close the client when its call returns.

        Returns:
            False if the call has already returned (the caller closes it then).
        """
        with self._lock:
            if self._done:
                return False
            self._retired = True
            return True
