"""Shared machinery of ``test_fast_paths``: two engines driven alike, and their state compared.

``Side`` is one engine with the events it committed; ``_run`` drives a fast
and a general engine through the same steps and checks after every step that
outcome, events and state agree (``_assert_same_state`` compares every entry
field, LRU order, memory, indexes, the dot set, seq, HLC and offsets). The
strategies build those steps from pools of keys, values and argument shapes.
"""

from __future__ import annotations

import random
import reprlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio
from hypothesis import currently_in_test_context, event
from hypothesis import strategies as st

from bolt import limits
from bolt.errors import DiskError
from bolt.events import CrdtCounterChanged, Event, KeyPut
from bolt.node import Engine
from bolt.state import apply
from bolt.testing._clock import ManualClock
from tests.node._support import START, config

NODE_ID = "node-a"
PEER = "node-z"
KEY_CHARS_SAFE = limits.key_bytes_max // 4  # the longest key plain_key() lets through
VALUE_CHARS_SAFE = limits.value_bytes_max // 4


class _Str(str):
    """A str subclass: both paths must refuse it as a key or value."""


class _List(list[Any]):
    """A list subclass: ``run_command`` copies it into a list; the fast paths defer."""


# Keys and values are drawn by name, so a failing example prints short names
# instead of megabytes of text; the objects are built once and shared.
PLAIN_KEYS: dict[str, Any] = {"a": "a", "b": "b", "c": "c", "empty": "", "space": "a b"}
ODD_KEYS: dict[str, Any] = {
    "nul": "a\0b",
    "nul-only": "\0",
    "accent": "clé",
    "cyrillic": "ключ",
    "emoji": "\U0001f511",
    "surrogate": "\ud800",
    "ascii-safe": "k" * KEY_CHARS_SAFE,
    "ascii-safe+1": "k" * (KEY_CHARS_SAFE + 1),
    "ascii-max": "k" * limits.key_bytes_max,
    "ascii-max+1": "k" * (limits.key_bytes_max + 1),
    "wide-max": "é" * (limits.key_bytes_max // 2),
    "wide-max+1": "é" * (limits.key_bytes_max // 2 + 1),
    "int": 1,
    "none": None,
    "list": ["a"],
    "bool": True,
    "bytes": b"a",
    "float": 1.0,
    "str-subclass": _Str("a"),
}
KEY_COUNT = 8
MEMORY_KEYS = {f"k{index}": f"k{index}" for index in range(KEY_COUNT)}  # for the memory test
KEYS = {**PLAIN_KEYS, **ODD_KEYS, **MEMORY_KEYS}
REMOTE_KEYS = ("a", "b", "c", "nul", "accent")  # valid keys a peer may write

PLAIN_VALUES: dict[str, Any] = {
    "empty": "",
    "v": "v",
    "five": "5",
    "minus": "-3",
    "int64-max": str(limits.int64_max),
    "too-big-int": "9" * 20,
    "bytes": b"raw\x00\xff",
    "bytes-five": b"5",
    "bytes-empty": b"",
}
ODD_VALUES: dict[str, Any] = {
    "accent": "é",
    "surrogate": "\ud800",
    "ascii-safe": "v" * VALUE_CHARS_SAFE,
    "ascii-safe+1": "v" * (VALUE_CHARS_SAFE + 1),
    "ascii-max": "v" * limits.value_bytes_max,
    "ascii-max+1": "v" * (limits.value_bytes_max + 1),
    "bytes-max": b"v" * limits.value_bytes_max,
    "bytes-max+1": b"v" * (limits.value_bytes_max + 1),
    "wide-max": "é" * (limits.value_bytes_max // 2),
    "wide-max+1": "é" * (limits.value_bytes_max // 2 + 1),
    "int": 5,
    "none": None,
    "bool": True,
    "list": ["v"],
    "float": 1.5,
    "bytearray": bytearray(b"v"),
    "str-subclass": _Str("v"),
}
SMALL_VALUES: dict[str, Any] = {f"v{size}": "v" * size for size in (0, 10, 100, 400)}
SMALL_VALUES["b100"] = b"b" * 100  # for the memory test
VALUES = {**PLAIN_VALUES, **ODD_VALUES, **SMALL_VALUES}
ELEMENTS: dict[str, Any] = {"p": "p", "q": "q", "empty": "", "bytes": b"p", "accent": "é"}

# A step is a tuple of plain data (see ``_perform``); tokens name arguments.
Token = tuple[str, Any]  # ("key" | "value" | "element", name) or ("int", n)
Step = tuple[Any, ...]


# --- driving the engines ------------------------------------------------------------


@dataclass
class Side:
    """One engine of the pair, with every list of events it committed."""

    engine: Engine
    committed: list[list[Event]] = field(default_factory=list)
    fallbacks: int = 0

    def __post_init__(self) -> None:
        commit = self.engine._commit
        run_command = self.engine.run_command

        def recording_commit(events: list[Event]) -> int:
            self.committed.append(list(events))
            return commit(events)

        def counting_run_command(command: str, args: Any, db: str | None = None) -> tuple[Any, int]:
            self.fallbacks += 1
            return run_command(command, args, db)

        self.engine._commit = recording_commit  # type: ignore[method-assign]
        self.engine.run_command = counting_run_command  # type: ignore[method-assign]


def _open(clock: ManualClock, **options: Any) -> Side:
    return Side(trio.run(Engine.open, config(None, clock, node_id=NODE_ID, **options)))


def _argument(token: Token) -> Any:
    pool, name = token
    if pool == "key":
        return KEYS[name]
    if pool == "value":
        return VALUES[name]
    if pool == "element":
        return ELEMENTS[name]
    return name  # ("int", n)


def _arguments(shape: str, tokens: tuple[Token, ...]) -> Any:
    """The ``args`` object of a GET/PUT: a list, or any other shape a client may send."""
    items = [_argument(t) for t in tokens]
    if shape == "list":
        return items
    if shape == "tuple":
        return tuple(items)
    if shape == "list-subclass":
        return _List(items)
    if shape == "range":
        return range(len(items))
    if shape == "str":
        return items[0] if items and isinstance(items[0], str) else "k"
    if shape == "bytes":
        return b"k"
    if shape == "dict":
        return {"k": "v"}
    if shape == "none":
        return None
    if shape == "generator":
        return (item for item in items)
    raise AssertionError(shape)


def _perform(side: Side, step: Step, *, fast: bool, now_ms: int) -> Any:
    """Run one step on one engine; ``fast`` chooses get_fast/put_fast over run_command.

    The server also answers SET with ``put_fast``, so a "set" step compares
    ``put_fast`` with ``run_command("SET")``.
    """
    engine = side.engine
    kind = step[0]
    if kind in ("get", "put", "set"):
        _, shape, tokens = step
        args = _arguments(shape, tokens)
        if not fast:
            return engine.run_command(kind.upper(), args)
        before = side.fallbacks
        try:
            return engine.get_fast(args) if kind == "get" else engine.put_fast(args)
        finally:
            if currently_in_test_context():  # statistics: is each path exercised?
                event(f"{kind} {'fell back to run_command' if side.fallbacks > before else 'fast'}")
    if kind == "cmd":
        _, command, tokens = step
        return engine.run_command(command, [_argument(t) for t in tokens])
    if kind == "reclaim":
        return engine._reclaim_expired(now_ms, None)
    if kind == "remote":
        # A write from a peer, ahead of or behind this node's HLC: local
        # writes may then lose last-writer-wins, or win against it.
        _, key_name, value_name, hlc_delta, counter = step
        keyspace = engine.keyspace
        seq = keyspace.dots.highest(PEER) + 1
        hlc = max(1, engine.clock.last + hlc_delta)
        key = KEYS[key_name]
        if counter:
            remote: Event = CrdtCounterChanged(PEER, seq, hlc, "", key, seq, 0)
        else:
            remote = KeyPut(PEER, seq, hlc, "", key, PLAIN_VALUES[value_name], 0)
        return apply(keyspace, remote)
    raise AssertionError(step)


def _outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """What a call did: its result, or its exception's class and message."""
    try:
        result = call()
    except Exception as exc:
        return ("raised", type(exc), str(exc))
    return ("returned", _plain(result))


def _step_both(
    fast: Side, general: Side, clock: ManualClock, step: Step, *, use_fast: bool
) -> None:
    """Run ``step`` on both engines and check outcome, events and state agree."""
    if step[0] == "advance":
        clock.advance(step[1])  # one shared clock: moved once for both
        return
    if step[0] == "rewind":
        clock.set(clock() - step[1])  # a wall clock may jump back; the HLC may not
        return
    if step[0] == "fail-log":
        for side in (fast, general):
            side.engine._failed = DiskError("x")
        return
    committed = len(fast.committed), len(general.committed)
    # allkeys-random eviction draws from ``random``: give both the same draws.
    saved = random.getstate()
    got = _outcome(lambda: _perform(fast, step, fast=use_fast, now_ms=clock()))
    random.setstate(saved)
    expected = _outcome(lambda: _perform(general, step, fast=False, now_ms=clock()))
    where = f"step {_short(step)}"
    _assert_equal(got, expected, f"{where}: outcome")
    _assert_equal(
        _plain(fast.committed[committed[0] :]),
        _plain(general.committed[committed[1] :]),
        f"{where}: committed events",
    )
    _assert_same_state(fast.engine, general.engine, where)


def _run(options: dict[str, Any], setup: list[Step], steps: list[Step]) -> None:
    clock = ManualClock(START)
    fast, general = _open(clock, **options), _open(clock, **options)
    for step in setup:
        _step_both(fast, general, clock, step, use_fast=False)
    for step in steps:
        _step_both(fast, general, clock, step, use_fast=True)


# --- comparing state -----------------------------------------------------------------

_SCALARS = (type(None), bool, int, float, str, bytes, bytearray, type)


def _plain(item: Any) -> Any:
    """A structural copy of ``item`` that ``==`` compares by type and content, in order."""
    if isinstance(item, _SCALARS):
        return (type(item).__name__, item)
    if isinstance(item, dict):
        return (type(item).__name__, [(_plain(k), _plain(v)) for k, v in item.items()])
    if isinstance(item, set | frozenset):
        return (type(item).__name__, frozenset(_plain(member) for member in item))
    if isinstance(item, list | tuple | deque):
        return (type(item).__name__, tuple(_plain(element) for element in item))
    slots = getattr(type(item), "__slots__", None)
    if slots is not None:
        return (type(item).__name__, tuple((s, _plain(getattr(item, s))) for s in slots))
    if hasattr(item, "__dict__"):
        return (type(item).__name__, tuple((k, _plain(v)) for k, v in vars(item).items()))
    return (type(item).__name__, repr(item))


_CACHE_FIELDS = {"_last_name", "_last_shard"}  # shard_of's memo: not state


def _state(engine: Engine) -> dict[Any, Any]:
    """Everything a GET or PUT could change, field by field."""
    keyspace = engine.keyspace
    state: dict[Any, Any] = {
        "memory_used": keyspace.memory_used,
        "dots.vector": keyspace.dots.vector.to_dict(),
        "dots.exceptions": keyspace.dots.exceptions(),
        "engine._seq": engine._seq,
        "engine._last_offset": engine._last_offset,
        "engine.clock": (engine.clock.last, engine.clock.rejected_total),
        "engine._failed": repr(engine._failed),
        "engine totals": (
            engine.events_total,
            engine.user_events_total,
            engine.keys_deleted_total,
            engine._warned_memory,
        ),
    }
    for name, value in vars(keyspace).items():
        if name not in _CACHE_FIELDS and name != "shards":
            state[f"keyspace.{name}"] = _plain(value)
    for shard in keyspace.shards:
        index = shard.index
        state["LRU order", index] = list(shard.entries)
        state["volatile order", index] = list(shard.volatile)
        state["memory, offset", index] = (shard.memory, shard.offset)
        for name, entry in shard.entries.items():
            state["entry", name] = _plain(entry)
    return state


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlevel = 12
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 12


def _short(item: Any) -> str:
    return _REPR.repr(item)


def _assert_equal(got: Any, expected: Any, what: str) -> None:
    # Not a bare assert: pytest would print megabyte values in full.
    if got != expected:
        raise AssertionError(
            f"{what} differs:\n  fast path: {_short(got)}\n  general:   {_short(expected)}"
        )


def _assert_same_state(fast: Engine, general: Engine, where: str) -> None:
    got, expected = _state(fast), _state(general)
    for name in list(expected) + [n for n in got if n not in expected]:
        _assert_equal(got.get(name), expected.get(name), f"{where}: state {_short(name)}")


# --- strategies ------------------------------------------------------------------------


def _weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Pick a strategy with the given weights (``one_of`` would flatten nested ones)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(table).flatmap(lambda strategy: strategy)


plain_keys = st.sampled_from(sorted(PLAIN_KEYS))
any_keys = _weighted((4, plain_keys), (1, st.sampled_from(sorted(PLAIN_KEYS | ODD_KEYS))))
plain_values = st.sampled_from(sorted(PLAIN_VALUES))
any_values = _weighted((4, plain_values), (1, st.sampled_from(sorted(PLAIN_VALUES | ODD_VALUES))))


def _tokens(pool: str, names: st.SearchStrategy[str]) -> st.SearchStrategy[Token]:
    return st.tuples(st.just(pool), names)


keys = _tokens("key", any_keys)
values = _tokens("value", any_values)
elements = _tokens("element", st.sampled_from(sorted(ELEMENTS)))
ttls = _tokens("int", st.sampled_from([1, 2, 3, 1, 2, 0, -1, 10**12]))
deltas = _tokens("int", st.sampled_from([1, -2, 7, limits.int64_max, limits.int64_min]))
ODD_SHAPES = ["tuple", "list-subclass", "range", "str", "bytes", "dict", "none", "generator"]
shapes = _weighted((10, st.just("list")), (1, st.sampled_from(ODD_SHAPES)))


def _command(name: str, *parts: st.SearchStrategy[Token]) -> st.SearchStrategy[Step]:
    return st.tuples(st.just("cmd"), st.just(name), st.tuples(*parts))


def _varargs(name: str, part: st.SearchStrategy[Token]) -> st.SearchStrategy[Step]:
    rest = st.lists(part, min_size=0, max_size=3).map(tuple)
    return st.tuples(st.just("cmd"), st.just(name), st.tuples(keys, rest)).map(
        lambda step: (step[0], step[1], (step[2][0], *step[2][1]))
    )


commands = st.one_of(
    _command("PUT", keys, values),
    _command("SET", keys, values),
    _command("SETEX", keys, values, ttls),
    _command("INCR", keys),
    _command("DECR", keys),
    _command("INCRBY", keys, deltas),
    _command("CINCR", keys),
    _command("CINCRBY", keys, deltas),
    _varargs("LPUSH", elements),
    _varargs("RPUSH", elements),
    _varargs("SADD", elements),
    _varargs("SREM", elements),
    _command("LPOP", keys),
    _command("RPOP", keys),
    _command("DEL", keys),
    _command("GET", keys),
    _command("MSET", keys, values, keys, values),
)
gets = _weighted(
    (8, st.tuples(st.just("get"), shapes, st.tuples(keys))),
    (
        1,
        st.tuples(
            st.just("get"),
            st.just("list"),
            st.one_of(st.just(()), st.tuples(keys, keys), st.tuples(keys, values, values)),
        ),
    ),
)
puts = _weighted(
    (8, st.tuples(st.sampled_from(["put", "put", "set"]), shapes, st.tuples(keys, values))),
    (
        1,
        st.tuples(
            st.just("put"),
            st.just("list"),
            st.one_of(st.just(()), st.tuples(keys), st.tuples(keys, values, values)),
        ),
    ),
)
clock_moves = st.one_of(
    st.tuples(st.just("advance"), st.sampled_from([0, 1, 999, 1000, 1001, 2500])),
    st.tuples(st.just("rewind"), st.sampled_from([1, 1000])),
)
remote_writes = st.tuples(
    st.just("remote"),
    st.sampled_from(REMOTE_KEYS),
    plain_values,
    st.sampled_from([-(1 << 20), 5, 1 << 30]),
    st.booleans(),
)
chores = st.one_of(clock_moves, st.just(("reclaim",)), remote_writes)
setup_steps = _weighted((4, commands), (1, chores))
fast_steps = _weighted((3, gets), (4, puts), (2, commands), (1, chores))

engine_options = st.fixed_dictionaries(
    {
        "shard_count": st.sampled_from([1, 4]),
        "keep_tombstones": st.booleans(),
        "eviction_policy": st.sampled_from(limits.eviction_policies),
        "max_memory_bytes": st.sampled_from([0, 0, 0, 0, 0, 0, 2_000, 20_000]),
    }
)
