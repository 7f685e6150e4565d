"""Convergence of ``bolt.state.apply``: any order, with duplicates, same state.

A random history runs on two or three simulated nodes (``_support.SimNode``:
a Keyspace, a node id, a seq and an HLC fed by one shared manual clock):
random commands of every type on random nodes, and now and then a delivery of
some of the events made so far to some node, in random order and with
duplicates. Then every event goes to fresh keyspaces in several random
permutations with duplicates, and to every node. Every keyspace must answer
GET/TYPE/EXISTS/LRANGE/SMEMBERS/CGET/TTL-presence/KEYS identically, hold the
same ``memory_used``, and keep the exact memory invariant.
"""

from __future__ import annotations

import random

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from bolt.state import Keyspace, apply
from tests.state._support import (
    HISTORY_DBS,
    HISTORY_KEYS,
    assert_memory_exact,
    random_history,
    view,
)

KEYS = HISTORY_KEYS
DBS = HISTORY_DBS

# Each node's random choices come from one seeded Random, so a failing
# example is reproduced by its seed (shrinking a history is slow and seldom
# clearer than the history itself, so it is skipped).
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


def _all_keys() -> list[tuple[str, str]]:
    return [(db, key) for db in DBS for key in KEYS]


@settings(max_examples=60, deadline=None, phases=NO_SHRINK)
@given(st.integers(0, 2**32), st.integers(2, 3), st.integers(5, 60))
def test_every_delivery_order_with_duplicates_converges(
    seed: int, node_count: int, steps: int
) -> None:
    nodes, events, clock = random_history(seed, node_count, steps)
    rnd = random.Random(seed ^ 0x5EED)
    keyspaces: list[Keyspace] = []
    for _ in range(3):
        order = list(events) + rnd.choices(events, k=min(len(events), 5))
        rnd.shuffle(order)
        fresh = Keyspace(4)
        for event in order:
            apply(fresh, event)
        keyspaces.append(fresh)
    for node in nodes:
        node.deliver(rnd.sample(events, len(events)))
        keyspaces.append(node.keyspace)
    for now in (clock(), clock() + 120_000):
        views = [view(ks, _all_keys(), now) for ks in keyspaces]
        for index, other in enumerate(views[1:], start=1):
            assert other == views[0], f"seed={seed}: keyspace {index} differs at now={now}"
    memory = [ks.memory_used for ks in keyspaces]
    assert len(set(memory)) == 1, f"seed={seed}: memory_used differs: {memory}"
    for ks in keyspaces:
        assert_memory_exact(ks)


@settings(max_examples=40, deadline=None, phases=NO_SHRINK)
@given(st.integers(0, 2**32), st.integers(5, 40))
def test_a_single_node_equals_its_own_replay(seed: int, steps: int) -> None:
    # One node, no concurrency: replaying its events in log order (what
    # recovery does) rebuilds the same state, with or without tombstones.
    nodes, events, clock = random_history(seed, 1, steps)
    for keep in (True, False):
        replayed = Keyspace(8, keep_tombstones=keep)
        for event in events:
            apply(replayed, event)
        assert view(replayed, _all_keys(), clock()) == view(nodes[0].keyspace, _all_keys(), clock())
        assert_memory_exact(replayed)
    for event in events:  # applying everything again changes nothing
        assert not apply(nodes[0].keyspace, event)
