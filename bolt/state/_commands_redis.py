"""Engine commands Redis clients need that Bolt's own surface lacks.

Theory of operation
-------------------
Each handler follows :mod:`bolt.state._commands`: read the view, check every
argument and type, and only then stamp events -- so a refused request
writes nothing. They produce only the existing event types, so replay,
snapshots and replication need nothing new:

* ``SETCOND`` (SET with NX/XX/GET/EX/PX/EXAT/PXAT/KEEPTTL), ``APPEND``,
  ``INCRBYFLOAT``, ``PEXPIREAT`` and ``PERSIST`` on a string write the key's
  new whole value with :class:`~bolt.events.KeyPut` (a plain counter keeps
  being a :class:`~bolt.events.CounterSet`): last writer wins, as for any
  string. Expiry on an existing key is therefore a rewrite of its value
  with the new absolute expiry; a concurrent SET elsewhere with a later HLC
  wins and carries its own expiry (as a SET does in Redis).
* ``GETDEL`` is a read and a :class:`~bolt.events.KeyDeleted` in one record.
* ``LPOPN``/``RPOPN`` pop up to ``count`` elements in one
  :class:`~bolt.events.ListPopped`.
* ``RENAME`` deletes the source and writes the destination in one record:
  atomic on this node. Across a cluster it is a delete plus a write, so a
  write to the source on another node concurrent with the rename survives
  there as a new source key (documented in the README).

Conditions (``NX``, ``XX``, ``GT``...) are checked against this node's view:
on one node they are exact; across nodes ``SET NX`` is a node-local lock
(two nodes may both grant it during a partition; the later HLC wins).

Lists, sets, hashes and CRDT counters carry no TTL in Bolt (DESIGN §4: TTL is stored
with string values), so ``PEXPIREAT`` on them is refused with a clear error.
"""

from __future__ import annotations

import math
from typing import Any

from bolt import limits
from bolt.errors import BadRequestError, NotFloatError, WrongTypeError
from bolt.events import ListPopped
from bolt.state import _validate as check
from bolt.state._commands import (
    COMMANDS,
    CommandSpec,
    Handler,
    Reply,
    Stamper,
    delete_event,
    put_events,
)
from bolt.state._commands_redis_keys import (
    cmd_dbsize,
    cmd_keystate,
    cmd_rename,
    cmd_scan,
    rewrite,
)
from bolt.state._entry import COUNTER, LIST, SET, STRING, TOMBSTONE, TYPE_NAMES
from bolt.state._handlers import expect as _expect
from bolt.state._handlers import string_value as _string_value
from bolt.state._handlers import visible as _visible
from bolt.state._keyspace import Keyspace

SET_CONDITIONS = ("", "NX", "XX")
SET_EXPIRY_MODES = ("", "PX", "PXAT", "KEEPTTL")
EXPIRE_CONDITIONS = ("", "NX", "XX", "GT", "LT")
_EXPIRES_AT_MS_MAX = limits.int64_max  # beyond this an expiry cannot be stored


def _choice(item: Any, options: tuple[str, ...], what: str) -> str:
    if type(item) is not str or item not in options:
        raise BadRequestError(f"{what} must be one of {', '.join(repr(o) for o in options)}")
    return item


def _concat(left: str | bytes, right: str | bytes) -> str | bytes:
    if type(left) is type(right):
        return left + right  # type: ignore[operator]
    as_bytes = [v.encode("utf-8") if type(v) is str else v for v in (left, right)]
    return as_bytes[0] + as_bytes[1]  # type: ignore[operator]


def _byte_length(value: str | bytes) -> int:
    return len(value) if type(value) is bytes or value.isascii() else len(value.encode())  # type: ignore[union-attr]


# --- strings --------------------------------------------------------------------


def cmd_setcond(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``SETCOND [key, value, condition, expiry_mode, expiry_ms, get_old]`` →
    ``[applied, old_value]``; condition ``""|NX|XX``, expiry_mode ``""|PX|PXAT|KEEPTTL``."""
    check.arity("SETCOND", args, 6)
    key = check.key(args[0])
    value = check.value(args[1])
    condition = _choice(args[2], SET_CONDITIONS, "condition")
    mode = _choice(args[3], SET_EXPIRY_MODES, "expiry_mode")
    amount = check.integer(args[4], "expiry_ms")
    get_old = args[5] is True
    entry, kind = _visible(ks, db, key, now)
    old = None
    if get_old and kind != TOMBSTONE:
        _expect(kind, STRING, COUNTER)
        assert entry is not None
        old = _string_value(entry, kind)
    if mode in ("PX", "PXAT") and amount <= 0:
        raise BadRequestError("invalid expire time in 'set' command")
    expires_at = 0
    if mode == "PX":
        expires_at = check.checked_sum(now, amount)
    elif mode == "PXAT":
        expires_at = amount
    elif mode == "KEEPTTL" and entry is not None and kind in (STRING, COUNTER):
        expires_at = entry.expires_at
    if (condition == "NX" and kind != TOMBSTONE) or (condition == "XX" and kind == TOMBSTONE):
        return [False, old], None
    if mode in ("PX", "PXAT") and expires_at <= now:
        # Already expired (PXAT in the past): Redis deletes the key.
        events = [delete_event(ctx, entry, db, key)] if kind != TOMBSTONE else None
        return [True, old], events
    return [True, old], put_events(ctx, ks, db, key, value, expires_at)


def cmd_getdel(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``GETDEL [key]`` → the string value it held (None: absent), deleting it."""
    check.arity("GETDEL", args, 1)
    key = check.key(args[0])
    entry, kind = _visible(ks, db, key, now)
    if kind == TOMBSTONE:
        return None, None
    _expect(kind, STRING, COUNTER)
    assert entry is not None
    return _string_value(entry, kind), [delete_event(ctx, entry, db, key)]


def cmd_append(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``APPEND [key, suffix]`` → the byte length of the new value (TTL kept)."""
    check.arity("APPEND", args, 2)
    key = check.key(args[0])
    suffix = check.value(args[1])
    entry, kind = _visible(ks, db, key, now)
    _expect(kind, STRING, COUNTER)
    current: str | bytes = ""
    expires_at = 0
    if kind != TOMBSTONE:
        assert entry is not None
        current, expires_at = _string_value(entry, kind), entry.expires_at
    value = check.value(_concat(current, suffix))
    return _byte_length(value), put_events(ctx, ks, db, key, value, expires_at)


def cmd_strlen(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``STRLEN [key]`` → the byte length of the string value (0: absent)."""
    check.arity("STRLEN", args, 1)
    entry, kind = _visible(ks, db, check.key(args[0]), now)
    if kind == TOMBSTONE:
        return 0, None
    _expect(kind, STRING, COUNTER)
    assert entry is not None
    return _byte_length(_string_value(entry, kind)), None


def parse_float(item: Any) -> float:
    """A finite float from str or bytes text as Redis reads one.

    Raises:
        NotFloatError: not a number (or NaN, or has spaces).
    """
    text = item.decode("ascii", "replace") if type(item) is bytes else item
    if type(text) is not str or not text or text != text.strip() or len(text) > 5000:
        raise NotFloatError("value is not a valid float")
    try:
        number = float(text)
    except ValueError:
        raise NotFloatError("value is not a valid float") from None
    if math.isnan(number):
        raise NotFloatError("value is not a valid float")
    return number


def format_float(number: float) -> str:
    """How Redis stores an INCRBYFLOAT result: no exponent, no trailing zeros."""
    text = repr(number)
    if "e" in text or "E" in text:
        from decimal import Decimal

        text = format(Decimal(text), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def cmd_incrbyfloat(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``INCRBYFLOAT [key, delta_text]`` → the new value as text (TTL kept)."""
    check.arity("INCRBYFLOAT", args, 2)
    key = check.key(args[0])
    entry, kind = _visible(ks, db, key, now)
    _expect(kind, STRING, COUNTER)  # Redis checks the type before the increment
    delta = parse_float(args[1])
    current = 0.0
    expires_at = 0
    if kind != TOMBSTONE:
        assert entry is not None
        current, expires_at = parse_float(str(_string_value(entry, kind))), entry.expires_at
    result = current + delta
    if math.isinf(result) or math.isnan(result):
        raise BadRequestError("increment would produce NaN or Infinity")
    text = format_float(result)
    return text, put_events(ctx, ks, db, key, text, expires_at)


# --- expiry ------------------------------------------------------------------------


def _expiring(ks: Keyspace, db: str, key: str, now: int) -> tuple[Any, int]:
    entry, kind = _visible(ks, db, key, now)
    if kind not in (STRING, COUNTER, TOMBSTONE):
        raise WrongTypeError(
            f"Bolt keeps a TTL on strings and counters only, not on a {TYPE_NAMES[kind]}"
        )
    return entry, kind


def cmd_pexpireat(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``PEXPIREAT [key, at_ms, condition]`` → whether the expiry was set (a time in
    the past deletes the key); condition ``""|NX|XX|GT|LT`` as Redis 7."""
    check.arity("PEXPIREAT", args, 3)
    key = check.key(args[0])
    at = check.integer(args[1], "at_ms")
    condition = _choice(args[2], EXPIRE_CONDITIONS, "condition")
    entry, kind = _expiring(ks, db, key, now)
    if kind == TOMBSTONE:
        return False, None
    assert entry is not None
    current = entry.expires_at  # 0: no expiry, which counts as infinite for GT/LT
    refused = (
        (condition == "NX" and current)
        or (condition == "XX" and not current)
        or (condition == "GT" and (not current or at <= current))
        or (condition == "LT" and current and at >= current)
    )
    if refused:
        return False, None
    if at <= now:
        return True, [delete_event(ctx, entry, db, key)]
    return True, rewrite(ctx, ks, db, key, kind, entry.value, at)


def cmd_persist(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``PERSIST [key]`` → whether a TTL was removed."""
    check.arity("PERSIST", args, 1)
    key = check.key(args[0])
    entry, kind = _visible(ks, db, key, now)
    if kind not in (STRING, COUNTER):
        return False, None
    assert entry is not None
    if not entry.expires_at:
        return False, None
    return True, rewrite(ctx, ks, db, key, kind, entry.value, 0)


def cmd_pttl(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``PTTL [key]`` → milliseconds left, -1 for no TTL, None for no key."""
    check.arity("PTTL", args, 1)
    entry, kind = _visible(ks, db, check.key(args[0]), now)
    if kind == TOMBSTONE:
        return None, None
    assert entry is not None
    if kind not in (STRING, COUNTER) or not entry.expires_at:
        return -1, None
    return entry.expires_at - now, None


# --- lists and sets ------------------------------------------------------------------


def _pop_many(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int, left: bool) -> Reply:
    name = "LPOPN" if left else "RPOPN"
    check.arity(name, args, 2)
    key = check.key(args[0])
    count = check.integer(args[1], "count")
    if count < 0:
        raise BadRequestError("value is out of range, must be positive")
    entry, kind = _visible(ks, db, key, now)
    if kind == TOMBSTONE:
        return None, None
    _expect(kind, LIST)
    assert entry is not None and entry.bodies is not None
    sequence = entry.bodies[LIST]
    order = sequence.order
    count = min(count, len(order))
    positions = [order[i] for i in range(count)] if left else [order[-1 - i] for i in range(count)]
    if not positions:
        return [], None
    values = [sequence.values[p] for p in positions]
    seq, hlc = ctx.stamp()
    return values, [ListPopped(ctx.origin, seq, hlc, db, key, tuple(positions))]


def cmd_lpopn(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``LPOPN [key, count]`` → up to ``count`` elements from the head (None: no key)."""
    return _pop_many(ks, ctx, db, args, now, True)


def cmd_rpopn(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``RPOPN [key, count]`` → up to ``count`` elements from the tail (None: no key)."""
    return _pop_many(ks, ctx, db, args, now, False)


def cmd_lindex(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``LINDEX [key, index]`` → the element (negative counts from the tail), or None."""
    check.arity("LINDEX", args, 2)
    key = check.key(args[0])
    index = check.integer(args[1], "index")
    entry, kind = _visible(ks, db, key, now)
    if kind == TOMBSTONE:
        return None, None
    _expect(kind, LIST)
    assert entry is not None and entry.bodies is not None
    order = entry.bodies[LIST].order
    if not -len(order) <= index < len(order):
        return None, None
    return entry.bodies[LIST].values[order[index]], None


def cmd_smismember(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``SMISMEMBER [key, member...]`` → one bool per member."""
    check.arity("SMISMEMBER", args, 2, -1)
    check.batch("SMISMEMBER", args[1:])
    key = check.key(args[0])
    members = [check.value(m, "member") for m in args[1:]]
    entry, kind = _visible(ks, db, key, now)
    if kind == TOMBSTONE:
        return [False] * len(members), None
    _expect(kind, SET)
    assert entry is not None and entry.bodies is not None
    current = entry.bodies[SET]
    return [m in current for m in members], None


_REDIS_COMMANDS: list[tuple[str, Handler, str, bool, str]] = [
    ("SETCOND", cmd_setcond, "write", True, "put"),
    ("GETDEL", cmd_getdel, "write", False, "del"),
    ("APPEND", cmd_append, "write", True, "put"),
    ("STRLEN", cmd_strlen, "read", False, "get"),
    ("INCRBYFLOAT", cmd_incrbyfloat, "write", True, "incr"),
    ("PEXPIREAT", cmd_pexpireat, "write", False, "put"),
    ("PERSIST", cmd_persist, "write", False, "put"),
    ("PTTL", cmd_pttl, "read", False, "get"),
    ("LPOPN", cmd_lpopn, "write", False, "list"),
    ("RPOPN", cmd_rpopn, "write", False, "list"),
    ("LINDEX", cmd_lindex, "read", False, "list"),
    ("SMISMEMBER", cmd_smismember, "read", False, "set"),
    ("SCAN", cmd_scan, "read", False, "get"),
    ("DBSIZE", cmd_dbsize, "read", False, "get"),
    ("KEYSTATE", cmd_keystate, "read", False, "get"),
    ("RENAME", cmd_rename, "write", True, "put"),
]


def register() -> None:
    """Add these commands to :data:`bolt.state.COMMANDS` (idempotent; never replaces)."""
    for name, handler, access, grows, metric in _REDIS_COMMANDS:
        COMMANDS.setdefault(name, CommandSpec(name, handler, access, grows, metric))


register()
