"""Engine fast paths: ``get_fast``/``put_fast`` are exactly ``run_command("GET"/"PUT")``.

Two engines with the same configuration, node id and (shared) ManualClock are
driven through the same steps. A setup phase puts keys into many states with
``run_command`` on both: strings, plain and CRDT counters, lists, sets, TTLs (some
expired, some reclaimed by the sweep), deletes, writes from a peer, keys with
NUL, non-ASCII or lone surrogates, keys and values at and just over the size
limits, and invalid arguments of every shape. Then engine A answers GET and
PUT with the fast paths while engine B goes through ``run_command``. After every
step both must give the same outcome (reply and offset, or the same exception
class and message), commit the same events, and hold the same state: every
entry field, LRU order, memory totals, the expiry and eviction indexes, the
dot set, the seq, the HLC and the offsets.

Memory limits (every eviction policy, and noeviction's OUT_OF_MEMORY) and an
engine whose log failed are covered the same way, and a table runs every
single request (each key and value of the pools, each argument shape) against
each state its key can be in. Example tests check that the fast path really is
taken in the usual case and not in unusual ones, and that a persisted log
holds the same records whichever path wrote them, or fails the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from bolt import limits
from bolt.crdt import hlc_from_ms
from bolt.errors import DiskError
from bolt.events import CrdtCounterChanged, KeyDeleted, KeyPut, decode_record
from bolt.log import LogReader
from bolt.node import Engine
from bolt.state import apply
from bolt.state._entry import name_bytes, value_bytes
from bolt.testing._clock import ManualClock
from tests.node._fast_paths_support import (
    KEY_CHARS_SAFE,
    MEMORY_KEYS,
    NODE_ID,
    ODD_KEYS,
    ODD_SHAPES,
    PEER,
    PLAIN_KEYS,
    SMALL_VALUES,
    VALUE_CHARS_SAFE,
    VALUES,
    Side,
    Step,
    _assert_same_state,
    _command,
    _outcome,
    _plain,
    _run,
    _step_both,
    _tokens,
    _weighted,
    clock_moves,
    commands,
    elements,
    engine_options,
    fast_steps,
    gets,
    puts,
    setup_steps,
)
from tests.node._support import START, config

# --- properties --------------------------------------------------------------------------


@settings(max_examples=250, deadline=None)
@given(
    options=engine_options,
    setup=st.lists(setup_steps, max_size=25),
    steps=st.lists(fast_steps, min_size=1, max_size=30),
)
def test_fast_paths_agree_with_run_command(
    options: dict[str, Any], setup: list[Step], steps: list[Step]
) -> None:
    """Any setup, then GETs and PUTs mixed with other commands, expiry and peer writes."""
    _run(options, setup, steps)


# Under a small limit: small keys and values, so writes keep meeting it.
ONE_ENTRY = name_bytes("k0") + value_bytes("v" * 100)

small_keys = _tokens("key", st.sampled_from(sorted(MEMORY_KEYS)))
# Mostly one size, so memory use lands exactly on the limit (a multiple of ONE_ENTRY).
small_values = _tokens(
    "value", _weighted((3, st.just("v100")), (1, st.sampled_from(sorted(SMALL_VALUES))))
)
small_ttls = _tokens("int", st.sampled_from([1, 2, 60]))
memory_steps = _weighted(
    (4, st.tuples(st.just("put"), st.just("list"), st.tuples(small_keys, small_values))),
    (2, st.tuples(st.just("get"), st.just("list"), st.tuples(small_keys))),
    (
        3,
        st.one_of(
            _command("SETEX", small_keys, small_values, small_ttls),
            _command("CINCR", small_keys),
            _command("RPUSH", small_keys, elements),
            _command("DEL", small_keys),
            _command("INCR", small_keys),
        ),
    ),
    (1, st.one_of(clock_moves, st.just(("reclaim",)))),
)


@settings(max_examples=150, deadline=None)
@given(
    policy=st.sampled_from(limits.eviction_policies),
    entries=st.integers(1, 6),
    keep_tombstones=st.booleans(),
    steps=st.lists(memory_steps, min_size=1, max_size=40),
)
def test_fast_paths_agree_at_the_memory_limit(
    policy: str, entries: int, keep_tombstones: bool, steps: list[Step]
) -> None:
    """Evictions (or OUT_OF_MEMORY under noeviction) happen the same on both paths."""
    options = {
        "eviction_policy": policy,
        "max_memory_bytes": entries * ONE_ENTRY,
        "keep_tombstones": keep_tombstones,
    }
    _run(options, [], steps)


@settings(max_examples=50, deadline=None)
@given(
    options=engine_options,
    setup=st.lists(setup_steps, max_size=15),
    steps=st.lists(_weighted((2, gets), (3, puts), (1, commands)), min_size=1, max_size=15),
)
def test_fast_paths_agree_after_the_log_failed(
    options: dict[str, Any], setup: list[Step], steps: list[Step]
) -> None:
    """Writes are refused with the same DiskError (or the same earlier error); reads go on."""
    _run(options, setup, [("fail-log",), *steps])


# --- every single request, in every state of its key -------------------------------------


def _key_states(key_name: str) -> dict[str, list[Step]]:
    """Setup steps that leave ``key_name`` in each state a GET or PUT may meet."""
    key = ("key", key_name)
    put = ("cmd", "PUT", (key, ("value", "v")))
    older_peer_put = ("remote", key_name, "five", -(1 << 20), False)
    return {
        "absent": [],
        "string": [put],
        "bytes": [("cmd", "PUT", (key, ("value", "bytes")))],
        "counter": [("cmd", "INCR", (key,))],
        "ttl": [("cmd", "SETEX", (key, ("value", "v"), ("int", 100)))],
        "ttl due now": [("cmd", "SETEX", (key, ("value", "v"), ("int", 1))), ("advance", 1000)],
        "ttl reclaimed": [
            ("cmd", "SETEX", (key, ("value", "v"), ("int", 1))),
            ("advance", 1001),
            ("reclaim",),
        ],
        "crdt counter": [("cmd", "CINCR", (key,))],
        "string over a crdt counter": [("cmd", "CINCR", (key,)), put],
        "list": [("cmd", "RPUSH", (key, ("element", "p")))],
        "emptied list": [("cmd", "RPUSH", (key, ("element", "p"))), ("cmd", "LPOP", (key,))],
        "set": [("cmd", "SADD", (key, ("element", "p")))],
        "deleted": [put, ("cmd", "DEL", (key,))],
        "peer string": [("remote", key_name, "five", 1 << 30, False)],
        "list over an older peer string": [
            ("cmd", "RPUSH", (key, ("element", "p"))),
            older_peer_put,
        ],
        "crdt counter over an older peer string": [("cmd", "CINCR", (key,)), older_peer_put],
        "peer crdt counter": [("remote", key_name, "five", 5, True)],
    }


KEY_STATES = list(_key_states("a"))
# Every key with a few values; every value, shape and arity with the key "a".
ALL_KEY_REQUESTS: list[Step] = [
    step
    for name in sorted(PLAIN_KEYS | ODD_KEYS)
    for step in [
        ("get", "list", (("key", name),)),
        *[("put", "list", (("key", name), ("value", v))) for v in ("v", "bytes", "int", "accent")],
    ]
]
KEY_A_REQUESTS: list[Step] = [
    *[("put", "list", (("key", "a"), ("value", name))) for name in sorted(VALUES)],
    *[("get", shape, (("key", "a"),)) for shape in ["list", *ODD_SHAPES]],
    *[
        (kind, shape, (("key", "a"), ("value", "v")))
        for kind in ("put", "set")
        for shape in ODD_SHAPES
    ],
    ("get", "list", ()),
    ("get", "list", (("key", "a"), ("key", "a"))),
    *[(kind, "list", ()) for kind in ("put", "set")],
    *[(kind, "list", (("key", "a"),)) for kind in ("put", "set")],
    ("put", "list", (("key", "a"), ("value", "v"), ("value", "v"))),
    ("set", "list", (("key", "a"), ("value", "v"))),
]


@pytest.mark.parametrize("keep_tombstones", [False, True])
@pytest.mark.parametrize("state", KEY_STATES)
def test_each_request_agrees_in_each_state(state: str, keep_tombstones: bool) -> None:
    """Each request alone, on a fresh pair of engines whose key is in ``state``."""
    requests = list(KEY_A_REQUESTS)
    if state in ("absent", "string") and not keep_tombstones:
        requests += ALL_KEY_REQUESTS
    for request in requests:
        tokens = request[2]
        key_name = tokens[0][1] if tokens and tokens[0][0] == "key" else "a"
        _run({"keep_tombstones": keep_tombstones}, _key_states(key_name)[state], [request])


# --- examples ------------------------------------------------------------------------------


def _refusing_run_command(command: str, args: Any, db: str | None = None) -> tuple[Any, int]:
    raise AssertionError(f"run_command({command!r}, ...) was called: the fast path was not taken")


def test_the_usual_get_and_put_take_the_fast_path() -> None:
    """Plain keys and values, absent keys or plain strings: ``run_command`` is never called."""
    clock = ManualClock(START)
    for policy in ("allkeys-lru", "noeviction"):
        engine = trio.run(Engine.open, config(None, clock, eviction_policy=policy))
        engine.run_command = _refusing_run_command  # type: ignore[method-assign]
        assert engine.get_fast(["k"]) == (None, -1)
        assert engine.put_fast(["k", "v"]) == (None, 0)
        assert engine.put_fast(["b", b"\x00\xff"]) == (None, 1)
        assert engine.get_fast(["k"]) == ("v", -1)
        assert engine.get_fast(["b"]) == (b"\x00\xff", -1)
        long_key = "k" * KEY_CHARS_SAFE
        assert engine.put_fast([long_key, "v" * VALUE_CHARS_SAFE]) == (None, 2)
        assert engine.get_fast([long_key]) == ("v" * VALUE_CHARS_SAFE, -1)
        assert engine._seq == 3


def test_submit_routes_get_and_set_of_the_default_database_to_the_fast_paths() -> None:
    engine = trio.run(Engine.open, config(None, ManualClock(START)))
    general: list[tuple[str, str | None]] = []
    run_command = engine.run_command

    def watching(command: str, args: Any, db: str | None = None) -> tuple[Any, int]:
        general.append((command, db))
        return run_command(command, args, db)

    engine.run_command = watching  # type: ignore[method-assign]
    assert engine.submit("SET", ["k", "v"]) == (None, 0)
    assert engine.submit("PUT", ["k", "w"], "") == (None, 1)
    assert engine.submit("GET", ["k"]) == ("w", -1)
    assert general == []
    assert engine.submit("GET", ["k"], "other") == (None, -1)
    assert engine.submit("PUT", ["k", "x"], "other") == (None, 2)
    assert engine.submit("INCR", ["n"]) == (1, 3)
    assert engine.submit("GET", ["k\0"]) == (None, -1)  # not plain: the fast path defers
    assert general == [("GET", "other"), ("PUT", "other"), ("INCR", None), ("GET", None)]


SETUPS: dict[str, list[tuple[str, list[Any]]]] = {
    "absent": [],
    "string": [("PUT", ["k", "v"])],
    "counter": [("INCR", ["k"])],
    "ttl": [("SETEX", ["k", "v", 100])],
    "crdt counter": [("CINCR", ["k"])],
    "list": [("RPUSH", ["k", "x"])],
    "set": [("SADD", ["k", "m"])],
    "deleted": [("PUT", ["k", "v"]), ("DEL", ["k"])],
}


@pytest.mark.parametrize(
    ("setup", "keep_tombstones", "command", "args", "fast"),
    [
        ("absent", False, "GET", ["k"], True),
        ("string", False, "GET", ["k"], True),
        ("counter", False, "GET", ["k"], False),
        ("ttl", False, "GET", ["k"], False),
        ("crdt counter", False, "GET", ["k"], False),
        ("list", False, "GET", ["k"], False),
        ("set", False, "GET", ["k"], False),
        ("deleted", False, "GET", ["k"], True),  # no entry is left: absent
        ("deleted", True, "GET", ["k"], False),  # a kept tombstone
        ("absent", False, "GET", ["a\0b"], False),
        ("absent", False, "GET", ["clé"], False),
        ("absent", False, "GET", ["\ud800"], False),
        ("absent", False, "GET", ["k" * (KEY_CHARS_SAFE + 1)], False),
        ("absent", False, "GET", [1], False),
        ("absent", False, "GET", ("k",), False),
        ("absent", False, "GET", "k", False),
        ("absent", False, "GET", ["k", "k"], False),
        ("absent", False, "PUT", ["k", "v"], True),
        ("string", False, "PUT", ["k", "v"], True),
        ("counter", False, "PUT", ["k", "v"], True),
        ("ttl", False, "PUT", ["k", "v"], True),
        ("list", False, "PUT", ["k", "v"], True),  # the same PUT events replace it
        # put_events adds the counter reset (its events: test_a_put_over_a_crdt_counter_...)
        ("crdt counter", False, "PUT", ["k", "v"], True),
        ("absent", False, "PUT", ["a\0b", "v"], False),
        ("absent", False, "PUT", ["k", "é"], False),
        ("absent", False, "PUT", ["k", "v" * (VALUE_CHARS_SAFE + 1)], False),
        ("absent", False, "PUT", ["k", 5], False),
        ("absent", False, "PUT", ["k"], False),
        ("absent", False, "PUT", ("k", "v"), False),
    ],
)
def test_which_requests_take_the_fast_path(
    setup: str, keep_tombstones: bool, command: str, args: Any, fast: bool
) -> None:
    """The fast path answers the usual case itself and hands the rest to ``run_command``."""
    clock = ManualClock(START)
    engines = [
        trio.run(Engine.open, config(None, clock, node_id=NODE_ID, keep_tombstones=keep_tombstones))
        for _ in range(2)
    ]
    for engine in engines:
        for setup_command, setup_args in SETUPS[setup]:
            engine.run_command(setup_command, setup_args)
    expected = _outcome(lambda: engines[1].run_command(command, args))
    watched = Side(engines[0])  # counts the calls to its run_command
    method = watched.engine.get_fast if command == "GET" else watched.engine.put_fast
    assert _outcome(lambda: method(args)) == expected
    assert watched.fallbacks == (0 if fast else 1)
    _assert_same_state(engines[0], engines[1], f"{command} {args!r:.40}")


@pytest.mark.parametrize("path", ["put_fast", "run_command"])
def test_a_put_over_a_crdt_counter_commits_the_observed_reset_then_the_put(path: str) -> None:
    """The exact events, not just the same ones on both paths: both commit
    ``put_events``, so the comparisons above cannot see a bug inside it (a lost
    counter reset would let the counter's old increments come back)."""
    clock = ManualClock(START)
    engine = trio.run(Engine.open, config(None, clock, node_id=NODE_ID))
    engine.run_command("CINCRBY", ["k", 3])  # seq 1, hlc START.0
    engine.run_command("CDECR", ["k"])  # seq 2, hlc START.1
    # A peer's older increments reached this node too: the reset observes them as well.
    apply(engine.keyspace, CrdtCounterChanged(PEER, 1, hlc_from_ms(START - 1000), "", "k", 5, 2))
    side = Side(engine)
    if path == "put_fast":
        assert engine.put_fast(["k", "v"]) == (None, 2)
        assert side.fallbacks == 0
    else:
        assert engine.run_command("PUT", ["k", "v"]) == (None, 2)
    observed = {NODE_ID: [3, 1], PEER: [5, 2]}  # (P, N) totals per node, lists as commands build
    assert side.committed == [
        [
            KeyDeleted(NODE_ID, 3, hlc_from_ms(START, 2), "", "k", observed, ""),
            KeyPut(NODE_ID, 4, hlc_from_ms(START, 3), "", "k", "v", 0),
        ]
    ]
    assert [type(event) for event in side.committed[0]] == [KeyDeleted, KeyPut]
    assert engine.run_command("TYPE", ["k"]) == ("string", -1)
    engine.run_command("DEL", ["k"])
    assert engine.run_command("CGET", ["k"]) == (0, -1)  # the old increments stay deleted


def test_put_fast_defers_at_the_memory_limit() -> None:
    """At the limit an eviction (or OUT_OF_MEMORY) is due: only ``run_command`` does that."""
    clock = ManualClock(START)
    limit = 2 * ONE_ENTRY
    for policy in ("allkeys-lru", "noeviction"):
        engine = trio.run(
            Engine.open, config(None, clock, max_memory_bytes=limit, eviction_policy=policy)
        )
        engine.run_command("PUT", ["k0", "v" * 100])
        engine.run_command("PUT", ["k1", "v" * 100])
        assert engine.keyspace.memory_used == limit  # exactly on it: eviction is due
        engine.run_command = _refusing_run_command  # type: ignore[method-assign]
        with pytest.raises(AssertionError, match="fast path was not taken"):
            engine.put_fast(["k2", "v"])


def test_a_failed_log_refuses_put_fast_like_run_command() -> None:
    """The same DiskError and message; reads still take the fast path."""
    clock = ManualClock(START)
    engine = trio.run(Engine.open, config(None, clock))
    engine.run_command("PUT", ["k", "v"])
    engine._failed = DiskError("x")
    with pytest.raises(DiskError) as general:
        engine.run_command("PUT", ["k", "w"])
    with pytest.raises(DiskError) as fast:
        engine.put_fast(["k", "w"])
    assert (
        str(fast.value) == str(general.value) == ("the log failed (x); this node takes no writes")
    )
    assert engine.get_fast(["k"]) == ("v", -1)  # reads go on
    assert engine._seq == 1


def _log_events(data_dir: Path) -> list[Any]:
    return [
        (offset, _plain(decode_record(payload)))
        for offset, payload in LogReader(data_dir / "log").read(0)
    ]


PERSISTED_STEPS: list[Step] = [
    ("put", "list", (("key", "a"), ("value", "v"))),
    ("get", "list", (("key", "a"),)),
    ("put", "list", (("key", "b"), ("value", "bytes"))),
    ("cmd", "CINCR", (("key", "c"),)),
    ("put", "list", (("key", "c"), ("value", "five"))),
    ("put", "list", (("key", "nul"), ("value", "v"))),
    ("put", "list", (("key", "int"), ("value", "v"))),
    ("cmd", "SETEX", (("key", "a"), ("value", "v"), ("int", 1))),
    ("advance", 1000),
    ("get", "list", (("key", "a"),)),
    ("put", "list", (("key", "a"), ("value", "minus"))),
    ("put", "list", (("key", "ascii-safe"), ("value", "ascii-safe"))),
]


def _persisted_pair(tmp_path: Path, clock: ManualClock) -> tuple[Side, Side]:
    fast, general = (
        Side(trio.run(Engine.open, config(tmp_path / name, clock, node_id=NODE_ID)))
        for name in ("fast", "general")
    )
    return fast, general


def test_persisted_logs_hold_the_same_records(tmp_path: Path) -> None:
    """Through a real log: the same records, byte for byte once decoded, at the same offsets."""
    clock = ManualClock(START)
    fast, general = _persisted_pair(tmp_path, clock)
    for step in PERSISTED_STEPS:
        _step_both(fast, general, clock, step, use_fast=True)
    for side in (fast, general):
        trio.run(side.engine.close)
    records = _log_events(tmp_path / "fast")
    assert records == _log_events(tmp_path / "general")
    assert len(records) == len(fast.committed) == 8  # one record per committing command


def test_a_failing_log_append_is_reported_alike(tmp_path: Path) -> None:
    """The append's own DiskError, the seq given back, then the same refusals."""
    clock = ManualClock(START)
    fast, general = _persisted_pair(tmp_path, clock)
    for step in PERSISTED_STEPS[:3]:
        _step_both(fast, general, clock, step, use_fast=True)

    def failing_append(payload: bytes) -> int:
        raise DiskError("disk full")

    for side in (fast, general):
        assert side.engine._log is not None
        side.engine._log.append = failing_append  # type: ignore[method-assign]
    seq = fast.engine._seq
    put = ("put", "list", (("key", "a"), ("value", "five")))
    _step_both(fast, general, clock, put, use_fast=True)  # both raise DiskError("disk full")
    assert fast.engine._seq == seq  # given back: no gap
    assert str(fast.engine._failed) == "disk full"
    for step in [put, *PERSISTED_STEPS[:3]]:  # now refused before the log is touched
        _step_both(fast, general, clock, step, use_fast=True)
    for side in (fast, general):
        trio.run(side.engine.close)
