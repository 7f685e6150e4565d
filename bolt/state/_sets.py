"""Sets: SADD/SREM/SMEMBERS/SCARD/SISMEMBER over the add-wins OR-set.

See :mod:`bolt.state._handlers` for the rules every handler follows.
"""

from __future__ import annotations

from typing import Any

from bolt.events import (
    SetAdded,
    SetRemoved,
)
from bolt.state import _validate as check
from bolt.state._entry import (
    SET,
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

# --- sets --------------------------------------------------------------------------


def _members(ks: Keyspace, db: str, key: str, now: int) -> Any:
    entry, kind = visible(ks, db, key, now)
    if kind == TOMBSTONE:
        return None
    expect(kind, SET)
    assert entry is not None and entry.bodies is not None
    return entry.bodies[SET]


def _member_args(name: str, args: list[Any]) -> tuple[str, list[str | bytes]]:
    check.arity(name, args, 2, -1)
    check.batch(name, args[1:])
    return check.key(args[0]), [check.value(m, "member") for m in args[1:]]


def cmd_sadd(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    key, members = _member_args("SADD", args)
    current = _members(ks, db, key, now)
    new = tuple(dict.fromkeys(m for m in members if current is None or m not in current))
    if not new:
        return 0, None
    seq, hlc = ctx.stamp()
    return len(new), [SetAdded(ctx.origin, seq, hlc, db, key, new)]


def cmd_srem(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    key, members = _member_args("SREM", args)
    current = _members(ks, db, key, now)
    if current is None:
        return 0, None
    removed = tuple((m, tuple(current.tags(m))) for m in dict.fromkeys(members) if m in current)
    if not removed:
        return 0, None
    seq, hlc = ctx.stamp()
    return len(removed), [SetRemoved(ctx.origin, seq, hlc, db, key, removed)]


def cmd_smembers(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("SMEMBERS", args, 1)
    current = _members(ks, db, check.key(args[0]), now)
    return ([] if current is None else list(current)), None


def cmd_scard(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("SCARD", args, 1)
    current = _members(ks, db, check.key(args[0]), now)
    return (0 if current is None else len(current)), None


def cmd_sismember(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("SISMEMBER", args, 2)
    current = _members(ks, db, check.key(args[0]), now)
    member = check.value(args[1], "member")
    return (current is not None and member in current), None


SPECS = [
    CommandSpec("SADD", cmd_sadd, "write", True, "set"),
    CommandSpec("SREM", cmd_srem, "write", False, "set"),
    CommandSpec("SMEMBERS", cmd_smembers, "read", False, "set"),
    CommandSpec("SCARD", cmd_scard, "read", False, "set"),
    CommandSpec("SISMEMBER", cmd_sismember, "read", False, "set"),
]
"""This module's commands, for the table in :mod:`bolt.state._commands`."""
