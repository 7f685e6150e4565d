"""The parts of the RESP port every handler module shares: the session and the
error lines.

A :class:`RespSession` is a Bolt :class:`~bolt.server._session.Session` plus
the RESP version (2, or 3 after ``HELLO 3``), the selected database, the
client library's name and its pub/sub state. :func:`resp_error_text` picks a
Redis error line by the error's class (never its text), with Redis's own
wording where clients and people know it.
"""

from __future__ import annotations

from typing import Any

import trio

from bolt import limits
from bolt.errors import (
    AuthenticationError,
    BoltError,
    HashValueNotIntegerError,
    IntegerOverflowError,
    KeyNotFoundError,
    NoPermissionError,
    NotFloatError,
    NotIntegerError,
    OutOfMemoryError,
    ProtocolError,
    WrongTypeError,
)
from bolt.server._auth import LEVEL_NONE
from bolt.server._session import Session

# Redis's own texts for the errors whose wording clients and people know.
_FIXED_TEXT: dict[type, str] = {
    WrongTypeError: "WRONGTYPE Operation against a key holding the wrong kind of value",
    NotIntegerError: "ERR value is not an integer or out of range",
    IntegerOverflowError: "ERR increment or decrement would overflow",
    NotFloatError: "ERR value is not a valid float",
    OutOfMemoryError: "OOM command not allowed when used memory > 'maxmemory'.",
    KeyNotFoundError: "ERR no such key",
    HashValueNotIntegerError: "ERR hash value is not an integer",
}
_PREFIX: dict[type, str] = {NoPermissionError: "NOPERM", AuthenticationError: "WRONGPASS"}


def resp_error_text(error: BoltError) -> str:
    """The Redis error line (without ``-``) for a Bolt error, chosen by its class."""
    for cls in type(error).__mro__:
        text = _FIXED_TEXT.get(cls)
        if text is not None:
            return text
        prefix = _PREFIX.get(cls)
        if prefix is not None:
            return f"{prefix} {error.message}"
    return f"ERR {error.message}"


def unknown_command_text(args: list[bytes]) -> str:
    """Redis's ``unknown command 'x', with args beginning with: 'a' 'b' `` text."""
    name = args[0][:128].decode("utf-8", "replace")
    words = "".join(f"'{a[:128].decode('utf-8', 'replace')}' " for a in args[1:20])
    return f"ERR unknown command '{name}', with args beginning with: {words}"


def subscribed_text(name: bytes) -> str:
    """Redis's error for a command a RESP2 subscriber may not send."""
    return (
        f"Can't execute '{name.decode('utf-8', 'replace').lower()}': only (P|S)SUBSCRIBE / "
        "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    )


def prelogin_error(session: Session, error: ProtocolError, full: bool) -> ProtocolError:
    """Add the pre-login frame limit to a protocol error of a session not logged in."""
    if full or session.logged_in:
        return error
    return ProtocolError(
        f"{error.message} (until a connection has logged in with AUTH, a command may "
        f"be at most {limits.prelogin_frame_bytes_max} bytes)"
    )


def arity_ok(arity: int, count: int) -> bool:
    """Whether ``count`` words (name included) fit Redis's ``arity`` (``-n``: at least n)."""
    return count == arity if arity > 0 else count >= -arity


class RespSession(Session):
    """A Redis client's session: a Bolt session plus its RESP version and database."""

    __slots__ = (
        "channels",
        "db",
        "db_index",
        "lib_name",
        "lib_version",
        "multi",
        "multi_failed",
        "patterns",
        "protocol",
        "pubsub_outbox",
        "stream",
        "watched",
    )

    def __init__(self, session_id: int, address: str, level: int = LEVEL_NONE) -> None:
        super().__init__(session_id, address, level)
        self.stream: trio.abc.Stream = None  # type: ignore[assignment]  # set on admission
        self.pubsub_outbox: trio.MemorySendChannel[bytes] | None = None  # once it subscribes
        self.channels: set[bytes] = set()
        self.patterns: set[bytes] = set()
        self.protocol = 2
        self.db = ""
        self.db_index = 0
        self.lib_name = ""
        self.lib_version = ""
        self.multi: list[tuple[Any, list[bytes]]] | None = None  # queued after MULTI
        self.multi_failed = False  # a command was refused while queueing: EXECABORT
        # WATCH: (db, key) -> its fingerprint when watched (bolt.server._resp_multi)
        self.watched: dict[tuple[str, bytes], int] | None = None
