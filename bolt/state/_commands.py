"""Commands: validate a request against the current view, and turn it into events.

Theory of operation
-------------------
A handler reads the keyspace, checks every argument and the type of what the
key holds, and only then takes stamps (``seq``, ``hlc``) and builds events —
so a refused request writes nothing and leaves no gap in the node's seq.
It returns ``(reply, events)``; reads return ``events = None``. The engine
logs the events as one record and applies them with the pure ``apply``.

Handlers are pure given their arguments: the time (``now_ms``) and the stamp
source come in from the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bolt.errors import BadRequestError, WrongTypeError
from bolt.events import (
    CounterSet,
    CrdtCounterChanged,
    Event,
    KeyDeleted,
    KeyPut,
    ListPopped,
    ListPushed,
    SetAdded,
    SetRemoved,
)
from bolt.state import _validate as check
from bolt.state._entry import (
    COUNTER,
    CRDT_COUNTER,
    LIST,
    SET,
    STRING,
    TOMBSTONE,
    TYPE_NAMES,
    Entry,
)
from bolt.state._glob import compile_glob
from bolt.state._keyspace import Keyspace, key_name, split_name

_new_tuple = tuple.__new__


class Stamper(Protocol):
    """Where stamps come from: the engine's node id, seq counter and HLC."""

    origin: str

    def stamp(self) -> tuple[int, int]:
        """Return a fresh ``(seq, hlc)`` for one event."""
        ...


Reply = tuple[Any, list[Event] | None]
Handler = Callable[[Keyspace, Stamper, str, list[Any], int], Reply]


@dataclass(frozen=True)
class CommandSpec:
    """How a command is run and who may run it."""

    name: str
    handler: Handler
    access: str  # "read" or "write"
    grows_memory: bool = False  # refused with OUT_OF_MEMORY under noeviction
    metric_type: str = "other"  # label of bolt_operations_total


def _visible(ks: Keyspace, db: str, key: str, now_ms: int) -> tuple[Entry | None, int]:
    name = key_name(db, key)
    shard = ks.shard_of(name)
    entry = shard.entries.get(name)
    if entry is None:
        return None, TOMBSTONE
    if ks.track_lru:
        ks.touch(shard, name, entry)
    return entry, entry.visible_kind(now_ms)


def _expect(kind: int, *allowed: int) -> None:
    if kind != TOMBSTONE and kind not in allowed:
        raise WrongTypeError(
            f"operation against a key holding the wrong kind of value ({TYPE_NAMES[kind]})"
        )


def delete_event(ctx: Stamper, entry: Entry | None, db: str, key: str, cause: str = "") -> Event:
    """The ``KeyDeleted`` of ``key`` as this node sees it now.

    If the key holds a CRDT counter, the event carries the per-node totals
    the delete observed: increments concurrent with it survive, the ones it
    saw stay deleted (on every node, in any order).
    """
    observed: dict[str, Any] = {}
    if entry is not None and entry.bodies and CRDT_COUNTER in entry.bodies:
        observed = {o: list(pn) for o, pn in entry.bodies[CRDT_COUNTER].observed().items()}
    seq, hlc = ctx.stamp()
    return KeyDeleted(ctx.origin, seq, hlc, db, key, observed, cause)


def _counter_reset(entry: Entry | None, ctx: Stamper, db: str, key: str) -> list[Event]:
    """A delete that observes the CRDT counter's totals, before a type change."""
    if entry is None or not entry.bodies or CRDT_COUNTER not in entry.bodies:
        return []
    return [delete_event(ctx, entry, db, key)]


def _string_value(entry: Entry, kind: int) -> Any:
    return str(entry.value) if kind == COUNTER else entry.value


# --- strings -----------------------------------------------------------------


def cmd_get(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("GET", args, 1)
    entry, kind = _visible(ks, db, check.key(args[0]), now)
    if kind == TOMBSTONE:
        return None, None
    _expect(kind, STRING, COUNTER)
    assert entry is not None
    return _string_value(entry, kind), None


SLOW = object()
"""What a fast path returns when the request must take the general path."""


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
        return put_events(ctx, ks, "", key, value, 0)
    return None


def put_events(
    ctx: Stamper, ks: Keyspace, db: str, key: str, value: Any, expires: int
) -> list[Event]:
    """The events of writing ``value`` to a valid ``key``: a counter reset if the
    key holds a CRDT counter (so its increments are observed), then the ``KeyPut``."""
    name = key_name(db, key)
    entry = ks.shard_of(name).entries.get(name)
    events = _counter_reset(entry, ctx, db, key) if entry is not None and entry.bodies else []
    seq, hlc = ctx.stamp()
    # tuple.__new__ skips the NamedTuple's generated Python __new__ (hot path).
    events.append(_new_tuple(KeyPut, (ctx.origin, seq, hlc, db, key, value, expires)))
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
    if not args or len(args) % 2:
        raise BadRequestError("'MSET' takes key value pairs")
    check.batch("MSET", args[::2])
    pairs = [(check.key(args[i]), check.value(args[i + 1])) for i in range(0, len(args), 2)]
    events: list[Event] = []
    for key, value in pairs:
        events.extend(put_events(ctx, ks, db, key, value, 0))
    return len(pairs), events


def cmd_mget(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.batch("MGET", args)
    result: list[Any] = []
    for raw in args:
        entry, kind = _visible(ks, db, check.key(raw), now)
        if kind in (STRING, COUNTER):
            assert entry is not None
            result.append(_string_value(entry, kind))
        else:
            result.append(None)
    return result, None


def _delete(ks: Keyspace, ctx: Stamper, db: str, key: str, now: int) -> tuple[Any, list[Event]]:
    entry, kind = _visible(ks, db, key, now)
    if kind == TOMBSTONE:
        return None, []
    assert entry is not None
    old = _string_value(entry, kind) if kind in (STRING, COUNTER) else True
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
    entry, kind = _visible(ks, db, check.key(args[0]), now)
    if kind == TOMBSTONE:
        return None, None
    assert entry is not None
    if kind not in (STRING, COUNTER) or not entry.expires_at:
        return -1, None
    return -(-(entry.expires_at - now) // 1000), None


def cmd_exists(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("EXISTS", args, 1)
    return _visible(ks, db, check.key(args[0]), now)[1] != TOMBSTONE, None


def cmd_type(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("TYPE", args, 1)
    return TYPE_NAMES.get(_visible(ks, db, check.key(args[0]), now)[1]), None


def cmd_keys(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    check.arity("KEYS", args, 0, 1)
    pattern = check.key(args[0]) if args else "*"
    matches = compile_glob(pattern)
    found = [split_name(n)[1] for n in ks.live_names(now, db)]
    return sorted(k for k in found if matches(k)), None


# --- plain counters ---------------------------------------------------------------


def _incr(ks: Keyspace, ctx: Stamper, db: str, key: str, delta: int, now: int) -> Reply:
    entry, kind = _visible(ks, db, key, now)
    _expect(kind, STRING, COUNTER)
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
    entry, kind = _visible(ks, db, key, now)
    _expect(kind, CRDT_COUNTER)
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
    entry, kind = _visible(ks, db, check.key(args[0]), now)
    if kind == TOMBSTONE:
        return 0, None
    _expect(kind, CRDT_COUNTER)
    assert entry is not None and entry.bodies is not None
    return entry.bodies[CRDT_COUNTER].value(), None


# --- lists -----------------------------------------------------------------------


def _push(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int, left: bool) -> Reply:
    name = "LPUSH" if left else "RPUSH"
    check.arity(name, args, 2, -1)
    key = check.key(args[0])
    check.batch(name, args[1:])
    values = tuple(check.value(v, "element") for v in args[1:])
    entry, kind = _visible(ks, db, key, now)
    _expect(kind, LIST)
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
    entry, kind = _visible(ks, db, key, now)
    if kind == TOMBSTONE:
        return None, None
    _expect(kind, LIST)
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
    entry, kind = _visible(ks, db, key, now)
    if kind == TOMBSTONE:
        return None
    _expect(kind, LIST)
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


# --- sets --------------------------------------------------------------------------


def _members(ks: Keyspace, db: str, key: str, now: int) -> Any:
    entry, kind = _visible(ks, db, key, now)
    if kind == TOMBSTONE:
        return None
    _expect(kind, SET)
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


def _spec(name: str, handler: Handler, access: str, grows: bool, metric: str) -> CommandSpec:
    return CommandSpec(name, handler, access, grows, metric)


COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in [
        _spec("GET", cmd_get, "read", False, "get"),
        _spec("PUT", cmd_put, "write", True, "put"),
        _spec("SET", cmd_put, "write", True, "put"),
        _spec("SETEX", cmd_setex, "write", True, "put"),
        _spec("DEL", cmd_del, "write", False, "del"),
        _spec("TTL", cmd_ttl, "read", False, "get"),
        _spec("EXISTS", cmd_exists, "read", False, "get"),
        _spec("TYPE", cmd_type, "read", False, "get"),
        _spec("KEYS", cmd_keys, "read", False, "get"),
        _spec("MSET", cmd_mset, "write", True, "mset"),
        _spec("MGET", cmd_mget, "read", False, "mget"),
        _spec("MDEL", cmd_mdel, "write", False, "mdel"),
        _spec("INCR", cmd_incr, "write", True, "incr"),
        _spec("DECR", cmd_decr, "write", True, "incr"),
        _spec("INCRBY", cmd_incrby, "write", True, "incr"),
        _spec("DECRBY", cmd_decrby, "write", True, "incr"),
        _spec("CINCR", cmd_cincr, "write", True, "incr"),
        _spec("CDECR", cmd_cdecr, "write", True, "incr"),
        _spec("CINCRBY", cmd_cincrby, "write", True, "incr"),
        _spec("CGET", cmd_cget, "read", False, "get"),
        _spec("LPUSH", cmd_lpush, "write", True, "list"),
        _spec("RPUSH", cmd_rpush, "write", True, "list"),
        _spec("LPOP", cmd_lpop, "write", False, "list"),
        _spec("RPOP", cmd_rpop, "write", False, "list"),
        _spec("LRANGE", cmd_lrange, "read", False, "list"),
        _spec("LLEN", cmd_llen, "read", False, "list"),
        _spec("SADD", cmd_sadd, "write", True, "set"),
        _spec("SREM", cmd_srem, "write", False, "set"),
        _spec("SMEMBERS", cmd_smembers, "read", False, "set"),
        _spec("SCARD", cmd_scard, "read", False, "set"),
        _spec("SISMEMBER", cmd_sismember, "read", False, "set"),
    ]
}
