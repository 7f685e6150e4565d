"""Memory accounting: an exact invariant, after every change of every kind.

``keyspace.memory_used == sum(shard.memory) == sum(entry.estimate_size(name))``
and each entry's cached ``size`` equals its estimate -- after random commands
on a bare keyspace (with and without tombstones), and on an engine with a
memory limit, expiry reclaim and eviction under every policy.
"""

from __future__ import annotations

import random

import pytest
import trio
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from bolt import limits
from bolt.errors import OutOfMemoryError, RequestError
from bolt.node import Engine, EngineConfig
from bolt.state._entry import ELEMENT_BYTES, element_bytes, name_bytes, value_bytes
from bolt.testing._clock import ManualClock
from tests.state._support import SimNode, assert_memory_exact, random_write

START = 1_700_000_000_000
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
KEYS = ("a", "b", "c", "d")
VALUES = ("", "x", "12", "y" * 50, b"\x01" * 9)
MEMBERS = ("m", "n", "o", "p")


@settings(max_examples=80, deadline=None, phases=NO_SHRINK)
@given(st.integers(0, 2**32), st.booleans())
def test_invariant_after_every_command(seed: int, keep_tombstones: bool) -> None:
    rnd = random.Random(seed)
    node = SimNode("n", ManualClock(START), keep_tombstones=keep_tombstones)
    for _ in range(60):
        node.clock.advance(rnd.choice([0, 10, 1500]))
        command, args = random_write(rnd, KEYS, VALUES, MEMBERS)
        try:
            node.run(command, *args)
        except RequestError:
            pass
        assert_memory_exact(node.keyspace)


def test_sizes_of_simple_values() -> None:
    node = SimNode("n", ManualClock(START), keep_tombstones=False)
    node.call("PUT", "k", "hello")
    assert node.keyspace.memory_used == name_bytes("k") + value_bytes("hello")
    node.call("PUT", "k", "hello, world")
    assert node.keyspace.memory_used == name_bytes("k") + value_bytes("hello, world")
    node.call("DEL", "k")
    assert node.keyspace.memory_used == 0
    node.call("RPUSH", "l", "a", "bb")
    assert node.keyspace.memory_used == name_bytes("l") + element_bytes("a") + element_bytes("bb")
    node.call("LPOP", "l")
    assert node.keyspace.memory_used == name_bytes("l") + element_bytes("bb")
    node.call("CINCR", "c")
    assert node.keyspace.memory_used == (
        name_bytes("l") + element_bytes("bb") + name_bytes("c") + ELEMENT_BYTES
    )
    assert_memory_exact(node.keyspace)


def test_deleting_everything_frees_everything() -> None:
    node = SimNode("n", ManualClock(START), keep_tombstones=False)
    for index in range(50):
        node.call("PUT", f"s{index}", "v" * index)
        node.call("RPUSH", f"l{index}", "x", "y")
        node.call("SADD", f"t{index}", "m", "n")
        node.call("INCRBY", f"n{index}", index)
    assert node.keyspace.memory_used > 0
    for index in range(50):
        node.call("MDEL", f"s{index}", f"l{index}", f"t{index}", f"n{index}")
    assert node.keyspace.memory_used == 0
    assert node.keyspace.key_count() == 0
    assert_memory_exact(node.keyspace)


def _open(policy: str, limit: int, clock: ManualClock) -> Engine:
    config = EngineConfig(
        persist=False, shard_count=4, max_memory_bytes=limit, eviction_policy=policy, now_ms=clock
    )
    return trio.run(Engine.open, config)


@pytest.mark.parametrize("policy", limits.eviction_policies)
@settings(max_examples=15, deadline=None, phases=NO_SHRINK)
@given(seed=st.integers(0, 2**32))
def test_invariant_with_eviction_and_expiry_reclaim(policy: str, seed: int) -> None:
    rnd = random.Random(seed)
    clock = ManualClock(START)
    engine = _open(policy, 4_000, clock)
    for _ in range(120):
        clock.advance(rnd.choice([0, 10, 700, 1500]))
        command, args = random_write(rnd, KEYS, VALUES, MEMBERS)
        try:
            engine.submit(command, args)
        except (RequestError, OutOfMemoryError):
            pass
        if rnd.random() < 0.1:
            engine._reclaim_expired(clock(), rnd.choice([1, 5, None]))
        assert_memory_exact(engine.keyspace)
        # At most one write past the limit before eviction catches up.
        assert engine.keyspace.memory_used < 4_000 + 1_000
