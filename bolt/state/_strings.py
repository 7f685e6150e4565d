"""Strings and keys (GET PUT SETEX MSET MGET DEL MDEL TTL EXISTS TYPE KEYS), GET/PUT fast paths.

See :mod:`bolt.state._handlers` for the rules every handler follows.
"""

from __future__ import annotations

from typing import Any

from bolt.errors import BadRequestError
from bolt.events import (
    Event,
    KeyPut,
)
from bolt.state import _validate as check
from bolt.state._entry import (
    COUNTER,
    STRING,
    TOMBSTONE,
    TYPE_NAMES,
)
from bolt.state._glob import compile_glob
from bolt.state._handlers import (
    SLOW,
    CommandSpec,
    Reply,
    Stamper,
    counter_reset,
    delete_event,
    expect,
    new_tuple,
    string_value,
    take_stamps,
    visible,
)
from bolt.state._keyspace import Keyspace, key_name, split_name

# --- strings -----------------------------------------------------------------


def cmd_get(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("GET", args, 1)
    entry, kind = visible(ks, db, check.key(args[0]), now)
    if kind == TOMBSTONE:
        return None, None
    expect(kind, STRING, COUNTER)
    assert entry is not None
    return string_value(entry, kind), None


def fast_get(ks: Keyspace, key: Any) -> Any:
    """``GET key`` in the default database when the answer is plain, else :data:`SLOW`.

    A plain key (:func:`bolt.state._validate.plain_key`) that is absent, or
    holds a plain string with no TTL, is answered with one shard lookup and no
    clock read; anything else (counters, TTLs, other types, CRDT bodies, keys
    that need checking) is :data:`SLOW`, so the caller runs :func:`cmd_get`
    and replies and errors stay the general path's.
    """
    if check.plain_key(key):
        shard = ks.shard_of(key)
        entry = shard.entries.get(key)
        if entry is None:
            return None
        if entry.kind == STRING and entry.bodies is None and not entry.expires_at:
            if ks.track_lru:
                ks.touch(shard, key, entry)
            return entry.value
    return SLOW


def fast_put_events(ctx: Stamper, ks: Keyspace, key: Any, value: Any) -> list[Event] | None:
    """The events of ``PUT key value`` in the default database, or None.

    With a key and value that ``PUT``'s checks would pass as they are
    (:func:`bolt.state._validate.plain_key`/``plain_value``), the events of
    :func:`put_events`; otherwise None: run :func:`cmd_put`.
    """
    if check.plain_key(key) and check.plain_value(value):
        # A plain key in the default database is its own internal name
        # (key_name), so this is put_events without the name and the call.
        entry = ks.shard_of(key).entries.get(key)
        events = counter_reset(entry, ctx, "", key) if entry is not None and entry.bodies else []
        seq, hlc = ctx.stamp()
        events.append(new_tuple(KeyPut, (ctx.origin, seq, hlc, "", key, value, 0)))
        return events
    return None


def put_events(
    ctx: Stamper, ks: Keyspace, db: str, key: str, value: Any, expires: int
) -> list[Event]:
    """The events of writing ``value`` to a valid ``key``: a counter reset if the
    key holds a CRDT counter (so its increments are observed), then the ``KeyPut``."""
    name = key_name(db, key)
    entry = ks.shard_of(name).entries.get(name)
    events = counter_reset(entry, ctx, db, key) if entry is not None and entry.bodies else []
    seq, hlc = ctx.stamp()
    # tuple.__new__ skips the NamedTuple's generated Python __new__ (hot path).
    events.append(new_tuple(KeyPut, (ctx.origin, seq, hlc, db, key, value, expires)))
    return events


def cmd_put(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("PUT", args, 2)
    key = check.key(args[0])
    value = check.value(args[1])
    return None, put_events(ctx, ks, db, key, value, 0)


def cmd_setex(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("SETEX", args, 3)
    key = check.key(args[0])
    value = check.value(args[1])
    ttl = check.integer(args[2], "ttl_seconds")
    if ttl <= 0:
        raise BadRequestError("ttl_seconds must be a positive integer")
    if ttl > 10 * 365 * 86400 * 100:
        raise BadRequestError("ttl_seconds is too large")
    return None, put_events(ctx, ks, db, key, value, now + ttl * 1000)


def cmd_mset(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """MSET: every pair checked first, then one batch of stamps (one clock read)."""
    if not args or len(args) % 2:
        raise BadRequestError("'MSET' takes key value pairs")
    keys = args[::2]
    values = args[1::2]
    check.batch("MSET", keys)
    plain_key = check.plain_key
    plain_value = check.plain_value
    for index, key in enumerate(keys):
        if not plain_key(key):
            keys[index] = check.key(key)
    for index, value in enumerate(values):
        if not plain_value(value):
            values[index] = check.value(value)
    events: list[Event] = []
    for key in keys:
        # A key holding a CRDT counter first gets a delete observing its totals.
        entry = ks.get(key_name(db, key))
        if entry is not None and entry.bodies is not None:
            events.extend(counter_reset(entry, ctx, db, key))
    seq, hlc = take_stamps(ctx, len(keys))
    origin = ctx.origin
    for offset, (key, value) in enumerate(zip(keys, values, strict=True)):
        events.append(new_tuple(KeyPut, (origin, seq + offset, hlc + offset, db, key, value, 0)))
    return len(keys), events


def check_batch(command: str, args: list[Any]) -> None:
    """Every check MSET, MDEL or MGET makes of ``args``, without running it.

    Raises as the command would (BadRequestError, TooLargeError); the checks
    do not depend on the state, so a request that passes here passes there.
    """
    if command == "MSET":
        if not args or len(args) % 2:
            raise BadRequestError("'MSET' takes key value pairs")
        for value in args[1::2]:
            check.value(value)
        args = args[::2]
    check.batch(command, args)
    for key in args:
        check.key(key)


def cmd_mget(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.batch("MGET", args)
    result: list[Any] = []
    for raw in args:
        entry, kind = visible(ks, db, check.key(raw), now)
        if kind in (STRING, COUNTER):
            assert entry is not None
            result.append(string_value(entry, kind))
        else:
            result.append(None)
    return result, None


def _delete(ks: Keyspace, ctx: Stamper, db: str, key: str, now: int) -> tuple[Any, list[Event]]:
    entry, kind = visible(ks, db, key, now)
    if kind == TOMBSTONE:
        return None, []
    assert entry is not None
    old = string_value(entry, kind) if kind in (STRING, COUNTER) else True
    return old, [delete_event(ctx, entry, db, key)]


def cmd_del(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("DEL", args, 1)
    old, events = _delete(ks, ctx, db, check.key(args[0]), now)
    return old, events or None


def cmd_mdel(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.batch("MDEL", args)
    keys = [check.key(k) for k in args]
    events: list[Event] = []
    for key in dict.fromkeys(keys):
        _, deleted = _delete(ks, ctx, db, key, now)
        events.extend(deleted)
    return len(events), events or None


def cmd_ttl(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("TTL", args, 1)
    entry, kind = visible(ks, db, check.key(args[0]), now)
    if kind == TOMBSTONE:
        return None, None
    assert entry is not None
    if kind not in (STRING, COUNTER) or not entry.expires_at:
        return -1, None
    return -(-(entry.expires_at - now) // 1000), None


def cmd_exists(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("EXISTS", args, 1)
    return visible(ks, db, check.key(args[0]), now)[1] != TOMBSTONE, None


def cmd_type(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("TYPE", args, 1)
    return TYPE_NAMES.get(visible(ks, db, check.key(args[0]), now)[1]), None


def cmd_keys(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("KEYS", args, 0, 1)
    pattern = check.key(args[0]) if args else "*"
    matches = compile_glob(pattern)
    found = [split_name(n)[1] for n in ks.live_names(now, db)]
    return sorted(k for k in found if matches(k)), None


SPECS = [
    CommandSpec("GET", cmd_get, "read", False, "get"),
    CommandSpec("PUT", cmd_put, "write", True, "put"),
    CommandSpec("SET", cmd_put, "write", True, "put"),
    CommandSpec("SETEX", cmd_setex, "write", True, "put"),
    CommandSpec("DEL", cmd_del, "write", False, "del"),
    CommandSpec("TTL", cmd_ttl, "read", False, "get"),
    CommandSpec("EXISTS", cmd_exists, "read", False, "get"),
    CommandSpec("TYPE", cmd_type, "read", False, "get"),
    CommandSpec("KEYS", cmd_keys, "read", False, "get"),
    CommandSpec("MSET", cmd_mset, "write", True, "mset"),
    CommandSpec("MGET", cmd_mget, "read", False, "mget"),
    CommandSpec("MDEL", cmd_mdel, "write", False, "mdel"),
]
"""This module's commands, for the table in :mod:`bolt.state._commands`."""
