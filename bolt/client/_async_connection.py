"""One trio stream to one Bolt node, shared by many concurrent callers.

Theory of operation: callers send under a lock (so frames never interleave
and request ids rise in the order they hit the wire) and then wait on a
:class:`Waiter` registered under their request id. One reader task per
connection feeds every byte it receives to the codec and routes each reply
to its waiter by id, and each push to the client. When the connection
breaks, :meth:`AsyncConnection.fail` wakes every waiter with the reason and
cancels the reader, which closes the stream; callers then apply the retry
rule. A reply whose waiter gave up (timeout, cancellation) is discarded.

A send is shielded from outside cancellation: half a frame on the wire
would corrupt every later request. It has its own deadline instead.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import trio

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
    encode_request,
    encode_requests,
)

RECEIVE_BYTES = 256 * limits.KIB
PushSink = Callable[[Push], Awaitable[None]]


class Waiter:
    """Where the reply to one request is delivered."""

    __slots__ = ("event", "lost", "reply")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.reply: Reply | None = None
        self.lost: BaseException | None = None


class AsyncConnection:
    """A connected, greeted stream (build it with :meth:`open`)."""

    def __init__(self, stream: trio.abc.Stream, address: Address) -> None:
        self.stream = stream
        self.address = address
        self.server_info: dict[str, Any] = {}
        self.failure: BaseException | None = None
        self.waiters: dict[int, Waiter] = {}
        self.reader_scope = trio.CancelScope()
        self._codec = Codec(limits.reply_bytes_max)
        self._next_id = 1
        self._send_lock = trio.Lock()

    @classmethod
    async def open(cls, address: Address, settings: Settings, on_push: PushSink) -> AsyncConnection:
        """Connect (TCP_NODELAY is trio's default), wrap in TLS if configured,
        and greet with ``HELLO``. Bounded by the settings' timeout.

        Raises:
            OSError: the TCP connection failed.
            BoltTimeoutError: connecting took longer than the timeout.
            AuthenticationError: the server refused the credentials.
            BoltError: the server refused the connection (e.g. too many).
        """
        timeout = math.inf if settings.timeout is None else settings.timeout
        try:
            with trio.fail_after(timeout):
                stream: trio.abc.Stream = await trio.open_tcp_stream(*address)
                try:
                    if settings.ssl_context is not None:
                        stream = trio.SSLStream(
                            stream, settings.ssl_context, server_hostname=address[0]
                        )
                        await stream.do_handshake()
                    connection = cls(stream, address)
                    await connection._hello(settings, on_push)
                except BaseException:
                    await trio.aclose_forcefully(stream)
                    raise
                return connection
        except trio.TooSlowError as exc:
            raise BoltTimeoutError(f"connecting to {address[0]}:{address[1]} timed out") from exc
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise BoltConnectionError(f"connection lost during the handshake: {exc}") from exc

    async def _hello(self, settings: Settings, on_push: PushSink) -> None:
        # Sequential: the reader task starts only once the server has said hello.
        hello_args, nonce = login.hello(settings)
        info = await self._handshake_call(1, "HELLO", hello_args, on_push)
        if not isinstance(info, dict):
            raise ProtocolError(f"HELLO reply is not a dict: {info!r}")
        self._next_id = 2
        if nonce is not None and "challenge" in info:
            challenge = login.Challenge(info.pop("challenge"))
            password = settings.password
            assert password is not None
            key = login.known_key(challenge, password)
            if key is None:
                key = await trio.to_thread.run_sync(login.derive, challenge, password)
            reply = await self._handshake_call(
                2, "LOGIN", login.login_args(settings, nonce, challenge, key), on_push
            )
            info.update(login.finish(settings, nonce, challenge, key, reply))
            self._next_id = 3
        self.server_info = info

    async def _handshake_call(
        self, request_id: int, command: str, args: list[Any], on_push: PushSink
    ) -> Any:
        """Send one handshake request and read until its reply; its result."""
        await self.stream.send_all(encode_request(request_id, command, args, None))
        while True:
            for message in self._codec.next_messages():
                if isinstance(message, Push):
                    await on_push(message)
                elif isinstance(message, Request):
                    raise ProtocolError("the server sent a request")
                elif isinstance(message, ErrorReply) and message.id == CONNECTION_ERROR_ID:
                    raise message.to_exception()
                elif message.id == request_id:
                    return result_of(message)
                else:
                    raise ProtocolError(f"got {message!r} while waiting for {command}")
            data = await self.stream.receive_some(RECEIVE_BYTES)
            if not data:
                raise BoltConnectionError(f"the server closed the connection during {command}")
            self._codec.receive_data(data)

    async def send(self, calls: Sequence[Call], timeout: float | None) -> list[Waiter]:
        """Send ``calls`` in one write; return a waiter for each reply.

        Raises:
            ConnectionLost: the connection is (or broke while) sending.
            BoltTimeoutError: the write did not finish in time (the
                connection is failed: part of a frame may be on the wire).
            BadRequestError, TooLargeError: a request cannot be encoded.
        """
        async with self._send_lock:
            if self.failure is not None:
                raise ConnectionLost(self.failure, sent=False, replies=[])
            first = self._next_id
            data = encode_requests(first, calls)  # one buffer for the whole batch
            self._next_id = first + len(calls)
            waiters = [Waiter() for _ in calls]
            self.waiters.update(zip(range(first, first + len(calls)), waiters, strict=True))
            with trio.CancelScope(shield=True):
                try:
                    with trio.fail_after(math.inf if timeout is None else timeout):
                        await self.stream.send_all(data)
                except trio.TooSlowError as exc:
                    error = BoltTimeoutError(f"sending to {self.name} timed out")
                    self.fail(error)
                    raise error from exc
                except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    self.fail(exc)
                    raise ConnectionLost(exc, sent=True, replies=[]) from exc
            return waiters

    def forget(self, waiters: Sequence[Waiter]) -> None:
        """Stop waiting for these replies (their caller gave up)."""
        gone = set(map(id, waiters))
        for request_id in [key for key, value in self.waiters.items() if id(value) in gone]:
            del self.waiters[request_id]

    async def read_loop(self, on_push: PushSink) -> None:
        """Route replies and pushes until the connection ends; never raises for
        a broken connection or bad bytes (it fails the connection instead)."""
        try:
            with self.reader_scope:
                while True:
                    data = await self.stream.receive_some(RECEIVE_BYTES)
                    if not data:
                        raise BoltConnectionError(f"{self.name} closed the connection")
                    self._codec.receive_data(data)
                    for message in self._codec.next_messages():
                        await self._route(message, on_push)
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, BoltError) as exc:
            self.fail(exc)
        finally:
            self.fail(BoltConnectionError("the connection was closed"))
            await trio.aclose_forcefully(self.stream)

    async def _route(self, message: Any, on_push: PushSink) -> None:
        if isinstance(message, Push):
            await on_push(message)
        elif isinstance(message, Request):
            raise ProtocolError("the server sent a request")
        elif isinstance(message, ErrorReply) and message.id == CONNECTION_ERROR_ID:
            raise message.to_exception()
        else:
            waiter = self.waiters.pop(message.id, None)
            if waiter is not None:  # None: its caller timed out or was cancelled
                waiter.reply = message
                waiter.event.set()

    def fail(self, reason: BaseException) -> None:
        """Mark the connection broken, wake every waiter, stop the reader."""
        if self.failure is None:
            self.failure = reason
        for waiter in self.waiters.values():
            waiter.lost = self.failure
            waiter.event.set()
        self.waiters.clear()
        self.reader_scope.cancel()

    @property
    def name(self) -> str:
        """``host:port`` of the node."""
        return f"{self.address[0]}:{self.address[1]}"
