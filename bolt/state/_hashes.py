"""Hashes: HSET/HGET/HMGET/HGETALL/HDEL/HEXISTS/HLEN/HINCRBY/HKEYS/HVALS.

A hash is an add-wins observed-remove map of last-writer-wins fields
(:class:`~bolt.crdt.ORMap`, DESIGN §4). A write logs each field's new value
with the tags it observed (it supersedes them); HINCRBY logs the resulting
value, so concurrent increments of one field on two nodes keep the later one
(as plain counters). HDEL logs the tags it observed: a concurrent write of
the field elsewhere survives it. The last field removed removes the key.

``HGETALL`` replies with a ``{field: value}`` dict in the fields' insertion
order (Redis's order for small hashes). See :mod:`bolt.state._handlers` for
the rules every handler follows.
"""

from __future__ import annotations

from typing import Any

from bolt.errors import BadRequestError, HashValueNotIntegerError, NotIntegerError
from bolt.events import HashFieldsDeleted, HashFieldsSet
from bolt.state import _validate as check
from bolt.state._entry import HASH, TOMBSTONE
from bolt.state._handlers import CommandSpec, Reply, Stamper, expect, visible
from bolt.state._keyspace import Keyspace


def hash_body(ks: Keyspace, db: str, key: str, now: int) -> Any:
    """The key's :class:`~bolt.crdt.ORMap`, or None if the key is absent.

    Raises:
        WrongTypeError: the key holds another type.
    """
    entry, kind = visible(ks, db, key, now)
    if kind == TOMBSTONE:
        return None
    expect(kind, HASH)
    assert entry is not None and entry.bodies is not None
    return entry.bodies[HASH]


def _field(item: Any) -> str | bytes:
    return check.value(item, "field")


def _fields_args(name: str, args: list[Any]) -> tuple[str, list[str | bytes]]:
    check.arity(name, args, 2, -1)
    check.batch(name, args[1:])
    return check.key(args[0]), [_field(f) for f in args[1:]]


def _set_event(
    ctx: Stamper, db: str, key: str, current: Any, values: dict[str | bytes, str | bytes]
) -> HashFieldsSet:
    observed = (lambda f: ()) if current is None else (lambda f: tuple(current.tags(f)))
    fields = tuple((f, v, observed(f)) for f, v in values.items())
    seq, hlc = ctx.stamp()
    return HashFieldsSet(ctx.origin, seq, hlc, db, key, fields)


def cmd_hset(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``HSET [key, field, value, ...]`` → the number of fields that were new."""
    check.arity("HSET", args, 3, -1)
    if len(args) % 2 == 0:
        raise BadRequestError("wrong number of arguments for 'hset' command")
    check.batch("HSET", args[1:])
    key = check.key(args[0])
    values: dict[str | bytes, str | bytes] = {}
    for index in range(1, len(args), 2):
        values[_field(args[index])] = check.value(args[index + 1])
    current = hash_body(ks, db, key, now)
    added = sum(1 for f in values if current is None or f not in current)
    return added, [_set_event(ctx, db, key, current, values)]


def cmd_hget(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``HGET [key, field]`` → the value, or None."""
    check.arity("HGET", args, 2)
    current = hash_body(ks, db, check.key(args[0]), now)
    field = _field(args[1])
    return (None if current is None else current.get(field)), None


def cmd_hmget(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``HMGET [key, field, ...]`` → one value (or None) per field."""
    key, fields = _fields_args("HMGET", args)
    current = hash_body(ks, db, key, now)
    if current is None:
        return [None] * len(fields), None
    return [current.get(f) for f in fields], None


def cmd_hgetall(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``HGETALL [key]`` → ``{field: value}`` in the fields' insertion order (empty: no key)."""
    check.arity("HGETALL", args, 1)
    current = hash_body(ks, db, check.key(args[0]), now)
    return ({} if current is None else dict(current.items())), None


def cmd_hdel(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``HDEL [key, field, ...]`` → the number of fields removed."""
    key, fields = _fields_args("HDEL", args)
    current = hash_body(ks, db, key, now)
    if current is None:
        return 0, None
    removed = tuple((f, tuple(current.tags(f))) for f in dict.fromkeys(fields) if f in current)
    if not removed:
        return 0, None
    seq, hlc = ctx.stamp()
    return len(removed), [HashFieldsDeleted(ctx.origin, seq, hlc, db, key, removed)]


def cmd_hexists(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``HEXISTS [key, field]`` → whether the field is present."""
    check.arity("HEXISTS", args, 2)
    current = hash_body(ks, db, check.key(args[0]), now)
    field = _field(args[1])
    return (current is not None and field in current), None


def cmd_hlen(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``HLEN [key]`` → the number of fields (0: no key)."""
    check.arity("HLEN", args, 1)
    current = hash_body(ks, db, check.key(args[0]), now)
    return (0 if current is None else len(current)), None


def cmd_hincrby(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``HINCRBY [key, field, delta]`` → the new value (the field starts at 0).

    Raises:
        HashValueNotIntegerError: the field holds something that is not an integer.
        IntegerOverflowError: the result would not fit in 64 bits.
    """
    check.arity("HINCRBY", args, 3)
    key = check.key(args[0])
    field = _field(args[1])
    delta = check.integer(args[2], "delta")
    current = hash_body(ks, db, key, now)
    old = None if current is None else current.get(field)
    base = 0
    if old is not None:
        try:
            base = check.stored_integer(old)
        except NotIntegerError:
            raise HashValueNotIntegerError("hash value is not an integer") from None
    result = check.checked_sum(base, delta)
    return result, [_set_event(ctx, db, key, current, {field: str(result)})]


def cmd_hkeys(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``HKEYS [key]`` → the fields, in insertion order."""
    check.arity("HKEYS", args, 1)
    current = hash_body(ks, db, check.key(args[0]), now)
    return ([] if current is None else list(current)), None


def cmd_hvals(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``HVALS [key]`` → the values, in the fields' insertion order."""
    check.arity("HVALS", args, 1)
    current = hash_body(ks, db, check.key(args[0]), now)
    return ([] if current is None else [v for _, v in current.items()]), None


SPECS = [
    CommandSpec("HSET", cmd_hset, "write", True, "hash"),
    CommandSpec("HGET", cmd_hget, "read", False, "hash"),
    CommandSpec("HMGET", cmd_hmget, "read", False, "hash"),
    CommandSpec("HGETALL", cmd_hgetall, "read", False, "hash"),
    CommandSpec("HDEL", cmd_hdel, "write", False, "hash"),
    CommandSpec("HEXISTS", cmd_hexists, "read", False, "hash"),
    CommandSpec("HLEN", cmd_hlen, "read", False, "hash"),
    CommandSpec("HINCRBY", cmd_hincrby, "write", True, "hash"),
    CommandSpec("HKEYS", cmd_hkeys, "read", False, "hash"),
    CommandSpec("HVALS", cmd_hvals, "read", False, "hash"),
]
"""This module's commands, for the table in :mod:`bolt.state._commands`."""
