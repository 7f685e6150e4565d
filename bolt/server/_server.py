"""The client listener: admission, TLS, the sessions, and a graceful shutdown.

Theory of operation
-------------------
The per-connection loop (the hot path) is :mod:`bolt.server._connection`;
this module accepts connections and owns what the sessions share: the
dispatch routes (:mod:`bolt.server._dispatch`) and the command counters
they point at, the error counts, the live sessions.

**Admission** (:mod:`bolt.server._admission`, shared with the RESP port).
Over ``BOLT_MAX_CONNECTIONS`` a new connection is still accepted, told
``TOO_MANY_CONNECTIONS`` (id 0) and closed, so the client sees a clear error
rather than a silent drop.

**Shutdown** (:meth:`Server.shutdown`): stop accepting; wake every session
that is idle in ``receive_some`` (by cancelling the session's scope, which
is done only while it is idle) and tell it ``SHUTTING_DOWN``; a session in
the middle of a batch finishes it -- durability wait and send included --
and then stops. Sessions get up to ``limits.shutdown_grace_ms`` before the
rest are cancelled.

**Timeouts** (the session watcher, every ``limits.session_check_interval_ms``):
a connection that has not logged in -- or, without authentication, sent its
HELLO -- within the login timeout is closed with ``LOGIN_TIMEOUT`` (so
silent sockets cannot hold every ``BOLT_MAX_CONNECTIONS`` slot); a
logged-in session idle in ``receive_some`` past the idle timeout (off by
default) with ``IDLE_TIMEOUT``; a connection whose pending send has not
finished for ``BOLT_OUTPUT_STALL_MS`` with ``OUTPUT_LIMIT``. Each close is
counted by reason (``bolt_connections_closed_total{reason}``).
"""

from __future__ import annotations

import functools
import logging
import ssl
import time
from collections.abc import Callable
from typing import Any

import trio

from bolt import __version__, limits
from bolt.node import Engine
from bolt.server import _admission as admission
from bolt.server._auth import (
    LEVEL_NONE,
    MODE_REQUIRED,
    BackOff,
    PasswordChecker,
)
from bolt.server._connection import ConnectionLoop
from bolt.server._dispatch import build_routes, unknown_route
from bolt.server._latency import WINDOW_SECONDS, CommandCounters
from bolt.server._session import Session, Timeouts, timed_out
from bolt.server._stats import build_stats
from bolt.wire import PROTOCOL_VERSION, StatsReply

logger = logging.getLogger("bolt.server")


async def open_listeners(host: str, port: int, variable: str) -> list[trio.SocketListener]:
    """Listen on every address of ``host``; with port 0, the same free port on all.

    Raises:
        OSError: the address cannot be bound (the message names ``variable``).
    """
    try:
        listeners = await trio.open_tcp_listeners(port, host=host)
        chosen = listeners[0].socket.getsockname()[1]
        if port == 0 and len(listeners) > 1:
            # "localhost" may mean 127.0.0.1 and ::1: give both the same port.
            for listener in listeners:
                await listener.aclose()
            listeners = await trio.open_tcp_listeners(chosen, host=host)
    except OSError as exc:
        raise OSError(
            exc.errno, f"cannot listen on {host}:{port} ({variable}): {exc.strerror or exc}"
        ) from exc
    return listeners


def build_command_table() -> dict[str, CommandCounters]:
    """One fresh :class:`CommandCounters` per known command (see :func:`build_routes`)."""
    return {name: route.counters for name, route in build_routes().items()}


class Server(ConnectionLoop):
    """Serves Bolt clients for one engine (see the module docstring).

    Args:
        engine: an open, running engine.
        mode: the auth mode from :func:`bolt.server.resolve_security`.
        max_connections: ``BOLT_MAX_CONNECTIONS``.
        ssl_context: TLS for the client port, or None.
        shutdown_grace_seconds: how long in-flight requests get at shutdown.
        checker: the password hasher/verifier (shared with the daemon's
            bootstrap, so its cache of verified logins carries over).
        login_timeout_seconds: ``BOLT_LOGIN_TIMEOUT_MS`` in seconds.
        idle_timeout_seconds: ``BOLT_IDLE_TIMEOUT_MS`` in seconds (0: off).
        output_stall_seconds: ``BOLT_OUTPUT_STALL_MS`` in seconds.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        mode: str,
        max_connections: int = limits.max_connections_default,
        ssl_context: ssl.SSLContext | None = None,
        shutdown_grace_seconds: float = limits.shutdown_grace_ms / 1000,
        checker: PasswordChecker | None = None,
        login_timeout_seconds: float = limits.login_timeout_ms_default / 1000,
        idle_timeout_seconds: float = limits.idle_timeout_ms_default / 1000,
        output_stall_seconds: float = limits.output_stall_ms_default / 1000,
    ) -> None:
        self.output_stall_seconds = output_stall_seconds
        self.timeouts = Timeouts(login_timeout_seconds, idle_timeout_seconds, output_stall_seconds)
        self.engine = engine
        self.login_timeout_seconds = login_timeout_seconds
        self.idle_timeout_seconds = idle_timeout_seconds
        self.partial_bytes = 0
        self.closed_by_reason: dict[str, int] = {}
        self.mode = mode
        self.max_connections = max_connections
        self.ssl_context = ssl_context
        self.shutdown_grace_seconds = shutdown_grace_seconds
        self.checker = checker or PasswordChecker()
        self.backoff = BackOff()
        self.routes = build_routes()
        self.unknown_route = unknown_route()
        # The metrics by command name (the routes' counters; the RESP listener adds its own).
        self.table = {name: route.counters for name, route in self.routes.items()}
        self.unknown = self.unknown_route.counters
        self.sessions: dict[int, Session] = {}
        self.connections_total = 0
        self.connections_refused = 0
        self.errors: dict[tuple[int, str], int] = {}
        self.keys_read_total = 0
        self.keys_hit_total = 0
        self.keys_missed_total = 0
        self.started_at = time.time()
        self.port = 0
        self.listening = False
        self.closing = False
        self.metrics_text: Callable[[], str] = lambda: ""
        self.cluster: Any = None  # the ClusterService on a node with peers (CLUSTER, HELLO)
        self._next_session_id = 0
        self._handlers_running = 0
        self._all_handlers_done = trio.Event()  # set when the last one ends at shutdown
        self._accept_scope: trio.CancelScope | None = None
        self._connections: trio.Nursery | None = None
        self._last_refusal_log = -admission.REFUSAL_LOG_INTERVAL_SECONDS

    # --- reports ----------------------------------------------------------------------

    def counters(self) -> list[CommandCounters]:
        """Every command's counters (known commands, then ``UNKNOWN``)."""
        return [*self.table.values(), self.unknown]

    def connection_counts(self) -> dict[str, int]:
        """``{"active", "total", "max", "refused"}``."""
        return {
            "active": len(self.sessions),
            "total": self.connections_total,
            "max": self.max_connections,
            "refused": self.connections_refused,
        }

    def stats(self) -> StatsReply:
        """The ``STATS`` reply (see :mod:`bolt.server._stats`)."""
        return build_stats(
            self.engine.statistics(),
            started_at=self.started_at,
            mode=self.mode,
            connections=self.connection_counts(),
            counters=self.counters(),
            sessions=list(self.sessions.values()),
            errors=self.errors,
            keys_read_total=self.keys_read_total,
            keys_hit_total=self.keys_hit_total,
            keys_missed_total=self.keys_missed_total,
            memory_warning_threshold=self.engine.config.memory_warning_threshold,
        )

    def hello_info(self, session: Session) -> dict[str, Any]:
        """The ``HELLO`` reply: who the server is and who the session is."""
        return {
            "server": "bolt",
            "version": __version__,
            "protocol": PROTOCOL_VERSION,
            "node_id": self.engine.origin,
            "mode": "standalone" if self.cluster is None else "cluster",
            "auth": self.mode,
            "logins": ["password", "challenge"],
            "user": session.user,
            "role": session.role,
            "client_id": session.id,
        }

    def user_changed(self, name: str, level: int) -> None:
        """Apply a role change or deletion to the live sessions of ``name``."""
        if self.mode != MODE_REQUIRED:
            return
        for session in self.sessions.values():
            if session.user == name:
                if level == LEVEL_NONE:
                    session.log_out()
                else:
                    session.level = level

    # --- listening --------------------------------------------------------------------

    async def serve(
        self,
        host: str,
        port: int,
        *,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` and serve until :meth:`shutdown` completes.

        ``task_status.started`` reports the real port (``port`` 0 picks a free
        one).

        Raises:
            OSError: the address cannot be bound.
        """
        listeners = await open_listeners(host, port, "BOLT_PORT")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as connections:
            self._connections = connections
            with trio.CancelScope() as accept_scope:
                self._accept_scope = accept_scope
                if self.closing:
                    accept_scope.cancel()
                async with trio.open_nursery() as accepting:
                    accepting.start_soon(self._rotate_windows)
                    accepting.start_soon(self._watch_sessions)
                    await accepting.start(
                        functools.partial(
                            trio.serve_listeners,
                            self._handle,
                            listeners,
                            handler_nursery=connections,
                        )
                    )
                    self.listening = True
                    task_status.started(self.port)
            self.listening = False
            await self._drain()
            connections.cancel_scope.cancel()

    async def _rotate_windows(self) -> None:
        while True:
            await trio.sleep(WINDOW_SECONDS)
            for counters in self.counters():
                counters.rotate()

    async def _watch_sessions(self) -> None:
        while True:
            await trio.sleep(limits.session_check_interval_ms / 1000)
            self.check_sessions(time.perf_counter(), time.monotonic())

    def check_sessions(self, now: float, now_monotonic: float) -> None:
        """Close the sessions past a timeout (see the module docstring).

        Args:
            now: ``time.perf_counter()`` (idle and send times use it).
            now_monotonic: ``time.monotonic()`` (connection ages use it).
        """
        for session in list(self.sessions.values()):
            if session.close_reason is not None or session.receive_scope is None:
                continue
            reason, error = timed_out(session, now, now_monotonic, self.timeouts)
            if error is not None:
                logger.info("closing connection from %s: %s", session.address, error.message)
                self.closed_by_reason[reason] = self.closed_by_reason.get(reason, 0) + 1
                self._count_error(None, error)
                session.close_reason = error
                session.receive_scope.cancel()

    def shutdown(self) -> None:
        """Stop accepting and let the sessions finish (see the module docstring)."""
        if self.closing:
            return
        self.closing = True
        if self._accept_scope is not None:
            self._accept_scope.cancel()
        for session in self.sessions.values():
            if session.idle and session.receive_scope is not None:
                session.receive_scope.cancel()

    def force_stop(self) -> None:
        """Cancel every session now (a second signal during shutdown)."""
        self.shutdown()
        if self._connections is not None:
            self._connections.cancel_scope.cancel()

    async def _drain(self) -> None:
        if self._handlers_running:
            with trio.move_on_after(self.shutdown_grace_seconds):
                await self._all_handlers_done.wait()
        if self._handlers_running:
            logger.warning(
                "%d connections still busy after %.1fs; closing them",
                self._handlers_running,
                self.shutdown_grace_seconds,
            )

    # --- one connection -----------------------------------------------------------------

    async def _handle(self, stream: trio.SocketStream) -> None:
        self._handlers_running += 1
        try:
            await self._connection(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the peer went away; nothing to tell it
        except Exception:
            logger.exception("connection handler failed")
        finally:
            self._handlers_running -= 1
            if not self._handlers_running and self.closing:
                self._all_handlers_done.set()

    async def _connection(self, socket_stream: trio.SocketStream) -> None:
        accepted = await admission.accept_stream(socket_stream, self.ssl_context)
        if accepted is None:
            return
        stream, address = accepted
        refused = admission.refusal(self, address)
        if refused is not None:
            await self._goodbye(stream, refused)
            return
        with admission.registered(self, address, Session) as session:
            async with trio.open_nursery() as tasks:  # the session's sender and watcher
                session.tasks = tasks
                session.stream = stream
                await self._session_loop(stream, session)
                tasks.cancel_scope.cancel()
