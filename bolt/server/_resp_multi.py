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
wait (as in Redis); ``SUBSCRIBE`` and friends are not allowed. There is no
``WATCH``: across a cluster, optimistic locking on one node's view would
promise what replication cannot keep.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bolt import limits
from bolt.errors import BadRequestError, BoltError
from bolt.server import _admission as admission
from bolt.server._auth import LEVELS
from bolt.server._resp_blocking import IN_TRANSACTION
from bolt.server._resp_commands import RespCommand
from bolt.server._resp_session import resp_error_text
from bolt.wire import OK, encode_error_line

if TYPE_CHECKING:
    from bolt.server._latency import CommandCounters
    from bolt.server._resp_server import RespListener, RespSession

Result = tuple[bytes, int]

CONTROL = frozenset({b"MULTI", b"EXEC", b"DISCARD"})
"""The commands that drive a transaction (never queued)."""
QUEUED = b"+QUEUED\r\n"
EXECABORT = b"-EXECABORT Transaction discarded because of previous errors.\r\n"
_NOT_QUEUEABLE = frozenset({b"SUBSCRIBE", b"PSUBSCRIBE", b"UNSUBSCRIBE", b"PUNSUBSCRIBE"})


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
    return OK, -1


def r_exec(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``EXEC`` → one reply per queued command (or ``-EXECABORT``)."""
    if session.multi is None:
        raise BadRequestError("EXEC without MULTI")
    queued, failed = session.multi, session.multi_failed
    session.multi, session.multi_failed = None, False
    if failed:
        return EXECABORT, -1
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
}
"""The transaction commands of the RESP port."""
MULTI_LEVELS: dict[str, int] = {
    "MULTI": LEVELS["readonly"],
    "EXEC": LEVELS["readonly"],
    "DISCARD": LEVELS["readonly"],
}
"""The role level each needs (the queued commands are checked one by one)."""


def in_transaction(session: Any, name: bytes) -> bool:
    """True if ``name`` is to be queued (a transaction is open and it drives none)."""
    return session.multi is not None and name not in CONTROL
