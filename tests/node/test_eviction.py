"""Eviction: each of the five policies does what its name says.

With a small ``max_memory_bytes``: allkeys-lru evicts the least recently read
or written key; volatile-lru only keys with a TTL (and refuses with
OutOfMemoryError when none has one); volatile-ttl the nearest expiry first;
allkeys-random random keys, not always the oldest; noeviction refuses growing
writes, changes nothing, and still lets DEL free memory. ``evicted_total``
counts, and memory stays at the limit (at most one write over it).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import trio

from bolt.errors import OutOfMemoryError
from bolt.node import Engine, open_engine
from bolt.state._entry import TOMBSTONE, name_bytes, value_bytes
from bolt.testing._clock import ManualClock
from tests.node._support import START, config, engine_view, replay_log
from tests.state._support import assert_memory_exact, view

VALUE = "v" * 100
# About nine 100-byte string keys, whatever the per-entry overhead estimate is.
LIMIT = 9 * (name_bytes("k0") + value_bytes(VALUE)) + 100


def _engine(policy: str, clock: ManualClock | None = None, limit: int = LIMIT) -> Engine:
    return trio.run(
        Engine.open,
        config(None, clock or ManualClock(START), max_memory_bytes=limit, eviction_policy=policy),
    )


def _alive(engine: Engine, keys: list[str]) -> list[str]:
    return [k for k in keys if engine.submit("EXISTS", [k])[0]]


def _visible_without_reading(engine: Engine, key: str) -> bool:
    """Whether ``key`` is visible, without counting as a use (no LRU touch)."""
    entry = engine.keyspace.get(key)
    return entry is not None and entry.visible_kind(engine._now_ms()) != TOMBSTONE


def _check_memory(engine: Engine, limit: int = LIMIT) -> None:
    assert_memory_exact(engine.keyspace)
    one_key = name_bytes("k00") + value_bytes(VALUE)
    assert engine.keyspace.memory_used < limit + one_key  # at most one write over


def test_allkeys_lru_keeps_a_key_that_is_read() -> None:
    engine = _engine("allkeys-lru")
    engine.submit("PUT", ["hot", VALUE])
    for index in range(30):
        assert engine.submit("GET", ["hot"])[0] == VALUE
        engine.submit("PUT", [f"k{index}", VALUE])
        _check_memory(engine)
    assert engine.statistics().evicted_total > 10
    assert engine.submit("GET", ["hot"])[0] == VALUE


def test_allkeys_lru_keeps_a_key_that_is_written() -> None:
    engine = _engine("allkeys-lru")
    engine.submit("PUT", ["hot", VALUE])
    olds = [f"old{i}" for i in range(6)]
    for key in olds:
        engine.submit("PUT", [key, VALUE])
    engine.submit("PUT", ["hot", VALUE.upper()])  # hot is now the most recently used
    assert engine.statistics().evicted_total == 0
    for index in range(4):
        engine.submit("PUT", [f"new{index}", VALUE])
    assert engine.statistics().evicted_total >= 1
    # Look without reading (a read would count as a use).
    assert "hot" in engine.keyspace.shard_of("hot").entries
    assert "old0" not in engine.keyspace.shard_of("old0").entries


def test_allkeys_lru_evicts_in_least_recently_used_order() -> None:
    engine = _engine("allkeys-lru", limit=100_000)
    keys = [f"k{i}" for i in range(8)]
    for key in keys:
        engine.submit("PUT", [key, VALUE])
    engine.submit("GET", ["k0"])
    engine.submit("GET", ["k1"])
    engine._limit = engine.keyspace.memory_used  # now at the limit: next growing write evicts
    # A new key of the same size as k2 fits once k2 is gone: one eviction exactly.
    engine.submit("PUT", ["k8", VALUE])
    assert _alive(engine, keys) == keys[:2] + keys[3:]  # k2 was least recently used
    assert engine.statistics().evicted_total == 1
    assert engine.keyspace.memory_used <= engine._limit


def test_volatile_lru_evicts_only_keys_with_a_ttl() -> None:
    engine = _engine("volatile-lru")
    for index in range(4):
        engine.submit("PUT", [f"p{index}", VALUE])
    for index in range(4):
        engine.submit("SETEX", [f"t{index}", VALUE, 1000])
    engine.submit("GET", ["t0"])  # recently used: evicted last among the volatile
    for index in range(3):
        engine.submit("PUT", [f"more{index}", VALUE])
        _check_memory(engine)
    assert _alive(engine, [f"p{i}" for i in range(4)]) == [f"p{i}" for i in range(4)]
    assert engine.statistics().evicted_total >= 1
    assert "t0" in _alive(engine, [f"t{i}" for i in range(4)])


def test_volatile_lru_without_volatile_keys_refuses() -> None:
    engine = _engine("volatile-lru")
    index = 0
    with pytest.raises(OutOfMemoryError):
        while True:
            engine.submit("PUT", [f"p{index}", VALUE])
            index += 1
            assert index < 100
    assert engine.statistics().evicted_total == 0
    assert len(_alive(engine, [f"p{i}" for i in range(index)])) == index


def test_volatile_ttl_evicts_the_nearest_expiry_first() -> None:
    engine = _engine("volatile-ttl")
    engine.submit("PUT", ["plain", VALUE])
    ttls = [500, 20, 300, 50, 400, 10, 200]
    for index, ttl in enumerate(ttls):
        engine.submit("SETEX", [f"t{index}", VALUE, ttl])
    survivors_expected = sorted(range(len(ttls)), key=lambda i: ttls[i])
    evicted: list[int] = []
    for index in range(4):
        engine.submit("PUT", [f"x{index}", VALUE])
        gone = [i for i in range(len(ttls)) if not engine.submit("EXISTS", [f"t{i}"])[0]]
        evicted = gone
    assert evicted == sorted(survivors_expected[: len(evicted)])
    assert evicted, "nothing was evicted"
    assert engine.submit("EXISTS", ["plain"])[0]


def test_allkeys_random_does_not_always_evict_the_oldest() -> None:
    state = random.getstate()
    random.seed(20_240_601)
    try:
        engine = _engine("allkeys-random", limit=12_000)
        keys = [f"k{i:02}" for i in range(80)]
        for key in keys:
            engine.submit("PUT", [key, VALUE])
            _check_memory(engine, 12_000)
        alive = _alive(engine, keys)
        evicted = [k for k in keys if k not in alive]
        assert engine.statistics().evicted_total == len(evicted) > 20
        # Not FIFO: some early keys survive, some late ones were evicted.
        assert any(k in alive for k in keys[:20])
        assert any(k in evicted for k in keys[40:70])
    finally:
        random.setstate(state)


def test_noeviction_refuses_growing_writes_and_changes_nothing() -> None:
    clock = ManualClock(START)
    engine = _engine("noeviction", clock)
    index = 0
    with pytest.raises(OutOfMemoryError):
        while True:
            engine.submit("PUT", [f"k{index}", VALUE])
            index += 1
            assert index < 100
    keys = [("", f"k{i}") for i in range(index + 1)] + [("", x) for x in ("l", "s", "c", "n")]
    engine.submit("DEL", ["k0"])  # DEL works at the limit
    engine.submit("PUT", ["k0", VALUE])
    before = engine_view(engine, keys)
    stats = engine.statistics()
    writes: list[tuple[str, list[Any]]] = [
        ("PUT", ["k0", "x"]),
        ("PUT", ["new", "x"]),
        ("RPUSH", ["l", "x"]),
        ("SADD", ["s", "m"]),
        ("CINCR", ["c"]),
        ("INCR", ["n"]),
        ("MSET", ["a", "1"]),
        ("SETEX", ["e", "v", 5]),
    ]
    for command, args in writes:
        with pytest.raises(OutOfMemoryError):
            engine.submit(command, args)
    assert engine_view(engine, keys) == before
    after = engine.statistics()
    assert (after.seq, after.memory_used_bytes, after.evicted_total) == (
        stats.seq,
        stats.memory_used_bytes,
        0,
    )
    # Deleting frees memory and lets writes in again.
    assert engine.submit("MDEL", ["k1", "k2"])[0] == 2
    engine.submit("PUT", ["new", "x"])
    assert engine.submit("GET", ["new"])[0] == "x"
    assert_memory_exact(engine.keyspace)


def test_expired_keys_are_reclaimed_before_anything_is_evicted() -> None:
    clock = ManualClock(START)
    engine = _engine("allkeys-lru", clock)
    engine.submit("PUT", ["keep", VALUE])
    for index in range(6):
        engine.submit("SETEX", [f"e{index}", VALUE, 1])
    clock.advance(2_000)
    for index in range(6):
        engine.submit("PUT", [f"k{index}", VALUE])
    assert engine.submit("GET", ["keep"])[0] == VALUE
    stats = engine.statistics()
    assert stats.evicted_total == 0
    assert stats.expired_total >= 1


@pytest.mark.trio
async def test_an_evicted_crdt_counter_means_the_same_everywhere(tmp_path: Path) -> None:
    # After eviction the counter restarts from zero on this node; a peer that
    # replays the same log (or a recovery without a snapshot) must agree.
    clock = ManualClock(START)
    data = tmp_path / "d"
    async with open_engine(config(data, clock, max_memory_bytes=LIMIT)) as engine:
        for _ in range(5):
            await engine.execute("CINCR", ["c"])
        index = 0
        while _visible_without_reading(engine, "c"):
            await engine.execute("PUT", [f"f{index}", VALUE])
            index += 1
            assert index < 200, "the counter was never evicted"
        assert engine.statistics().evicted_total >= 1
        await engine.execute("DEL", [f"f{index - 1}"])
        assert await engine.execute("CINCR", ["c"]) == 1
        live = engine_view(engine, [("", "c")])
        await engine._log.flush()  # type: ignore[union-attr]
        assert view(replay_log(data), [("", "c")], clock()) == live


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-ttl"])
def test_volatile_policies_never_evict_a_key_without_ttl(policy: str) -> None:
    # A list pushed onto a key whose SETEX string expired has no TTL (TTL -1):
    # the old string's expiry must not make it a volatile key.
    clock = ManualClock(START)
    engine = _engine(policy, clock)
    engine.submit("SETEX", ["k", "v", 1])
    clock.advance(1_000)
    assert engine.submit("RPUSH", ["k", "x"])[0] == 1
    assert engine.submit("TTL", ["k"])[0] == -1
    with pytest.raises(OutOfMemoryError):
        for index in range(100):
            engine.submit("PUT", [f"p{index}", VALUE])
    assert engine.submit("LRANGE", ["k", 0, -1])[0] == ["x"]
    assert engine.statistics().evicted_total == 0
