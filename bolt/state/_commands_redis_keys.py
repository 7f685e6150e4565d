"""Redis key commands for the engine: SCAN, DBSIZE, RENAME (and the string rewrite
that EXPIRE, PERSIST and RENAME share).

They follow the rules of :mod:`bolt.state._commands_redis`, which registers
them (its docstring also gives RENAME's cluster semantics).
"""

from __future__ import annotations

import zlib
from typing import Any

from bolt.errors import BadRequestError, KeyNotFoundError, WrongTypeError
from bolt.events import CounterSet, Event, HashFieldsSet, ListPushed, SetAdded
from bolt.state import _validate as check
from bolt.state._digest import key_hash as digest_key_hash
from bolt.state._digest import visible_value
from bolt.state._entry import (
    COUNTER,
    CRDT_COUNTER,
    HASH,
    LIST,
    SET,
    STRING,
    TOMBSTONE,
    TYPE_NAMES,
)
from bolt.state._glob import compile_glob
from bolt.state._handlers import Reply, Stamper, delete_event
from bolt.state._handlers import visible as _visible
from bolt.state._keyspace import Keyspace, split_name
from bolt.state._strings import put_events


def rewrite(
    ctx: Stamper, ks: Keyspace, db: str, key: str, kind: int, value: Any, expires_at: int
) -> list[Event]:
    """The events that give a string or plain counter a new value and expiry."""
    if kind == COUNTER:
        seq, hlc = ctx.stamp()
        return [CounterSet(ctx.origin, seq, hlc, db, key, value, expires_at)]
    return put_events(ctx, ks, db, key, value, expires_at)


# --- keys ------------------------------------------------------------------------------


def key_hash(key: str) -> int:
    """The SCAN order of a key: CRC-32 of its UTF-8 bytes, plus one (0 ends a scan)."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) + 1


def cmd_scan(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``SCAN [cursor, pattern, count, types]`` → ``[next_cursor, keys]`` (``types``:
    None, or the type names to keep).

    Keys are visited in the order of :func:`key_hash`; the cursor is the
    hash to continue from (0: start, and the end). Keys with the same hash
    are returned together, so a key present for the whole scan is returned
    exactly once, and none twice. Each call costs O(keys in the database).
    """
    check.arity("SCAN", args, 4)
    cursor = check.integer(args[0], "cursor")
    pattern = check.key(args[1])
    count = check.integer(args[2], "count")
    wanted = args[3]
    if count < 1:
        raise BadRequestError("syntax error")
    if wanted is not None and (type(wanted) is not list or not all(type(t) is str for t in wanted)):
        raise BadRequestError("types must be a list of type names")
    matches = compile_glob(pattern)
    found: list[tuple[int, str]] = []
    for name in ks.live_names(now, db):
        key = split_name(name)[1]
        hashed = key_hash(key)
        if hashed >= cursor:
            found.append((hashed, key))
    found.sort()
    taken = found[:count]
    while len(taken) < len(found) and found[len(taken)][0] == taken[-1][0]:
        taken.append(found[len(taken)])
    next_cursor = found[len(taken)][0] if len(taken) < len(found) else 0
    keys = [key for _, key in taken if matches(key)]
    if wanted is not None:
        keys = [k for k in keys if TYPE_NAMES.get(_visible(ks, db, k, now)[1]) in wanted]
    return [next_cursor, keys], None


def cmd_keystate(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``KEYSTATE [key...]`` → one fingerprint per key of what a reader sees now
    (type, value, expiry and the winning write's stamp; 0: absent).

    ``WATCH`` notes them and ``EXEC`` compares: a key written in between
    (by anyone, also by replication) has another fingerprint.
    """
    check.arity("KEYSTATE", args, 1, -1)
    check.batch("KEYSTATE", args)
    prints = []
    for raw in args:
        key = check.key(raw)
        entry, kind = _visible(ks, db, key, now)
        if kind == TOMBSTONE or entry is None:
            prints.append(0)
        else:
            value = visible_value(entry, kind)
            prints.append(digest_key_hash(db, key, kind, value, entry.expires_at) or 1)
    return prints, None


def cmd_dbsize(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``DBSIZE []`` → the number of visible keys in the database."""
    check.arity("DBSIZE", args, 0)
    return sum(1 for _ in ks.live_names(now, db)), None


def cmd_rename(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``RENAME [source, destination]`` → None; refuses an absent source
    (:class:`KeyNotFoundError`) and CRDT counters (their per-node totals
    cannot move)."""
    check.arity("RENAME", args, 2)
    source, destination = check.key(args[0]), check.key(args[1])
    entry, kind = _visible(ks, db, source, now)
    if kind == TOMBSTONE:
        raise KeyNotFoundError("no such key")
    if kind == CRDT_COUNTER:
        raise WrongTypeError("a CRDT counter cannot be renamed")
    assert entry is not None
    if source == destination:
        return None, None
    target, target_kind = _visible(ks, db, destination, now)
    events: list[Event] = []
    if kind in (STRING, COUNTER):
        events.extend(rewrite(ctx, ks, db, destination, kind, entry.value, entry.expires_at))
    else:
        if target_kind != TOMBSTONE or (target is not None and target.bodies):
            events.append(delete_event(ctx, target, db, destination))
        assert entry.bodies is not None
        seq, hlc = ctx.stamp()
        if kind == LIST:
            values = tuple(entry.bodies[LIST])
            events.append(ListPushed(ctx.origin, seq, hlc, db, destination, False, values))
        elif kind == HASH:
            fields = tuple((f, v, ()) for f, v in entry.bodies[HASH].items())
            events.append(HashFieldsSet(ctx.origin, seq, hlc, db, destination, fields))
        else:
            members = tuple(entry.bodies[SET])
            events.append(SetAdded(ctx.origin, seq, hlc, db, destination, members))
    events.append(delete_event(ctx, entry, db, source))
    return None, events
