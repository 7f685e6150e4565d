"""``MULTI``/``EXEC``/``DISCARD`` on the RESP port: queued, then run as one batch.

Theory of operation
-------------------
After ``MULTI`` a session's commands are checked (name, arity, permission)
and queued, each answered ``+QUEUED``; a command refused while queueing
marks the transaction failed, and its ``EXEC`` answers ``-EXECABORT`` and
runs nothing (Redis 2.6.5 and later). ``EXEC`` runs the queued commands one
after another with no await in between, so no other client's command runs
in the middle: on this node the transaction is isolated and all-or-nothing
against a crash only per command (each command is its own log record, so a
crash may keep the first few; the log is replayed in order). Errors of a
command at ``EXEC`` time (a wrong type) are answered in its slot and the
others still run, as Redis does. Durability is awaited once, for the last
write, before the ``EXEC`` reply is sent.

``BLPOP``/``BRPOP`` inside a transaction pop at once or answer nil, never
wait (as in Redis); ``SUBSCRIBE`` and friends are not allowed.

``WATCH key...`` notes each key's fingerprint (``KEYSTATE``: type, value,
expiry and the winning write's stamp, so a rewrite of the same value
counts); ``EXEC`` compares them first, with no await in between, and
answers a null array, running nothing, if any differs: a key written,
deleted or expired since, by any client or by replication. ``EXEC``,
``DISCARD`` and ``UNWATCH`` forget the watches. Unlike Redis, a key changed
and changed back (a push then a pop) compares equal. In a cluster the check
is against this node's state: a concurrent write on another node that has
not arrived yet is not seen (a node-local check, like ``SET NX``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bolt import limits
from bolt.errors import BadRequestError, BoltError
from bolt.server import _admission as admission
from bolt.server._auth import LEVELS
from bolt.server._resp_blocking import IN_TRANSACTION
from bolt.server._resp_commands import RespCommand, key_of
from bolt.server._resp_session import resp_error_text
from bolt.wire import OK, encode_error_line

if TYPE_CHECKING:
    from bolt.server._latency import CommandCounters
    from bolt.server._resp_server import RespListener, RespSession

Result = tuple[bytes, int]

CONTROL = frozenset({b"MULTI", b"EXEC", b"DISCARD", b"WATCH"})
"""The commands that drive a transaction (never queued; ``WATCH`` inside one
is refused without failing it, as in Redis)."""
QUEUED = b"+QUEUED\r\n"
EXECABORT = b"-EXECABORT Transaction discarded because of previous errors.\r\n"
_NOT_QUEUEABLE = frozenset({b"SUBSCRIBE", b"PSUBSCRIBE", b"UNSUBSCRIBE", b"PUNSUBSCRIBE"})
_EXEC_WATCH_FAILED = {2: b"*-1\r\n", 3: b"_\r\n"}  # Redis's null array, by protocol


def queue(session: RespSession, name: bytes, command: RespCommand, args: list[bytes]) -> bytes:
    """Queue one command of an open transaction; its reply is ``+QUEUED``.

    Raises:
        BadRequestError: the command may not run inside a transaction, or the
            queue is full (the caller marks the transaction failed).
    """
    assert session.multi is not None
    at_once = IN_TRANSACTION.get(name)
    if at_once is not None:
        command = command._replace(handler=at_once, is_async=False)
    if command.is_async or name in _NOT_QUEUEABLE:
        raise BadRequestError("Command not allowed inside a transaction")
    if len(session.multi) >= limits.resp_multi_commands_max:
        raise BadRequestError(
            f"a transaction may queue at most {limits.resp_multi_commands_max} commands"
        )
    session.multi.append((command, args))
    return QUEUED


def r_multi(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``MULTI`` → ``+OK``; the next commands are queued."""
    if session.multi is not None:
        raise BadRequestError("MULTI calls can not be nested")
    session.multi = []
    session.multi_failed = False
    return OK, -1


def r_discard(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``DISCARD`` → ``+OK``; the queued commands are dropped."""
    if session.multi is None:
        raise BadRequestError("DISCARD without MULTI")
    session.multi = None
    session.multi_failed = False
    session.watched = None
    return OK, -1


def r_watch(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``WATCH key [key ...]`` → ``+OK``; ``EXEC`` fails if one of them changes."""
    if session.multi is not None:
        raise BadRequestError("WATCH inside MULTI is not allowed")
    watched = session.watched if session.watched is not None else {}
    fresh = [k for k in dict.fromkeys(args[1:]) if (session.db, k) not in watched]
    if len(watched) + len(fresh) > limits.resp_watch_keys_max:
        raise BadRequestError(f"a session may watch at most {limits.resp_watch_keys_max} keys")
    if fresh:
        prints = _fingerprints(listener, session.db, fresh)
        for key, print_ in zip(fresh, prints, strict=True):
            watched[(session.db, key)] = print_  # a key watched again keeps its first note
    session.watched = watched
    return OK, -1


def r_unwatch(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``UNWATCH`` → ``+OK``; the watched keys are forgotten."""
    session.watched = None
    return OK, -1


def _fingerprints(listener: RespListener, db: str, keys: list[bytes]) -> list[int]:
    prints: list[int] = listener.engine.submit("KEYSTATE", [key_of(k) for k in keys], db)[0]
    return prints


def _watch_broken(listener: RespListener, session: RespSession) -> bool:
    """True if a watched key's fingerprint differs from the one noted at ``WATCH``."""
    watched, session.watched = session.watched, None
    if not watched:
        return False
    by_db: dict[str, list[tuple[bytes, int]]] = {}
    for (db, key), print_ in watched.items():
        by_db.setdefault(db, []).append((key, print_))
    for db, items in by_db.items():
        now = _fingerprints(listener, db, [key for key, _ in items])
        if any(a != b for (_, a), b in zip(items, now, strict=True)):
            return True
    return False


def r_exec(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``EXEC`` → one reply per queued command (or ``-EXECABORT``)."""
    if session.multi is None:
        raise BadRequestError("EXEC without MULTI")
    queued, failed = session.multi, session.multi_failed
    session.multi, session.multi_failed = None, False
    if failed:
        session.watched = None
        return EXECABORT, -1
    if _watch_broken(listener, session):
        return _EXEC_WATCH_FAILED[session.protocol], -1
    server = listener.server
    parts: list[bytes] = []
    last_offset = -1
    for command, words in queued:
        counters: CommandCounters | None = server.table.get(command.bolt_command)
        try:
            reply, offset = command.handler(listener, session, words)
        except BoltError as exc:
            admission.count_error(server, counters, exc)
            reply, offset = encode_error_line(resp_error_text(exc)), -1
        except Exception as exc:
            internal = admission.internal_error(command.bolt_command, exc)
            admission.count_error(server, counters, internal)
            reply, offset = encode_error_line(f"ERR {internal.message}"), -1
        parts.append(reply)
        last_offset = max(last_offset, offset)
    return b"*%d\r\n" % len(parts) + b"".join(parts), last_offset


_TX = ("fast", "allow_busy")

MULTI_COMMANDS: dict[bytes, RespCommand] = {
    b"MULTI": RespCommand(r_multi, 1, "MULTI", flags=_TX, first_key=0, last_key=0, step=0),
    b"EXEC": RespCommand(r_exec, 1, "EXEC", flags=_TX, first_key=0, last_key=0, step=0),
    b"DISCARD": RespCommand(r_discard, 1, "DISCARD", flags=_TX, first_key=0, last_key=0, step=0),
    b"WATCH": RespCommand(r_watch, -2, "KEYSTATE", flags=_TX, first_key=1, last_key=-1, step=1),
    b"UNWATCH": RespCommand(r_unwatch, 1, "KEYSTATE", flags=_TX, first_key=0, last_key=0, step=0),
}
"""The transaction commands of the RESP port."""
MULTI_LEVELS: dict[str, int] = {
    "MULTI": LEVELS["readonly"],
    "EXEC": LEVELS["readonly"],
    "DISCARD": LEVELS["readonly"],
    "KEYSTATE": LEVELS["readonly"],
}
"""The role level each needs (the queued commands are checked one by one)."""


def in_transaction(session: Any, name: bytes) -> bool:
    """True if ``name`` is to be queued (a transaction is open and it drives none)."""
    return session.multi is not None and name not in CONTROL
