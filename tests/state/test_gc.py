"""Tombstone collection (``bolt.state._gc``): the laws, and the dot check that protects it.

A random history of every write type on two or three simulated nodes gives
a set of events. A stable HLC ``S`` is drawn among their HLCs: the events
at or below it are "the past" (applied everywhere), the rest "the future".

* Collecting never changes what a reader sees, whatever ``S``.
* Collecting at ``S`` and then applying the future (in any order, with
  duplicates) ends, once collected again, in the state that applying
  everything and then collecting gives, and shows the same at every step.
* After collecting, replaying the past (a late duplicate of any old write)
  changes nothing: its dot is in the version vector.
* The bytes come back: the exact memory invariant holds after collecting,
  and with ``S`` above every event no tombstone is left.
"""

from __future__ import annotations

import random

import msgpack
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from bolt.events import KeyDeleted, KeyPut, ListPopped, ListPushed, SetAdded, SetRemoved
from bolt.state import Entry, Keyspace, apply
from bolt.state._entry import HASH, SET
from bolt.state._gc import collect, tombstone_count
from bolt.state.snapshot import decode_entry, encode_entry
from tests.state._support import (
    HISTORY_DBS,
    HISTORY_KEYS,
    assert_memory_exact,
    random_history,
    view,
)

NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
ALL_KEYS = [(db, key) for db in HISTORY_DBS for key in HISTORY_KEYS]


def _applied(events: list, rnd: random.Random, keyspace: Keyspace | None = None) -> Keyspace:
    keyspace = keyspace if keyspace is not None else Keyspace(4)
    order = list(events) + rnd.choices(events, k=min(len(events), 4))
    rnd.shuffle(order)
    for event in order:
        apply(keyspace, event)
    return keyspace


def _canonical(entry: Entry) -> list:
    """An entry's whole state (tombstones and floors included), in a canonical form."""
    state = msgpack.unpackb(encode_entry(entry), strict_map_key=False)
    bodies = state[5] or {}
    for kind in (SET, HASH):  # members and fields are listed in arrival order: sort them
        if kind in bodies:
            bodies[kind][0] = sorted(bodies[kind][0], key=repr)
    return state


def _state(keyspace: Keyspace) -> dict:
    """Every entry's whole state and the memory used."""
    entries = {
        name: _canonical(entry)
        for shard in keyspace.shards
        for name, entry in shard.entries.items()
    }
    return {"entries": entries, "memory": keyspace.memory_used}


def _all_tombstones(keyspace: Keyspace) -> int:
    return sum(tombstone_count(e) for s in keyspace.shards for e in s.entries.values())


def _split(events: list, rnd: random.Random) -> tuple[int, list, list]:
    hlcs = sorted({e.hlc for e in events})
    stable = rnd.choice([0, *hlcs]) if hlcs else 0
    return (
        stable,
        [e for e in events if e.hlc <= stable],
        [e for e in events if e.hlc > stable],
    )


@settings(max_examples=60, deadline=None, phases=NO_SHRINK)
@given(st.integers(0, 2**32), st.integers(2, 3), st.integers(5, 60))
def test_collecting_never_changes_what_a_reader_sees(seed: int, nodes: int, steps: int) -> None:
    _, events, clock = random_history(seed, nodes, steps)
    rnd = random.Random(seed)
    keyspace = _applied(events, rnd)
    before = {now: view(keyspace, ALL_KEYS, now) for now in (clock(), clock() + 120_000)}
    stable = rnd.choice([0, *(e.hlc for e in events), 2**62]) if events else 0
    collect(keyspace, stable)
    for now, seen in before.items():
        assert view(keyspace, ALL_KEYS, now) == seen, f"seed={seed} stable={stable}"
    assert_memory_exact(keyspace)


@settings(max_examples=80, deadline=None, phases=NO_SHRINK)
@given(st.integers(0, 2**32), st.integers(2, 3), st.integers(5, 60))
def test_collect_then_apply_later_events_equals_apply_then_collect(
    seed: int, nodes: int, steps: int
) -> None:
    _, events, clock = random_history(seed, nodes, steps)
    rnd = random.Random(seed ^ 0x6C)
    stable, past, future = _split(events, rnd)

    collected_first = _applied(past, rnd)
    collect(collected_first, stable)
    _applied(future, rnd, collected_first)

    applied_first = _applied(events, rnd)
    for now in (clock(), clock() + 120_000):
        assert view(collected_first, ALL_KEYS, now) == view(applied_first, ALL_KEYS, now), (
            f"seed={seed} stable={stable}"
        )
    collect(collected_first, stable)
    collect(applied_first, stable)
    assert _state(collected_first) == _state(applied_first), f"seed={seed} stable={stable}"
    assert_memory_exact(collected_first)


@settings(max_examples=60, deadline=None, phases=NO_SHRINK)
@given(st.integers(0, 2**32), st.integers(2, 3), st.integers(5, 60))
def test_a_late_replay_after_collection_changes_nothing(seed: int, nodes: int, steps: int) -> None:
    _, events, clock = random_history(seed, nodes, steps)
    rnd = random.Random(seed ^ 0x7A)
    keyspace = _applied(events, rnd)
    collect(keyspace, 2**62)
    assert _all_tombstones(keyspace) == 0
    state = _state(keyspace)
    seen = view(keyspace, ALL_KEYS, clock())
    _applied(events, rnd, keyspace)  # every old event again, any order: all skipped by dot
    assert _state(keyspace) == state, f"seed={seed}"
    assert view(keyspace, ALL_KEYS, clock()) == seen


def _events_on_one_key() -> tuple[list, int]:
    put = KeyPut("n2", 1, 100, "", "k", "old", 0)
    added = SetAdded("n2", 2, 110, "", "s", ("a", "b"))
    pushed = ListPushed("n2", 3, 120, "", "l", False, ("x", "y"))
    removed = SetRemoved("n1", 1, 130, "", "s", (("a", ((110, "n2"),)),))
    popped = ListPopped("n1", 2, 140, "", "l", ((120, "n2", 0),))
    deleted = KeyDeleted("n1", 3, 150, "", "k", {}, "del")
    return [put, added, pushed, removed, popped, deleted], 150


def test_tombstones_go_only_once_stable_and_the_bytes_come_back() -> None:
    events, delete_hlc = _events_on_one_key()
    keyspace = Keyspace(2)
    for event in events:
        apply(keyspace, event)
    assert _all_tombstones(keyspace) == 3  # the deleted key, the removed member and element
    memory = keyspace.memory_used
    assert keyspace.get("k") is not None

    unstable = collect(keyspace, delete_hlc - 1)  # the delete is not stable yet
    assert unstable.collected == 2 and unstable.remaining == 1
    assert keyspace.get("k") is not None
    stable = collect(keyspace, delete_hlc)
    assert stable.collected == 1 and stable.remaining == 0
    assert keyspace.get("k") is None
    assert keyspace.memory_used < memory
    assert memory - keyspace.memory_used == unstable.bytes_freed + stable.bytes_freed
    assert_memory_exact(keyspace)

    # The old write again (a late replay with its own dot) is skipped by the dot check...
    assert apply(keyspace, events[0]) is False
    assert keyspace.get("k") is None
    # ...and it is exactly the dot that protects it: the same write with a dot
    # never seen would resurrect the key. Stability promises no such event exists.
    assert apply(keyspace, KeyPut("n2", 99, 100, "", "k", "old", 0)) is True
    assert keyspace.get("k") is not None


def test_collection_survives_a_snapshot_round_trip() -> None:
    events, delete_hlc = _events_on_one_key()
    keyspace = Keyspace(2)
    for event in events:
        apply(keyspace, event)
    collect(keyspace, delete_hlc)
    restored = Keyspace(2)
    for shard in keyspace.shards:
        for name, entry in shard.entries.items():
            restored.adopt(restored.shards[shard.index], name, decode_entry(encode_entry(entry)))
    restored.dots = keyspace.dots.copy()
    assert _state(restored) == _state(keyspace)
    for event in events:
        assert apply(restored, event) is False
    assert restored.get("k") is None
    assert view(restored, [("", "s"), ("", "l"), ("", "k")], 0) == view(
        keyspace, [("", "s"), ("", "l"), ("", "k")], 0
    )
