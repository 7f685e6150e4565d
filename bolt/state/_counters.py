"""Plain counters (INCR and friends: LWW of the result) and CRDT counters (CINCR...: PN-counter).

See :mod:`bolt.state._handlers` for the rules every handler follows.
"""

from __future__ import annotations

from typing import Any

from bolt.events import (
    CounterSet,
    CrdtCounterChanged,
)
from bolt.state import _validate as check
from bolt.state._entry import (
    COUNTER,
    CRDT_COUNTER,
    STRING,
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

# --- plain counters ---------------------------------------------------------------


def _incr(ks: Keyspace, ctx: Stamper, db: str, key: str, delta: int, now: int) -> Reply:
    entry, kind = visible(ks, db, key, now)
    expect(kind, STRING, COUNTER)
    current = 0
    expires = 0
    if entry is not None and kind != TOMBSTONE:
        current = entry.value if kind == COUNTER else check.stored_integer(entry.value)
        expires = entry.expires_at
    result = check.checked_sum(current, delta)
    seq, hlc = ctx.stamp()
    return result, [CounterSet(ctx.origin, seq, hlc, db, key, result, expires)]


def cmd_incr(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("INCR", args, 1)
    return _incr(ks, ctx, db, check.key(args[0]), 1, now)


def cmd_decr(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("DECR", args, 1)
    return _incr(ks, ctx, db, check.key(args[0]), -1, now)


def cmd_incrby(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("INCRBY", args, 2)
    return _incr(ks, ctx, db, check.key(args[0]), check.integer(args[1], "delta"), now)


def cmd_decrby(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("DECRBY", args, 2)
    delta = check.integer(args[1], "delta")
    return _incr(ks, ctx, db, check.key(args[0]), check.checked_sum(0, -delta), now)


# --- CRDT counters ---------------------------------------------------------------


def _cincr(ks: Keyspace, ctx: Stamper, db: str, key: str, delta: int, now: int) -> Reply:
    entry, kind = visible(ks, db, key, now)
    expect(kind, CRDT_COUNTER)
    value = 0
    positive = negative = 0
    if entry is not None and entry.bodies and CRDT_COUNTER in entry.bodies:
        counter = entry.bodies[CRDT_COUNTER]
        value = counter.value()
        positive, negative = counter.totals(ctx.origin)
    result = check.checked_sum(value, delta)
    if delta >= 0:
        positive = check.checked_sum(positive, delta)
    else:
        negative = check.checked_sum(negative, -delta)
    seq, hlc = ctx.stamp()
    event = CrdtCounterChanged(ctx.origin, seq, hlc, db, key, positive, negative)
    return result, [event]


def cmd_cincr(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("CINCR", args, 1)
    return _cincr(ks, ctx, db, check.key(args[0]), 1, now)


def cmd_cdecr(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("CDECR", args, 1)
    return _cincr(ks, ctx, db, check.key(args[0]), -1, now)


def cmd_cincrby(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("CINCRBY", args, 2)
    return _cincr(ks, ctx, db, check.key(args[0]), check.integer(args[1], "n"), now)


def cmd_cget(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("CGET", args, 1)
    entry, kind = visible(ks, db, check.key(args[0]), now)
    if kind == TOMBSTONE:
        return 0, None
    expect(kind, CRDT_COUNTER)
    assert entry is not None and entry.bodies is not None
    return entry.bodies[CRDT_COUNTER].value(), None


SPECS = [
    CommandSpec("INCR", cmd_incr, "write", True, "incr"),
    CommandSpec("DECR", cmd_decr, "write", True, "incr"),
    CommandSpec("INCRBY", cmd_incrby, "write", True, "incr"),
    CommandSpec("DECRBY", cmd_decrby, "write", True, "incr"),
    CommandSpec("CINCR", cmd_cincr, "write", True, "incr"),
    CommandSpec("CDECR", cmd_cdecr, "write", True, "incr"),
    CommandSpec("CINCRBY", cmd_cincrby, "write", True, "incr"),
    CommandSpec("CGET", cmd_cget, "read", False, "get"),
]
"""This module's commands, for the table in :mod:`bolt.state._commands`."""
