"""Admission, shared by the Bolt port and the RESP port: one piece of code for both.

Theory of operation
-------------------
Both listeners admit a connection the same way and account for it in the same
:class:`~bolt.server.Server` (one ``BOLT_MAX_CONNECTIONS``, one session table,
one error count, one partial-frame budget):

1. :func:`accept_stream`: the peer's address, ``TCP_NODELAY``, and the TLS
   handshake (within ``HANDSHAKE_TIMEOUT_SECONDS``) when TLS is on;
2. :func:`refusal`: the error to tell a connection that cannot be admitted now
   (shutting down, or at ``BOLT_MAX_CONNECTIONS``: counted, and logged at
   most every ten seconds);
3. :func:`registered`: a new session, with the server's next id, in the
   session table for as long as the connection lives (so ``STATS``, role
   changes, shutdown and the session watcher -- login timeout, idle timeout,
   output stall -- see it, whichever port it came in on).

While a session reads, :func:`admit_buffered` moves the bytes it holds in a
partial frame into the server-wide budget (``limits.partial_frames_bytes_max``):
a receive that takes the server past it gets :func:`over_budget` and its
connection is closed (``INPUT_BUDGET``). :func:`count_error` and
:func:`internal_error` are the error accounting both ports report through.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from bolt import limits
from bolt.errors import (
    BoltError,
    InputBudgetError,
    ServerError,
    ShuttingDownError,
    TooManyConnectionsError,
)
from bolt.server._auth import LEVEL_ADMIN, LEVEL_NONE, MODE_REQUIRED
from bolt.server._session import Session, format_address
from bolt.server._tls import HANDSHAKE_TIMEOUT_SECONDS

if TYPE_CHECKING:
    from bolt.server._latency import CommandCounters

logger = logging.getLogger("bolt.server")

REFUSAL_LOG_INTERVAL_SECONDS = 10.0
"""At most one "too many connections" warning per this many seconds."""

S = TypeVar("S", bound=Session)


async def accept_stream(
    socket_stream: trio.SocketStream, ssl_context: Any
) -> tuple[trio.abc.Stream, str] | None:
    """The stream to serve and the peer's ``host:port``; None if the peer is gone
    or its TLS handshake failed or timed out (logged)."""
    try:
        address = format_address(socket_stream.socket.getpeername())
        # Replies are written whole, once per batch: never hold them back.
        socket_stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        return None  # reset before we looked
    if ssl_context is None:
        return socket_stream, address
    ssl_stream = trio.SSLStream(socket_stream, ssl_context, server_side=True)
    with trio.move_on_after(HANDSHAKE_TIMEOUT_SECONDS) as scope:
        try:
            await ssl_stream.do_handshake()
        except trio.BrokenResourceError as exc:
            logger.info("TLS handshake with %s failed: %s", address, exc.__cause__ or exc)
            return None
    if scope.cancelled_caught:
        logger.info("TLS handshake with %s timed out", address)
        return None
    return ssl_stream, address


def refusal(server: Any, address: str) -> BoltError | None:
    """Why ``server`` cannot admit a connection from ``address`` now, or None.

    A refusal for ``BOLT_MAX_CONNECTIONS`` is counted in
    ``server.connections_refused`` and logged at most every
    :data:`REFUSAL_LOG_INTERVAL_SECONDS`.
    """
    if server.closing:
        return ShuttingDownError("the server is shutting down")
    if len(server.sessions) < server.max_connections:
        return None
    server.connections_refused += 1
    now = trio.current_time()
    if now - server._last_refusal_log >= REFUSAL_LOG_INTERVAL_SECONDS:
        server._last_refusal_log = now
        logger.warning(
            "refusing connection from %s: at BOLT_MAX_CONNECTIONS=%d (%d refused so far)",
            address,
            server.max_connections,
            server.connections_refused,
        )
    return TooManyConnectionsError(
        f"too many connections: the server is at its limit of {server.max_connections} "
        "(BOLT_MAX_CONNECTIONS); try again later"
    )


@contextmanager
def registered(
    server: Any, address: str, session_class: Callable[[int, str, int], S]
) -> Iterator[S]:
    """A new session of ``session_class`` in ``server.sessions`` while the block runs.

    Without authentication the session starts with the admin level (it needs
    no login); with it, with none until it logs in.
    """
    server._next_session_id += 1
    level = LEVEL_NONE if server.mode == MODE_REQUIRED else LEVEL_ADMIN
    session = session_class(server._next_session_id, address, level)
    server.sessions[session.id] = session
    server.connections_total += 1
    try:
        yield session
    finally:
        del server.sessions[session.id]
        server.partial_bytes -= session.buffered
        session.buffered = 0


def admit_buffered(server: Any, session: Session, buffered: int) -> bool:
    """Move ``session``'s partial-frame bytes in the server's budget; False: over it."""
    grew = buffered > session.buffered
    server.partial_bytes += buffered - session.buffered
    session.buffered = buffered
    return not grew or server.partial_bytes <= limits.partial_frames_bytes_max


def over_budget(server: Any) -> InputBudgetError:
    """The error for the connection that took the server past its partial-frame budget."""
    return InputBudgetError(
        f"the server holds {server.partial_bytes} bytes of partially received requests, over "
        f"its budget of {limits.partial_frames_bytes_max}; send smaller requests or retry"
    )


def count_error(server: Any, counters: CommandCounters | None, error: BoltError) -> BoltError:
    """Count ``error`` (for ``STATS``/metrics), against ``counters`` if given; return it."""
    if counters is not None:
        counters.errors += 1
    key = (error.code, error.name)
    server.errors[key] = server.errors.get(key, 0) + 1
    return error


def count_close(server: Any, reason: str, error: BoltError) -> None:
    """Count a connection closed for a hardening ``reason`` (``bolt_connections_closed_total``)."""
    server.closed_by_reason[reason] = server.closed_by_reason.get(reason, 0) + 1
    count_error(server, None, error)


def internal_error(command: str, exc: Exception) -> ServerError:
    """Log an unexpected exception of ``command`` and return the error to answer with."""
    logger.error("internal error while running %r", command, exc_info=exc)
    return ServerError(f"internal error while running '{command}': {type(exc).__name__}")
