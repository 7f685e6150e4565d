"""Expiry through the engine, with a manual wall clock.

A SETEX key is invisible from its expiry instant on (GET None, EXISTS False,
KEYS without it, TTL None) whether or not its memory was reclaimed yet; the
sweep (``_reclaim_expired`` or the background loop) frees the memory exactly
and counts ``expired_total``; a key rewritten without TTL is not reclaimed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from bolt.node import Engine, open_engine
from bolt.testing._clock import ManualClock
from tests.node._support import START, config
from tests.state._support import assert_memory_exact


def _engine(clock: ManualClock) -> Engine:
    return trio.run(Engine.open, config(None, clock))


def test_invisible_right_after_expiry_then_reclaimed() -> None:
    clock = ManualClock(START)
    engine = _engine(clock)
    engine.submit("PUT", ["plain", "v"])
    baseline = engine.keyspace.memory_used
    engine.submit("SETEX", ["k", "value", 3])
    assert engine.keyspace.memory_used > baseline
    clock.advance(2_999)
    assert engine.submit("GET", ["k"])[0] == "value"
    assert engine.submit("TTL", ["k"])[0] == 1
    clock.advance(1)
    assert engine.submit("GET", ["k"])[0] is None
    assert engine.submit("EXISTS", ["k"])[0] is False
    assert engine.submit("TTL", ["k"])[0] is None
    assert engine.submit("TYPE", ["k"])[0] is None
    assert engine.submit("KEYS", ["*"])[0] == ["plain"]
    assert engine.submit("MGET", ["k", "plain"])[0] == [None, "v"]
    assert engine.statistics().expired_total == 0  # not reclaimed yet
    assert engine._reclaim_expired(clock(), 10) == 1
    assert engine.keyspace.memory_used == baseline
    assert engine.statistics().expired_total == 1
    assert engine.keyspace.get("k") is None
    assert_memory_exact(engine.keyspace)
    assert engine._reclaim_expired(clock(), 10) == 0


def test_reclaim_respects_its_limit_and_skips_rewritten_keys() -> None:
    clock = ManualClock(START)
    engine = _engine(clock)
    for index in range(10):
        engine.submit("SETEX", [f"k{index}", "v", 1])
    engine.submit("PUT", ["k0", "kept"])  # no TTL any more
    engine.submit("SETEX", ["k1", "later", 100])  # a later TTL
    clock.advance(1_000)
    assert engine._reclaim_expired(clock(), 3) == 3
    assert engine._reclaim_expired(clock(), 100) == 5
    assert engine.statistics().expired_total == 8
    assert engine.submit("GET", ["k0"])[0] == "kept"
    assert engine.submit("GET", ["k1"])[0] == "later"
    assert engine.submit("KEYS", [])[0] == ["k0", "k1"]
    assert_memory_exact(engine.keyspace)


def test_writes_on_an_expired_key_start_fresh() -> None:
    clock = ManualClock(START)
    engine = _engine(clock)
    engine.submit("SETEX", ["n", "41", 1])
    engine.submit("SETEX", ["l", "x", 1])
    clock.advance(1_000)
    assert engine.submit("INCR", ["n"])[0] == 1  # not 42: the old value expired
    assert engine.submit("TTL", ["n"])[0] == -1
    assert engine.submit("RPUSH", ["l", "a"])[0] == 1  # a string that expired is no type
    assert engine.submit("LRANGE", ["l", 0, -1])[0] == ["a"]
    engine._reclaim_expired(clock(), None)
    assert engine.submit("LRANGE", ["l", 0, -1])[0] == ["a"]
    assert engine.submit("GET", ["n"])[0] == "1"
    assert_memory_exact(engine.keyspace)


@pytest.mark.trio
async def test_the_background_sweep_reclaims(tmp_path: Path) -> None:
    clock = ManualClock(START)
    async with open_engine(config(tmp_path / "d", clock)) as engine:
        await engine.execute("PUT", ["plain", "v"])
        baseline = engine.keyspace.memory_used
        for index in range(20):
            await engine.execute("SETEX", [f"k{index}", "v" * 50, 2])
        clock.advance(2_000)
        with trio.fail_after(5):
            while engine.statistics().expired_total < 20:
                await trio.sleep(0.02)
        assert engine.keyspace.memory_used == baseline
        assert engine.submit("KEYS", [])[0] == ["plain"]
        assert_memory_exact(engine.keyspace)


@pytest.mark.trio
async def test_expiry_is_the_same_after_a_restart(tmp_path: Path) -> None:
    clock = ManualClock(START)
    cfg = config(tmp_path / "d", clock)
    async with open_engine(cfg) as engine:
        await engine.execute("SETEX", ["k", "v", 10])
    clock.advance(4_000)
    async with open_engine(cfg) as engine:
        assert engine.submit("TTL", ["k"])[0] == 6  # an absolute instant, kept
        clock.advance(6_000)
        assert engine.submit("GET", ["k"])[0] is None
