"""The per-connection loop: the server's hot path, its errors, and closing politely.

Theory of operation
-------------------
**Hot path** (DESIGN §9). A connection loops on one ``receive_some``; the
bytes go into the sans-IO :class:`~bolt.wire.Codec`, and *every* complete
frame of that receive is run before anything is awaited: data commands
with the synchronous ``engine.submit`` (which validates, logs and applies;
GET and SET take its fast paths), server commands with their handlers.
Each reply is encoded at once and the largest write offset is remembered.
Then the batch awaits durability once (``engine.wait_durable(max_offset)``)
and sends every reply with one ``send_all``, in request order. Per request
there is one dict lookup (the command's :class:`~bolt.server._dispatch.Route`),
one integer comparison (permission), the engine call and the encoding;
what the server counts comes from the route's table flags (which keys a
command reads, whether its reply tells hits from misses, whether a long one
is chunked), never from comparing command names. Per batch there are two
clock reads (bytes in, replies sent), one histogram update per run of the
same command (:func:`~bolt.server._latency.record_batch`), and one update of
the key hit/miss totals.
Nothing is logged per request, and no cancel scope is entered per receive
(one costs several microseconds): the session's single scope is cancelled
by a shutdown only while the session is idle. On a plain TCP connection the
receive and the send are system calls on the socket itself
(:mod:`bolt.server._rawio`), not trio's stream wrappers: a reply that fits
in the socket buffer is one ``write`` with no schedule point.

**Errors**. A refused request (bad arguments, wrong type, permission, disk)
gets a typed error reply with its id and the connection carries on; an
unexpected exception inside one request is logged with its traceback and
answered with ``SERVER_ERROR``. Bytes that are not a valid frame (the codec
raises :class:`~bolt.errors.ProtocolError`) end that connection only: the
reason is logged at INFO with the peer's address, an error with id 0 is
sent, and the socket is closed politely (write side shut, the rest of the
peer's bytes drained briefly, so the error is not lost to a TCP reset).
If the log fails while a batch waits for durability, every write of the
batch is answered ``DISK_ERROR`` instead of its result: nothing that might
not survive a crash is acknowledged.

**What a connection may cost** (README "Limits and hardening"). Until the
session has logged in (or, without authentication, sent its HELLO) its
codec accepts frames of at most ``limits.prelogin_frame_bytes_max``; the
bytes every connection holds in a partial frame count against one
server-wide budget (``limits.partial_frames_bytes_max``), and the connection
whose receive passes it is closed with ``INPUT_BUDGET``. Replies of a batch
are sent as soon as they pass ``limits.reply_flush_bytes`` (after the writes
among them are durable), and the connection is not read while a send waits:
a client that does not read its replies stops being read (back-pressure).
The server's session watcher closes a connection whose send has not
finished for ``BOLT_OUTPUT_STALL_MS`` (``OUTPUT_LIMIT``, counted), one
that has not logged in within the login timeout, and an idle one past
``BOLT_IDLE_TIMEOUT_MS``: it sets ``session.close_reason`` and cancels the
session's scope, and the loop says goodbye with that error.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import trio

from bolt import limits
from bolt.errors import (
    BoltError,
    DiskError,
    InputBudgetError,
    ProtocolError,
    ServerError,
    ShuttingDownError,
    WrongProtocolError,
)
from bolt.node import Engine
from bolt.server import _admission as admission
from bolt.server._commands import refusal
from bolt.server._dispatch import Route
from bolt.server._latency import CommandCounters, record_batch
from bolt.server._rawio import receiver, send_now
from bolt.server._session import Session
from bolt.state import READS_ONE
from bolt.wire import Codec, Request, encode_error, encode_response, wrong_port_line

logger = logging.getLogger("bolt.server")

RECEIVE_BYTES = 256 * limits.KIB
"""Most bytes taken from a connection per ``receive_some``."""
_LARGE_ARGS = limits.batch_chunk_keys
"""Requests with more arguments go through ``Engine.submit_large``."""
_GOODBYE_SECONDS = 1.0  # time allowed to send a final error and drain the peer
_GOODBYE_DRAIN_BYTES = 4 * limits.MIB  # most unread peer bytes discarded before closing


def _not_a_request(message: Any) -> ProtocolError:
    return ProtocolError(f"a client may only send requests, not a {type(message).__name__}")


class ConnectionLoop:
    """The connection-serving half of :class:`~bolt.server.Server` (see the module docstring).

    It reads the server's state through the attributes declared here.
    """

    engine: Engine
    routes: dict[str, Route]
    unknown_route: Route
    errors: dict[tuple[int, str], int]
    keys_read_total: int
    keys_hit_total: int
    keys_missed_total: int
    closing: bool
    shutdown_grace_seconds: float
    resp_port: int | None = None  # the RESP listener's port, told to Redis clients that come here
    partial_bytes: int
    closed_by_reason: dict[str, int]

    async def _session_loop(self, stream: trio.abc.Stream, session: Session) -> None:
        try:
            await self._serve_session(stream, session)
        finally:
            self.partial_bytes -= session.buffered
            session.buffered = 0

    async def _serve_session(self, stream: trio.abc.Stream, session: Session) -> None:
        full = session.logged_in
        codec = Codec(
            limits.frame_bytes_max if full else limits.prelogin_frame_bytes_max, server_side=True
        )
        receive = receiver(stream)
        clock = time.perf_counter
        # One cancel scope for the whole session, not one per receive (entering a
        # scope costs microseconds): shutdown cancels it only while the session
        # is idle in receive_some, so a batch in progress always finishes. The
        # session watcher may cancel it mid-send (output stall) or mid-login.
        with trio.CancelScope() as scope:
            session.receive_scope = scope
            while not self.closing:
                session.idle = True
                data = await receive(RECEIVE_BYTES)
                session.idle = False
                if not data:
                    if codec.buffered_bytes:
                        logger.info(
                            "%s closed the connection in the middle of a frame (%d bytes unread)",
                            session.address,
                            codec.buffered_bytes,
                        )
                    return
                started = session.last_active = clock()
                try:
                    codec.receive_data(data)
                    messages = codec.next_messages()
                except ProtocolError as exc:
                    await self._protocol_error(stream, session, self._explain(session, exc))
                    return
                buffered = codec.buffered_bytes
                if buffered != session.buffered and not self._buffer_admitted(session, buffered):
                    await self._closed_for(stream, session, "input_budget", self._over_budget())
                    return
                if not messages:
                    continue
                if self.engine.writes_held is not None:
                    await self.engine.writes_open()  # a fresh node joining: at most a moment
                if scope.cancel_called:
                    # The shutdown came after these bytes arrived: answer them anyway.
                    with trio.CancelScope(shield=True) as shielded:
                        shielded.deadline = trio.current_time() + self.shutdown_grace_seconds
                        if not await self._run_batch(stream, session, messages, started):
                            return
                    break
                if not await self._run_batch(stream, session, messages, started):
                    return
                if not full and session.logged_in:
                    codec.max_frame_bytes = limits.frame_bytes_max
                    full = True
        session.receive_scope = None
        reason = session.close_reason
        await self._goodbye(
            stream, reason or ShuttingDownError("the server is shutting down"), session
        )

    def _buffer_admitted(self, session: Session, buffered: int) -> bool:
        """Move ``session``'s partial-frame bytes in the budget; False: over it."""
        return admission.admit_buffered(self, session, buffered)

    def _over_budget(self) -> InputBudgetError:
        return admission.over_budget(self)

    def _explain(self, session: Session, error: ProtocolError) -> ProtocolError:
        """Add the pre-login frame limit to a protocol error of a session not logged in."""
        if session.logged_in or type(error) is not ProtocolError:
            return error  # a subclass (WRONG_PROTOCOL) says more than the frame limit
        return ProtocolError(
            f"{error.message} (until a connection has logged in -- or sent HELLO when "
            f"authentication is off -- its frames may be at most "
            f"{limits.prelogin_frame_bytes_max} bytes)"
        )

    async def _closed_for(
        self, stream: trio.abc.Stream, session: Session, reason: str, error: BoltError
    ) -> None:
        """Close ``session`` for a hardening ``reason``: log, count, tell the client."""
        logger.info("closing connection from %s: %s", session.address, error.message)
        self.closed_by_reason[reason] = self.closed_by_reason.get(reason, 0) + 1
        self._count_error(None, error)
        await self._goodbye(stream, error, session)

    async def _run_batch(
        self, stream: trio.abc.Stream, session: Session, messages: list[Any], started: float
    ) -> bool:
        """Run, make durable and answer one receive's requests; False: close now."""
        submit, level = self.engine.submit, session.level
        routes, unknown = self.routes, self.unknown_route
        out: list[bytes] = []
        batch: list[CommandCounters] = []
        writes: list[tuple[int, int, CommandCounters]] = []
        pending, max_offset, command = 0, -1, ""  # pending: bytes in out
        violation: ProtocolError | None = None
        keys_read = keys_looked_up = keys_missed = 0  # added to the server's totals once
        session.requests += len(messages)
        for message in messages:
            if type(message) is not Request:
                violation = _not_a_request(message)
                break
            request_id, command, args, db = message
            route = routes.get(command, unknown)
            batch.append(route.counters)
            try:
                if route.required_level > level:
                    raise refusal(command, session, route.required_level)
                if route.handler is not None:
                    reply, offset = await self._server_command(route, session, args)
                    level = session.level
                elif route.chunked and type(args) is list and len(args) > _LARGE_ARGS:
                    # A long MSET/MDEL/MGET: in chunks, other clients between them.
                    reply, offset = await self.engine.submit_large(command, args, db)
                else:
                    reply, offset = submit(command, args, db)
                reads = route.key_reads  # the route's flags, summed per batch
                if reads:
                    if reads == READS_ONE:
                        keys_read += 1
                        if route.hits:
                            keys_looked_up += 1
                            keys_missed += reply is None
                    else:
                        keys_read += len(args)
                        if route.hits:
                            keys_looked_up += len(reply)
                            keys_missed += reply.count(None)
                encoded = encode_response(request_id, reply)
            except Exception as exc:
                out.append(self._error_reply(route, command, request_id, exc))
                if session.close_after_reply:
                    break
                continue
            out.append(encoded)
            pending += len(encoded)
            if offset >= 0:
                writes.append((len(out) - 1, request_id, route.counters))
                max_offset = offset  # the engine appends in order: the last is the largest
            if pending > limits.reply_flush_bytes:
                await self._send_replies(stream, session, out, writes, max_offset)
                out, writes, pending, max_offset = [], [], 0, -1
        if keys_read:
            self._count_keys(keys_read, keys_looked_up, keys_missed)
        await self._finish_batch(stream, session, command, out, writes, max_offset, batch, started)
        if violation is None and not session.close_after_reply:
            return True
        return await self._carry_on(stream, session, violation)

    async def _carry_on(
        self, stream: trio.abc.Stream, session: Session, violation: ProtocolError | None
    ) -> bool:
        """After a batch: close for a protocol ``violation`` or a request that said so."""
        if violation is not None:
            await self._protocol_error(stream, session, violation)
            return False
        if session.close_after_reply:
            await self._goodbye(stream, None, session)
            return False
        return True

    def _count_keys(self, read: int, looked_up: int, missed: int) -> None:
        """Add one batch's key reads, hits and misses to the server's totals."""
        self.keys_read_total += read
        self.keys_missed_total += missed
        self.keys_hit_total += looked_up - missed

    async def _server_command(self, route: Route, session: Session, args: Any) -> tuple[Any, int]:
        """Run a server-level command's handler (awaited if it is a coroutine)."""
        handler = route.handler
        assert handler is not None
        if route.is_async:
            session.current_command = route.name
            return await handler(self, session, args)
        return handler(self, session, args)

    def _error_reply(self, route: Route, command: str, request_id: int, exc: Exception) -> bytes:
        """The encoded error reply of a refused request (counted); internal errors logged."""
        if not isinstance(exc, BoltError):
            exc = self._internal_error(command, exc)
        return encode_error(request_id, self._count_error(route.counters, exc))

    async def _finish_batch(
        self,
        stream: trio.abc.Stream,
        session: Session,
        command: str,
        out: list[bytes],
        writes: list[tuple[int, int, CommandCounters]],
        max_offset: int,
        batch: list[CommandCounters],
        started: float,
    ) -> None:
        """Send what is left of the batch's replies, then count the batch."""
        session.current_command = command
        if out:
            await self._send_replies(stream, session, out, writes, max_offset)
        session.current_command = None
        record_batch(batch, time.perf_counter() - started)

    async def _send_replies(
        self,
        stream: trio.abc.Stream,
        session: Session,
        out: list[bytes],
        writes: list[tuple[int, int, CommandCounters]],
        max_offset: int,
    ) -> None:
        """Wait until the writes among ``out`` are durable, then send ``out`` in order.

        A write whose record did not become durable is answered ``DISK_ERROR``.
        """
        if max_offset >= 0:
            try:
                await self.engine.wait_durable(max_offset)
            except DiskError as exc:
                for index, request_id, write_counters in writes:
                    out[index] = encode_error(request_id, self._count_error(write_counters, exc))
        data = out[0] if len(out) == 1 else b"".join(out)
        outbox = session.outbox
        if outbox is None:
            sent = send_now(stream, data)  # nearly always all of it, with no schedule point
            if sent < len(data):
                session.sending_since = time.perf_counter()
                await stream.send_all(memoryview(data)[sent:])
                session.sending_since = 0.0
        else:  # pushes are on: the sender task owns the socket
            outbox.put(data)
            await outbox.wait_below(limits.reply_flush_bytes)

    # --- errors and closing --------------------------------------------------------------

    def _count_error(self, counters: CommandCounters | None, error: BoltError) -> BoltError:
        return admission.count_error(self, counters, error)

    def _internal_error(self, command: str, exc: Exception) -> ServerError:
        return admission.internal_error(command, exc)

    async def _protocol_error(
        self, stream: trio.abc.Stream, session: Session, error: ProtocolError
    ) -> None:
        logger.info("closing connection from %s: %s", session.address, error.message)
        self._count_error(None, error)
        if type(error) is WrongProtocolError:
            await self._goodbye(stream, None, session, wrong_port_line(self.resp_port))
            return
        await self._goodbye(stream, error, session)

    async def _goodbye(
        self,
        stream: trio.abc.Stream,
        error: BoltError | None,
        session: Session | None = None,
        raw: bytes = b"",
    ) -> None:
        """Send a connection-level error (id 0, or ``raw`` bytes), then close
        without a TCP reset.

        A session's sender task (pushes) is stopped first: one sender at a time.
        """
        if session is not None and session.outbox is not None:
            with trio.CancelScope(shield=True):
                await session.outbox.close()
        with trio.move_on_after(_GOODBYE_SECONDS):
            try:
                if error is not None:
                    await stream.send_all(encode_error(0, error))
                if raw:
                    await stream.send_all(raw)
                if isinstance(stream, trio.SocketStream):
                    await stream.send_eof()
                drained = 0
                while drained < _GOODBYE_DRAIN_BYTES:
                    data = await stream.receive_some(RECEIVE_BYTES)
                    if not data:
                        break
                    drained += len(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
        await trio.aclose_forcefully(stream)
