"""The trio Bolt client: the sync client's methods as coroutines.

Theory of operation: ``async with AsyncBoltClient(...) as client`` opens a
nursery owned by the client and connects; each connection runs one reader
task in it (see :mod:`bolt.client._async_connection`). Any number of tasks
may call the client at once: their requests are pipelined on the one
connection and each reply is routed back by request id. Pushes go to a
bounded channel read with ``async for push in client.pushes()``; when it is
full the reader waits (back-pressure), so a program that subscribes must
read its pushes.

The retry rule is the sync client's (:func:`bolt.client._options.check_resend`).
One difference: a timed-out call does not drop the connection, because
replies are matched by id and a late one is simply discarded.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Self

import trio

from bolt import limits
from bolt.client._async_connection import AsyncConnection
from bolt.client._cluster import Address, ClusterMembership, can_try_next_node, unreachable
from bolt.client._commands import CommandsMixin
from bolt.client._options import Call, ConnectionLost, Settings, check_resend, result_of
from bolt.client._pipeline import AsyncPipeline
from bolt.client._watch import key_change, watch_args
from bolt.errors import BoltConnectionError, BoltError, BoltTimeoutError
from bolt.wire import Push, Reply

_ROUND_TRIP_ATTEMPTS_MAX = 3

ConnectHook = Callable[["AsyncBoltClient"], Awaitable[None]]


class AsyncBoltClient(CommandsMixin[Awaitable[Any]]):
    """A trio client; takes the same arguments as :class:`~bolt.client.BoltClient`.

    Use it as ``async with AsyncBoltClient(...) as client:`` (once per
    client); every command method is then a coroutine returning the reply
    (``await client.get("k")``). Tasks may share one client freely: their
    requests are pipelined on one connection. Errors are those of the sync
    client, except that a timeout keeps the connection (replies are matched
    by id, so a late one is dropped rather than mistaken for another).

    Args:
        push_buffer_size: pushes held unread before the reader waits
            (default ``limits.client_push_queue_max``).
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
        push_buffer_size: int = limits.client_push_queue_max,
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
        self._nursery: trio.Nursery | None = None
        self._nursery_manager: Any = None
        self._connection: AsyncConnection | None = None
        self._connect_lock = trio.Lock()
        self._broken = False
        self._opened = False
        self._connect_hooks: list[ConnectHook] = []
        self._push_send, self._push_receive = trio.open_memory_channel[Push](push_buffer_size)

    @classmethod
    def cluster(
        cls,
        nodes: Sequence[str],
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Self:
        """A client over several nodes that fails over on connection loss; it
        learns the other nodes and refuses a foreign one like ``BoltClient.cluster``."""
        client = cls(username=username, password=password, nodes=nodes, **kwargs)
        client.add_connect_hook(ClusterMembership(client._settings.ring).check_async)
        return client

    # --- lifetime -----------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._opened:
            raise RuntimeError("an AsyncBoltClient can be opened once; make a new one")
        self._opened = True
        manager = trio.open_nursery()
        self._nursery = await manager.__aenter__()
        self._nursery_manager = manager
        try:
            await self.connect()
        except BaseException:
            await self._shut_down()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # The body's exception is re-raised as is (not wrapped in an exception
        # group by the nursery): the nursery only ever holds our reader tasks,
        # which are stopped first.
        await self._shut_down()

    async def _shut_down(self) -> None:
        self._close_connection()
        self._push_send.close()
        manager, self._nursery_manager, self._nursery = self._nursery_manager, None, None
        if manager is not None:
            await manager.__aexit__(None, None, None)

    async def connect(self) -> None:
        """(Re)connect now if not connected; needed after a loss with
        ``auto_reconnect=False``.

        Raises:
            RuntimeError: not inside ``async with``.
            BoltConnectionError, ClusterError: no node is reachable.
            AuthenticationError: the credentials were refused.
        """
        self._broken = False
        connection = self._connection
        if connection is not None and connection.failure is not None:
            self._connection = None  # forget the lost one: this is an explicit reconnect
        await self._ensure_connection()

    async def aclose(self) -> None:
        """Close the connection (the next command reconnects while the client is open)."""
        self._close_connection()
        await trio.lowlevel.checkpoint()

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.fail(BoltConnectionError("the client closed the connection"))

    @property
    def connected(self) -> bool:
        """Whether a working connection is open right now."""
        connection = self._connection
        return connection is not None and connection.failure is None

    @property
    def address(self) -> Address:
        """The node in use (or to be tried first)."""
        return self._settings.ring.current

    @property
    def server_info(self) -> dict[str, Any]:
        """The server's ``HELLO`` reply (``{}`` when not connected)."""
        connection = self._connection
        return connection.server_info if connection is not None else {}

    def add_connect_hook(self, hook: ConnectHook) -> None:
        """Await ``hook(client)`` after every (re)connection, e.g. to subscribe again."""
        self._connect_hooks.append(hook)

    # --- commands -----------------------------------------------------------------

    def _command(self, command: str, args: list[Any], database: str | None) -> Awaitable[Any]:
        return self._call_one(Call.of(command, args, database))

    async def _call_one(self, call: Call) -> Any:
        (reply,) = await self._round_trip([call])
        return result_of(reply)

    async def execute_command(
        self,
        command: str,
        *args: Any,
        database: str | None = None,
        retry_safe: bool | None = None,
    ) -> Any:
        """Send any command and return its reply (see ``BoltClient.execute_command``)."""
        db = self.database if database is None else database
        return await self._call_one(Call.of(command, list(args), db, retry_safe))

    async def auth(self, username: str, password: str) -> Any:
        """Authenticate as another user; later reconnections use these credentials."""
        result = await super().auth(username, password)
        self._settings.username, self._settings.password = username, password
        return result

    def pipeline(self) -> AsyncPipeline:
        """A batch of commands sent in one write by ``await pipeline.execute()``."""
        return AsyncPipeline(self)

    # --- pushes -------------------------------------------------------------------

    def pushes(self) -> trio.MemoryReceiveChannel[Push]:
        """The channel of server pushes: ``async for push in client.pushes():``.

        Iteration ends when the client closes.
        """
        return self._push_receive

    async def next_push(self, timeout: float | None = None) -> Push | None:
        """The next push, or ``None`` if none arrives within ``timeout`` seconds
        (or the client closed)."""
        with trio.move_on_after(math.inf if timeout is None else timeout):
            try:
                return await self._push_receive.receive()
            except trio.EndOfChannel:
                return None
        return None

    async def subscribe_keys(
        self, pattern: str, *, database: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Watch keys matching the glob ``pattern``: ``async for change in await ...``.

        The ``WATCH`` is sent and answered before this returns; the iterator
        yields one dict per committed record touching matching keys, in log
        order (see :mod:`bolt.client._watch`), until the client closes.

        Raises:
            FeedDroppedError: (while iterating) the server dropped the watch.
        """
        db = self.database if database is None else database
        await self._command("WATCH", watch_args(pattern, db), None)
        return self._key_changes()

    async def _key_changes(self) -> AsyncIterator[dict[str, Any]]:
        async for push in self._push_receive:
            change = key_change(push)
            if change is not None:
                yield change

    async def _on_push(self, push: Push) -> None:
        try:
            await self._push_send.send(push)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # nobody will read it any more

    # --- the round trip and the retry rule --------------------------------------

    async def _round_trip(self, calls: Sequence[Call]) -> list[Reply]:
        replies: list[Reply] = []
        pending = list(calls)
        resent = False
        timeout = self._settings.timeout
        for _attempt in range(_ROUND_TRIP_ATTEMPTS_MAX):
            connection = await self._ensure_connection()
            try:
                replies += await self._send_and_wait(connection, pending, timeout)
                return replies
            except ConnectionLost as lost:
                replies += lost.replies
                pending = pending[len(lost.replies) :]
                if not self._settings.auto_reconnect:
                    self._broken = True
                check_resend(lost, pending, self._settings.auto_reconnect, resent)
                resent = resent or lost.sent
        raise BoltConnectionError("the server keeps closing new connections")

    async def _send_and_wait(
        self, connection: AsyncConnection, calls: list[Call], timeout: float | None
    ) -> list[Reply]:
        waiters = await connection.send(calls, timeout)
        try:
            with trio.fail_after(math.inf if timeout is None else timeout):
                for waiter in waiters:
                    await waiter.event.wait()
        except trio.TooSlowError as exc:
            raise BoltTimeoutError(f"no reply from {connection.name} within the timeout") from exc
        finally:
            connection.forget(waiters)
        replies: list[Reply] = []
        for waiter in waiters:
            if waiter.reply is None:
                assert waiter.lost is not None
                raise ConnectionLost(waiter.lost, sent=True, replies=replies)
            replies.append(waiter.reply)
        return replies

    async def _ensure_connection(self) -> AsyncConnection:
        connection = self._connection
        if connection is not None and connection.failure is None:
            return connection
        async with self._connect_lock:
            connection = self._connection
            if connection is not None and connection.failure is None:
                return connection
            if self._nursery is None:
                raise RuntimeError("use `async with AsyncBoltClient(...) as client:`")
            lost = connection is not None
            if self._broken or (lost and not self._settings.auto_reconnect):
                self._broken = True
                raise BoltConnectionError("the connection was lost; call connect() to reconnect")
            return await self._open(failover=lost)

    async def _open(self, failover: bool) -> AsyncConnection:
        assert self._nursery is not None
        ring = self._settings.ring
        failures: list[tuple[Address, BaseException]] = []
        for index, address in ring.candidates(failover):
            try:
                connection = await AsyncConnection.open(address, self._settings, self._on_push)
            except (OSError, BoltError) as exc:
                if not can_try_next_node(exc):
                    raise
                failures.append((address, exc))
                continue
            ring.use(index)
            self._connection = connection
            self._nursery.start_soon(connection.read_loop, self._on_push)
            try:
                for hook in self._connect_hooks:
                    await hook(self)
            except BaseException:
                self._close_connection()
                raise
            return connection
        error, last = unreachable(failures), failures[-1][1]
        raise error from (None if error is last else last)


def connect_async(
    host: str = "127.0.0.1", port: int = limits.port_default, **kwargs: Any
) -> AsyncBoltClient:
    """An :class:`AsyncBoltClient`, for ``async with connect_async(host, port) as client:``."""
    return AsyncBoltClient(host, port, **kwargs)
