"""The keyspace: names, shards, totals, the expiry heap and eviction candidates.

Internal names are injective over ``(db, key)`` and shard placement is a
stable crc32 (snapshots are written per shard). Totals follow every insert,
resize and remove; the random pool always mirrors the entries; expired and
overwritten heap items are skipped; each policy names the right candidate.
"""

from __future__ import annotations

import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from bolt.state import Keyspace, key_name, split_name
from bolt.state._entry import STRING, name_bytes
from bolt.testing._clock import ManualClock
from tests.state._support import SimNode, assert_memory_exact

START = 1_700_000_000_000
dbs = st.text(st.characters(blacklist_characters="\0", blacklist_categories=["Cs"]), max_size=5)
keys = st.text(st.characters(blacklist_categories=["Cs"]), max_size=6)


@settings(max_examples=300, deadline=None)
@given(dbs, keys, dbs, keys)
def test_names_round_trip_and_never_collide(db: str, key: str, db2: str, key2: str) -> None:
    assert split_name(key_name(db, key)) == (db, key)
    if (db, key) != (db2, key2):
        assert key_name(db, key) != key_name(db2, key2)


def test_default_database_names_are_the_keys_themselves() -> None:
    assert key_name("", "plain") == "plain"
    assert key_name("", "with\0nul") == "\0with\0nul"
    assert key_name("db", "k") == "db\0k"


def test_shard_placement_is_a_stable_crc32() -> None:
    keyspace = Keyspace(7)
    for name in ["a", "b", "db\0k", "é", "\U0001f600"]:
        expected = zlib.crc32(name.encode("utf-8")) % 7
        assert keyspace.shard_of(name).index == expected


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 500), st.booleans()), max_size=60
    )
)
def test_totals_and_random_pool_follow_every_change(ops: list[tuple[str, int, bool]]) -> None:
    keyspace = Keyspace(3, track_random=True)
    for name, size, remove in ops:
        shard = keyspace.shard_of(name)
        if remove:
            keyspace.remove(shard, name)
        else:
            entry = shard.entries.get(name) or keyspace.insert(shard, name)
            keyspace.resize(shard, entry, name_bytes(name) + size)
        assert keyspace.memory_used == sum(s.memory for s in keyspace.shards)
        assert keyspace.memory_used == sum(
            e.size for s in keyspace.shards for e in s.entries.values()
        )
        names = {n for s in keyspace.shards for n in s.entries}
        assert keyspace.random_pool is not None
        assert sorted(keyspace.random_pool) == sorted(names)
        assert all(keyspace.random_pool[i] == n for n, i in keyspace.random_index.items())


def test_pop_expired_skips_stale_items_and_respects_the_limit() -> None:
    node = SimNode("n", ManualClock(START))
    for index in range(5):
        node.call("SETEX", f"k{index}", "v", 1 + index)
    node.call("PUT", "k0", "no expiry now")  # stale heap item
    node.call("SETEX", "k1", "v", 100)  # moved later: the old item is stale
    node.clock.advance(10_000)
    keyspace = node.keyspace
    first = keyspace.pop_expired(node.clock(), limit=2)
    rest = keyspace.pop_expired(node.clock(), limit=10)
    assert sorted(first + rest) == ["k2", "k3", "k4"]
    assert len(first) == 2
    assert keyspace.pop_expired(node.clock() + 200_000, limit=10) == ["k1"]


def test_eviction_candidates_per_policy() -> None:
    node = SimNode("n", ManualClock(START), shard_count=3)
    node.call("PUT", "plain-old", "v")
    node.call("SETEX", "late", "v", 500)
    node.call("SETEX", "soon", "v", 5)
    node.call("PUT", "plain-new", "v")
    keyspace = node.keyspace
    now = node.clock()
    assert keyspace.eviction_candidate("allkeys-lru", now) == "plain-old"
    assert keyspace.eviction_candidate("volatile-lru", now) == "late"
    assert keyspace.eviction_candidate("volatile-ttl", now) == "soon"
    assert Keyspace(2).eviction_candidate("allkeys-lru", now) is None
    assert Keyspace(2).eviction_candidate("volatile-ttl", now) is None
    assert Keyspace(2, track_random=True).eviction_candidate("allkeys-random", now) is None


def test_touch_moves_a_key_to_the_back_of_the_lru_order() -> None:
    node = SimNode("n", ManualClock(START), shard_count=1)
    for name in ("a", "b", "c"):
        node.call("PUT", name, "v")
    keyspace = node.keyspace
    shard = keyspace.shard_of("a")
    entry = shard.entries["a"]
    keyspace.touch(shard, "a", entry)
    assert keyspace.eviction_candidate("allkeys-lru", node.clock()) == "b"


def test_live_names_hide_expired_and_other_databases() -> None:
    node = SimNode("n", ManualClock(START))
    node.call("PUT", "a", "v")
    node.call("SETEX", "b", "v", 1)
    node.call("PUT", "c", "v", db="db1")
    now = node.clock()
    assert sorted(node.keyspace.live_names(now)) == ["a", "b", "db1\0c"]
    assert sorted(node.keyspace.live_names(now + 1_000)) == ["a", "db1\0c"]
    assert list(node.keyspace.live_names(now, "db1")) == ["db1\0c"]
    assert node.keyspace.key_count() == 3
    assert node.keyspace.key_count(now + 1_000) == 2


def test_settle_keeps_or_drops_tombstones() -> None:
    for keep in (True, False):
        node = SimNode("n", ManualClock(START), keep_tombstones=keep)
        node.call("SETEX", "k", "value", 10)
        node.call("DEL", "k")
        entry = node.keyspace.get("k")
        if keep:
            assert entry is not None and entry.kind != STRING and entry.hlc > 0
            assert entry.value is None and entry.expires_at == 0
            assert node.keyspace.memory_used == name_bytes("k")
        else:
            assert entry is None
            assert node.keyspace.memory_used == 0
        assert_memory_exact(node.keyspace)
