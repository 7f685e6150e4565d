"""Per-connection state: who is connected, as whom, and what it is doing.

A :class:`Session` is created when a connection is admitted and dropped when
it closes. The hot path reads ``level`` (the role's integer level) for the
permission check and bumps ``requests`` once per batch; everything else is
for ``STATS`` (the ``clients`` list) and for shutdown: ``receive_scope`` is
the session's cancel scope and ``idle`` says it waits in ``receive_some``,
so a graceful stop can wake idle connections without interrupting one that
is mid-batch.

The hardening fields serve the server's session watcher and the connection
loop: ``logged_in`` (logged in, or sent HELLO when authentication is off:
the small pre-login frame limit and the login timeout end there),
``last_active`` (``time.perf_counter`` at the last batch, for the idle
timeout), ``sending_since`` (when a send that has not finished began, for the
output stall limit; 0.0 when not sending), ``buffered`` (bytes of a partial
frame counted in the server's budget) and ``close_reason`` (the error a
watcher-initiated close tells the client). ``tasks``, ``outbox`` and
``watch_scope`` serve pushes (:mod:`bolt.server._pushes`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from bolt.errors import BoltError, IdleTimeoutError, LoginTimeoutError, OutputLimitError
from bolt.server._auth import LEVEL_NONE, ROLE_OF_LEVEL
from bolt.wire import format_address as wire_address

if TYPE_CHECKING:
    from bolt.server._pushes import Outbox


class Session:
    """One client connection's state (mutable; owned by its connection task)."""

    __slots__ = (
        "address",
        "buffered",
        "client_name",
        "close_after_reply",
        "close_reason",
        "connected_at",
        "current_command",
        "id",
        "idle",
        "last_active",
        "level",
        "logged_in",
        "outbox",
        "pending_login",
        "receive_scope",
        "requests",
        "sending_since",
        "stream",
        "tasks",
        "user",
        "watch_scope",
    )

    def __init__(self, session_id: int, address: str, level: int = LEVEL_NONE) -> None:
        self.id = session_id
        self.address = address
        self.user: str | None = "admin" if level else None
        self.level = level
        self.client_name: str | None = None
        self.connected_at = time.monotonic()
        self.requests = 0
        self.current_command: str | None = None
        self.close_after_reply = False
        self.receive_scope: trio.CancelScope | None = None
        self.idle = False
        self.logged_in = False
        self.pending_login: Any = None  # a challenge awaiting LOGIN (bolt.server._login)
        self.last_active = time.perf_counter()
        self.sending_since = 0.0
        self.buffered = 0
        self.close_reason: BoltError | None = None
        self.stream: trio.abc.Stream | None = None  # the connection (for the sender task)
        self.tasks: trio.Nursery | None = None  # the connection's own tasks (sender, watcher)
        self.outbox: Outbox | None = None  # set by the first WATCH: then one task sends
        self.watch_scope: trio.CancelScope | None = None  # the running watch, if any

    @property
    def role(self) -> str | None:
        """The role name of the logged-in user, or None before login."""
        return ROLE_OF_LEVEL.get(self.level)

    @property
    def host(self) -> str:
        """The client's address without the port (the back-off key)."""
        return self.address.rsplit(":", 1)[0]

    def log_in(self, user: str, level: int) -> None:
        """Make this session act as ``user`` with the role ``level``."""
        self.user = user
        self.level = level
        self.logged_in = True

    def log_out(self) -> None:
        """Drop the login (the user was deleted)."""
        self.user = None
        self.level = LEVEL_NONE

    def describe(self, now: float | None = None) -> dict[str, Any]:
        """The ``STATS`` ``clients`` entry of this session."""
        now = time.monotonic() if now is None else now
        return {
            "id": self.id,
            "address": self.address,
            "name": self.client_name,
            "user": self.user,
            "role": self.role,
            "age_seconds": round(now - self.connected_at, 3),
            "requests": self.requests,
            "current_command": self.current_command,
        }


@dataclass(frozen=True)
class Timeouts:
    """The server's session time limits, in seconds (idle 0: off)."""

    login_seconds: float
    idle_seconds: float
    output_stall_seconds: float


def timed_out(
    session: Session, now: float, now_monotonic: float, timeouts: Timeouts
) -> tuple[str, BoltError | None]:
    """Whether ``session`` is past a time limit: ``(reason, error)`` or ``("", None)``.

    Args:
        now: ``time.perf_counter()`` (idle and send times use it).
        now_monotonic: ``time.monotonic()`` (the connection's age uses it).
    """
    sending = session.sending_since
    if sending and now - sending > timeouts.output_stall_seconds:
        return "output_limit", OutputLimitError(
            f"the client left its replies unread for more than "
            f"{timeouts.output_stall_seconds:g} s (BOLT_OUTPUT_STALL_MS)"
        )
    if not session.logged_in:
        # Mid-batch only while no data command can run (a login waiting for scrypt).
        if (session.idle or session.level == LEVEL_NONE) and (
            now_monotonic - session.connected_at > timeouts.login_seconds
        ):
            return "login_timeout", LoginTimeoutError(
                f"no login within {timeouts.login_seconds:g} s of connecting "
                "(send HELLO with user and password, or AUTH)"
            )
        return "", None
    idle = timeouts.idle_seconds
    if idle and session.idle and now - session.last_active > idle:
        return "idle_timeout", IdleTimeoutError(
            f"idle for more than {idle:g} s (BOLT_IDLE_TIMEOUT_MS)"
        )
    return "", None


def format_address(sockname: Any) -> str:
    """``host:port`` of a socket address tuple (``[v6]:port`` for IPv6)."""
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return wire_address(sockname[0], sockname[1])
    return str(sockname)
