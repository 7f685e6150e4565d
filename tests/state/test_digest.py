"""State digests: equal for the same events in any order, different otherwise."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bolt.state._digest import state_digest
from bolt.testing._clock import ManualClock

from ._support import SimNode

WRITES = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.sampled_from(["PUT", "DEL", "INCR", "CINCR", "SADD", "SREM", "RPUSH", "LPOP", "SETEX"]),
        st.sampled_from(["k1", "k2", "k3"]),
        st.sampled_from(["x", "y"]),
    ),
    max_size=25,
)


def _args(command: str, key: str, value: str) -> list:
    if command in ("DEL", "INCR", "CINCR", "LPOP"):
        return [key]
    if command == "SETEX":
        return [key, value, 100]
    return [key, value]


@settings(max_examples=60, deadline=None)
@given(WRITES, st.randoms(use_true_random=False))
def test_same_events_any_order_same_digest(writes: list, rng: random.Random) -> None:
    clock = ManualClock(1_000_000)
    nodes = {"a": SimNode("a", clock), "b": SimNode("b", clock)}
    events = []
    for origin, command, key, value in writes:
        clock.advance(1)
        try:
            events += nodes[origin].run(command, *_args(command, key, value))[1]
        except Exception:  # a wrong-type write is refused and changes nothing
            pass
    replicas = []
    for _ in range(3):
        replica = SimNode("r", clock)
        shuffled = events + rng.sample(events, k=len(events) // 2)  # with duplicates
        rng.shuffle(shuffled)
        replica.deliver(shuffled)
        replicas.append(state_digest(replica.keyspace, clock()))
    assert all(d == replicas[0] for d in replicas)
    both = SimNode("both", clock)
    both.deliver(events)
    assert state_digest(both.keyspace, clock())["digest"] == replicas[0]["digest"]


def test_different_state_different_digest() -> None:
    clock = ManualClock(1_000_000)
    a, b = SimNode("a", clock), SimNode("b", clock)
    empty = state_digest(a.keyspace, clock())
    assert empty["keys"] == 0
    a.run("PUT", "k", "v")
    first = state_digest(a.keyspace, clock())
    assert first["digest"] != empty["digest"] and first["keys"] == 1
    b.run("PUT", "k", "v")  # same value, written elsewhere: not the same state yet
    assert state_digest(b.keyspace, clock())["digest"] != first["digest"]
    a.run("CINCR", "c")
    b.run("CINCR", "c")  # each counted 1: values equal, states not
    assert state_digest(a.keyspace, clock()) != state_digest(b.keyspace, clock())


def test_per_database_and_per_shard() -> None:
    clock = ManualClock(1_000_000)
    node = SimNode("a", clock, shard_count=4)
    node.run("PUT", "k", "v")
    node.run("PUT", "k", "v", db="other")
    digest = state_digest(node.keyspace, clock())
    assert set(digest["databases"]) == {"", "other"}
    assert len(digest["shards"]) == 4
    only = state_digest(node.keyspace, clock(), "other")
    assert only["keys"] == 1 and list(only["databases"]) == ["other"]


def test_expired_keys_leave_the_digest() -> None:
    clock = ManualClock(1_000_000)
    node = SimNode("a", clock)
    before = state_digest(node.keyspace, clock())
    node.run("SETEX", "k", "v", 1)
    assert state_digest(node.keyspace, clock())["keys"] == 1
    clock.advance(1001)
    assert state_digest(node.keyspace, clock())["digest"] == before["digest"]
