"""Lists: LPUSH/RPUSH/LPOP/RPOP/LRANGE/LLEN over the sequence CRDT.

See :mod:`bolt.state._handlers` for the rules every handler follows.
"""

from __future__ import annotations

from typing import Any

from bolt.events import (
    ListPopped,
    ListPushed,
)
from bolt.state import _validate as check
from bolt.state._entry import (
    LIST,
    TOMBSTONE,
)
from bolt.state._handlers import (
    CommandSpec,
    Reply,
    Stamper,
    expect,
    visible,
)
from bolt.state._keyspace import Keyspace

# --- lists -----------------------------------------------------------------------


def _push(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int, left: bool) -> Reply:
    name = "LPUSH" if left else "RPUSH"
    check.arity(name, args, 2, -1)
    key = check.key(args[0])
    check.batch(name, args[1:])
    values = tuple(check.value(v, "element") for v in args[1:])
    entry, kind = visible(ks, db, key, now)
    expect(kind, LIST)
    length = len(entry.bodies[LIST]) if kind == LIST and entry and entry.bodies else 0
    seq, hlc = ctx.stamp()
    return length + len(values), [ListPushed(ctx.origin, seq, hlc, db, key, left, values)]


def cmd_lpush(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    return _push(ks, ctx, db, args, now, True)


def cmd_rpush(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    return _push(ks, ctx, db, args, now, False)


def _pop(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int, left: bool) -> Reply:
    check.arity("LPOP" if left else "RPOP", args, 1)
    key = check.key(args[0])
    entry, kind = visible(ks, db, key, now)
    if kind == TOMBSTONE:
        return None, None
    expect(kind, LIST)
    assert entry is not None and entry.bodies is not None
    sequence = entry.bodies[LIST]
    position = sequence.first() if left else sequence.last()
    value = sequence.values[position]
    seq, hlc = ctx.stamp()
    return value, [ListPopped(ctx.origin, seq, hlc, db, key, (position,))]


def cmd_lpop(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    return _pop(ks, ctx, db, args, now, True)


def cmd_rpop(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    return _pop(ks, ctx, db, args, now, False)


def _sequence(ks: Keyspace, db: str, key: str, now: int) -> Any:
    entry, kind = visible(ks, db, key, now)
    if kind == TOMBSTONE:
        return None
    expect(kind, LIST)
    assert entry is not None and entry.bodies is not None
    return entry.bodies[LIST]


def cmd_lrange(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("LRANGE", args, 1, 3)
    key = check.key(args[0])
    start = check.integer(args[1], "start") if len(args) > 1 else 0
    stop = check.integer(args[2], "stop") if len(args) > 2 else -1
    sequence = _sequence(ks, db, key, now)
    return ([] if sequence is None else sequence.range(start, stop)), None


def cmd_llen(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("LLEN", args, 1)
    sequence = _sequence(ks, db, check.key(args[0]), now)
    return (0 if sequence is None else len(sequence)), None


SPECS = [
    CommandSpec("LPUSH", cmd_lpush, "write", True, "list"),
    CommandSpec("RPUSH", cmd_rpush, "write", True, "list"),
    CommandSpec("LPOP", cmd_lpop, "write", False, "list"),
    CommandSpec("RPOP", cmd_rpop, "write", False, "list"),
    CommandSpec("LRANGE", cmd_lrange, "read", False, "list"),
    CommandSpec("LLEN", cmd_llen, "read", False, "list"),
]
"""This module's commands, for the table in :mod:`bolt.state._commands`."""
