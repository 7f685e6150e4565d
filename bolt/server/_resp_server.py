"""The RESP listener: Redis clients on their own port, over the same engine and users.

Theory of operation
-------------------
A :class:`RespListener` belongs to the daemon's :class:`~bolt.server.Server`
and shares what the Bolt port owns: the auth mode, the users and the
password checker with its back-off, TLS, the command counters (so ``STATS``
and ``/metrics`` count Redis traffic under the Bolt command it runs), the
error counts and the live sessions (so ``STATS`` lists Redis clients, a role
change reaches them, and a shutdown wakes them). Its sessions are
:class:`RespSession`: a Bolt :class:`~bolt.server._session.Session` plus the
RESP version (2, or 3 after ``HELLO 3``) and the selected database
(``SELECT n`` → Bolt database ``""`` for 0, ``"n"`` otherwise).

**The hot path** is the Bolt port's (:mod:`bolt.server._connection`): one
``receive_some``, every complete command of it run with no await in between
(so a pipeline of writes is one batch), durability awaited once for the
batch's last offset, and all replies sent with one ``send_all``. Per
command: one dict lookup, an arity check, one integer comparison for the
permission, the handler (one ``engine.submit``) and the encoding.

**Errors**: a refused command gets its Redis error line (``-WRONGTYPE``,
``-ERR ...``, ``-NOPERM``, ``-NOAUTH``, ``-OOM``, chosen by the error's
class, never its text) and the connection carries on. Bytes that are not
RESP end that connection only: ``-ERR Protocol error: ...`` is sent and the
socket closed politely, as Redis does. If the log fails while a batch waits
for durability, each write of the batch is answered with an error instead.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

import trio

from bolt import limits
from bolt.errors import (
    AuthenticationError,
    BadRequestError,
    BoltError,
    DiskError,
    NoPermissionError,
    ProtocolError,
    ShuttingDownError,
    UnknownCommandError,
)
from bolt.node import Engine, wall_clock_ms
from bolt.server import _admission as admission
from bolt.server._admission import over_budget
from bolt.server._auth import LEVEL_ADMIN, LEVEL_NONE, MODE_REQUIRED
from bolt.server._latency import CommandCounters, record_batch
from bolt.server._resp_admin import SERVER_COMMAND_LEVELS, SERVER_COMMANDS
from bolt.server._resp_blocking import BLOCKING_COMMANDS
from bolt.server._resp_commands import DATA_COMMANDS, RespCommand
from bolt.server._resp_hashes import HASH_COMMANDS
from bolt.server._resp_multi import MULTI_COMMANDS, MULTI_LEVELS, in_transaction, queue
from bolt.server._resp_pubsub import (
    ALLOWED_WHILE_SUBSCRIBED,
    PUBSUB_COMMANDS,
    PUBSUB_LEVELS,
    PubSub,
)
from bolt.server._resp_session import (
    RespSession,
    arity_ok,
    prelogin_error,
    resp_error_text,
    subscribed_text,
    unknown_command_text,
)
from bolt.server._server import Server, open_listeners
from bolt.wire import RespCodec, encode_error_line

logger = logging.getLogger("bolt.server.resp")

RECEIVE_BYTES = 256 * limits.KIB
"""Most bytes taken from a connection per ``receive_some``."""
RESP_COMMANDS: dict[bytes, RespCommand] = {
    **DATA_COMMANDS,
    **SERVER_COMMANDS,
    **PUBSUB_COMMANDS,
    **HASH_COMMANDS,
    **BLOCKING_COMMANDS,
    **MULTI_COMMANDS,
}
"""Every command the RESP port answers, by upper-case name."""

_GOODBYE_SECONDS = 1.0


class RespListener:
    """Serves Redis clients for one :class:`~bolt.server.Server` (see the module docstring)."""

    def __init__(self, server: Server, now_ms: Any = wall_clock_ms) -> None:
        self.server = server
        self.engine: Engine = server.engine
        self.now_ms = now_ms
        self.port = 0
        self.host = ""
        self.closing = False
        self.pubsub = PubSub()
        self.table: dict[bytes, tuple[RespCommand, CommandCounters, int]] = {}
        levels = {**SERVER_COMMAND_LEVELS, **PUBSUB_LEVELS, **MULTI_LEVELS}
        for name, command in RESP_COMMANDS.items():
            route = server.routes.get(command.bolt_command)
            counters = server.table.get(command.bolt_command)
            if counters is None:
                counters = CommandCounters(command.bolt_command, "server")
                server.table[command.bolt_command] = counters
            level = (
                route.required_level
                if route is not None
                else levels.get(command.bolt_command, LEVEL_ADMIN)
            )
            self.table[name] = (command, counters, level)
        self._accept_scope: trio.CancelScope | None = None
        self._connections: trio.Nursery | None = None
        self._running = 0
        self._all_done = trio.Event()

    def start_task(self, function: Any, *args: Any) -> None:
        """Run a background task of a session (its pub/sub sender) in the connections' nursery."""
        assert self._connections is not None
        self._connections.start_soon(function, *args)

    # --- listening ------------------------------------------------------------------

    async def serve(
        self, host: str, port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen on ``host:port`` (0: a free port) until :meth:`shutdown`.

        Raises:
            OSError: the address cannot be bound (the message names BOLT_RESP_PORT).
        """
        listeners = await open_listeners(host, port, "BOLT_RESP_PORT")
        self.port = listeners[0].socket.getsockname()[1]
        self.host = host
        self.server.resp_port = self.port
        async with trio.open_nursery() as connections:
            self._connections = connections
            with trio.CancelScope() as accept_scope:
                self._accept_scope = accept_scope
                if self.closing:
                    accept_scope.cancel()
                async with trio.open_nursery() as accepting:
                    await accepting.start(
                        functools.partial(
                            trio.serve_listeners,
                            self._handle,
                            listeners,
                            handler_nursery=connections,
                        )
                    )
                    task_status.started(self.port)
            if self._running:
                with trio.move_on_after(self.server.shutdown_grace_seconds):
                    await self._all_done.wait()
            connections.cancel_scope.cancel()

    def shutdown(self) -> None:
        """Stop accepting; idle sessions are woken by the server's own shutdown."""
        self.closing = True
        if self._accept_scope is not None:
            self._accept_scope.cancel()

    async def _handle(self, socket_stream: trio.SocketStream) -> None:
        self._running += 1
        try:
            await self._connection(socket_stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        except Exception:
            logger.exception("RESP connection handler failed")
        finally:
            self._running -= 1
            if not self._running and self.closing:
                self._all_done.set()

    async def _connection(self, socket_stream: trio.SocketStream) -> None:
        server = self.server
        accepted = await admission.accept_stream(socket_stream, server.ssl_context)
        if accepted is None:
            return
        stream, address = accepted
        refused = admission.refusal(server, address)
        if refused is not None:
            text = (
                "ERR shutting down"
                if isinstance(refused, ShuttingDownError)
                else "ERR max number of clients reached"
            )
            await self._goodbye(stream, encode_error_line(text))
            return
        with admission.registered(server, address, RespSession) as session:
            session.stream = stream
            try:
                await self._session_loop(stream, session)
            finally:
                self.pubsub.forget(session)
                if session.pubsub_outbox is not None:
                    session.pubsub_outbox.close()

    # --- one session ------------------------------------------------------------------

    async def _session_loop(self, stream: trio.abc.Stream, session: RespSession) -> None:
        """Serve one session (the limits before login: see :func:`_prelogin`)."""
        server = self.server
        # Without authentication nothing needs a login: the full frame limit from
        # the start; the first command ends the login timeout (as HELLO does on
        # the Bolt port). With it, the small limit holds until AUTH succeeds.
        full = server.mode != MODE_REQUIRED
        codec = RespCodec(limits.frame_bytes_max if full else limits.prelogin_frame_bytes_max)
        receive = stream.receive_some
        with trio.CancelScope() as scope:
            session.receive_scope = scope
            while not server.closing:
                session.idle = True
                data = await receive(RECEIVE_BYTES)
                session.idle = False
                if not data:
                    return
                started = session.last_active = time.perf_counter()
                try:
                    codec.receive_data(data)
                    commands = codec.next_commands()
                except ProtocolError as exc:
                    await self._protocol_error(stream, session, prelogin_error(session, exc, full))
                    return
                buffered = codec.buffered_bytes
                if buffered != session.buffered and not admission.admit_buffered(
                    server, session, buffered
                ):
                    await self._closed_for(stream, session, "input_budget", over_budget(server))
                    return
                if not commands:
                    continue
                if full:
                    session.logged_in = True
                if scope.cancel_called:
                    with trio.CancelScope(shield=True) as shielded:
                        shielded.deadline = trio.current_time() + server.shutdown_grace_seconds
                        await self._run_batch(stream, session, commands, started)
                    break
                if not await self._run_batch(stream, session, commands, started):
                    return
                if codec.failure is not None:
                    await self._protocol_error(stream, session, ProtocolError(codec.failure))
                    return
                if not full and session.logged_in:
                    codec.max_frame_bytes = limits.frame_bytes_max
                    full = True
        session.receive_scope = None
        reason = session.close_reason  # set by the server's session watcher (a timeout)
        await self._goodbye(
            stream, encode_error_line(f"ERR {reason.message}") if reason else b"", session
        )

    async def _closed_for(
        self, stream: trio.abc.Stream, session: RespSession, reason: str, error: BoltError
    ) -> None:
        """Close ``session`` for a hardening ``reason``: log, count, tell the client."""
        logger.info("closing RESP connection from %s: %s", session.address, error.message)
        admission.count_close(self.server, reason, error)
        await self._goodbye(stream, encode_error_line(f"ERR {error.message}"), session)

    async def _run_batch(
        self,
        stream: trio.abc.Stream,
        session: RespSession,
        commands: list[list[bytes]],
        started: float,
    ) -> bool:
        """Run, make durable and answer one receive's commands; False: close now."""
        server = self.server
        table = self.table
        if server.engine.writes_held is not None:
            await server.engine.writes_open()  # a fresh node joining: at most a moment
        out: list[bytes] = []
        batch: list[CommandCounters] = []
        writes: list[tuple[int, CommandCounters]] = []
        max_offset = -1
        session.requests += len(commands)
        for args in commands:
            name = args[0].upper()
            found = table.get(name)
            if found is None:
                if in_transaction(session, name):
                    session.multi_failed = True
                error = UnknownCommandError(unknown_command_text(args)[4:])
                admission.count_error(server, server.unknown, error)
                batch.append(server.unknown)
                out.append(encode_error_line(f"ERR {error.message}"))
                continue
            command, counters, level = found
            batch.append(counters)
            try:
                if (
                    session.pubsub_outbox is not None
                    and session.protocol == 2
                    and (session.channels or session.patterns)
                    and name not in ALLOWED_WHILE_SUBSCRIBED
                ):
                    raise BadRequestError(subscribed_text(args[0]))
                if not arity_ok(command.arity, len(args)):
                    name_text = args[0].decode("utf-8", "replace").lower()
                    raise BadRequestError(f"wrong number of arguments for '{name_text}' command")
                if level > session.level:
                    session.multi_failed = in_transaction(session, name) or session.multi_failed
                    out.append(self._refusal(name, session, counters))
                    continue
                if in_transaction(session, name):
                    out.append(queue(session, name, command, args))
                    continue
                session.current_command = counters.name
                if command.is_async:
                    reply, offset = await command.handler(self, session, args)
                else:
                    reply, offset = command.handler(self, session, args)
            except BoltError as exc:
                if in_transaction(session, name):
                    session.multi_failed = True  # EXEC will answer EXECABORT
                admission.count_error(server, counters, exc)
                out.append(encode_error_line(resp_error_text(exc)))
                continue
            except Exception as exc:
                internal = admission.internal_error(counters.name, exc)
                admission.count_error(server, counters, internal)
                out.append(encode_error_line(f"ERR {internal.message}"))
                continue
            out.append(reply)
            if offset >= 0:
                writes.append((len(out) - 1, counters))
                max_offset = offset
            if session.close_after_reply:
                break
        await self._finish_batch(stream, session, out, writes, max_offset)
        session.current_command = None
        record_batch(batch, time.perf_counter() - started)
        if session.close_after_reply:
            await self._goodbye(stream, b"", session)
            return False
        return True

    async def _finish_batch(
        self,
        stream: trio.abc.Stream,
        session: RespSession,
        out: list[bytes],
        writes: list[tuple[int, CommandCounters]],
        max_offset: int,
    ) -> None:
        """Wait once for the batch's last write to be durable, then send every reply."""
        if max_offset >= 0:
            try:
                await self.engine.wait_durable(max_offset)
            except DiskError as exc:
                for index, write_counters in writes:
                    admission.count_error(self.server, write_counters, exc)
                    out[index] = encode_error_line(resp_error_text(exc))
        if out:
            data = out[0] if len(out) == 1 else b"".join(out)
            if session.pubsub_outbox is not None:
                await session.pubsub_outbox.send(data)  # in order with the messages pushed to it
            else:
                await stream.send_all(data)

    async def _protocol_error(
        self, stream: trio.abc.Stream, session: RespSession, error: ProtocolError
    ) -> None:
        logger.info("closing RESP connection from %s: %s", session.address, error.message)
        admission.count_error(self.server, None, error)
        await self._goodbye(stream, encode_error_line(f"ERR {error.message}"))

    def _refusal(self, name: bytes, session: RespSession, counters: CommandCounters) -> bytes:
        if session.level == LEVEL_NONE:
            error: BoltError = AuthenticationError("authentication required")
            server_text = "NOAUTH Authentication required."
        else:
            error = NoPermissionError(f"'{name.decode(errors='replace').lower()}'")
            server_text = (
                f"NOPERM this user has no permissions to run the "
                f"'{name.decode(errors='replace').lower()}' command"
            )
        admission.count_error(self.server, counters, error)
        return encode_error_line(server_text)

    async def _goodbye(
        self, stream: trio.abc.Stream, last: bytes, session: RespSession | None = None
    ) -> None:
        """Send ``last`` (may be empty), then close without a TCP reset (a
        subscribed session's sender closes it, after what it still holds)."""
        if session is not None and session.pubsub_outbox is not None:
            with trio.move_on_after(_GOODBYE_SECONDS):
                if last:
                    await session.pubsub_outbox.send(last)
            session.pubsub_outbox.close()
            return
        with trio.move_on_after(_GOODBYE_SECONDS):
            try:
                if last:
                    await stream.send_all(last)
                if isinstance(stream, trio.SocketStream):
                    await stream.send_eof()
                while await stream.receive_some(RECEIVE_BYTES):
                    pass
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
        await trio.aclose_forcefully(stream)
