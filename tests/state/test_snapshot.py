"""LMDB snapshots of the keyspace: entries and shards round-trip exactly.

``encode_entry``/``decode_entry`` keep every part of an entry (reset stamp,
value, expiry, list/set/counter bodies with their pending removals);
``SnapshotStore`` keeps each shard's covered offset, dots, HLC, users and
entries, replaces a shard whole, refuses a newer or an older format, and grows its map
when LMDB reports it full.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import lmdb
import msgpack
import pytest

from bolt import limits
from bolt.errors import FormatVersionError, StorageError
from bolt.state._snapshot import (
    LoadedSnapshot,
    ShardSnapshot,
    SnapshotStore,
    decode_entry,
    encode_entry,
    iter_shard_entries,
)
from bolt.testing._clock import ManualClock
from tests.state._support import SimNode

START = 1_700_000_000_000


def _rich_node() -> SimNode:
    node = SimNode("n", ManualClock(START))
    node.call("PUT", "s", "text")
    node.call("PUT", "b", b"\x00\xffbytes")
    node.call("SETEX", "e", "soon", 60)
    node.call("INCRBY", "n", -42)
    node.call("RPUSH", "l", "x", b"y", "")
    node.call("LPUSH", "l", "w")
    node.call("SADD", "t", "m1", b"m2")
    node.call("CINCRBY", "c", 9)
    node.call("CDECR", "c")
    node.call("PUT", "gone", "v")
    node.call("DEL", "gone")  # a kept tombstone
    # Pending removals and concurrent tags, from a peer's events.
    peer = SimNode("p", node.clock)
    _, added = peer.run("SADD", "t", "m1")
    node.deliver(added)
    return node


def test_every_kind_of_entry_round_trips() -> None:
    node = _rich_node()
    seen = 0
    for shard in node.keyspace.shards:
        for name, entry in shard.entries.items():
            again = decode_entry(encode_entry(entry))
            assert (again.hlc, again.origin, again.kind, again.value, again.expires_at) == (
                entry.hlc,
                entry.origin,
                entry.kind,
                entry.value,
                entry.expires_at,
            ), name
            assert encode_entry(again) == encode_entry(entry), name
            assert again.estimate_size(name) == entry.estimate_size(name)
            assert again.visible_kind(node.clock()) == entry.visible_kind(node.clock())
            seen += 1
    assert seen == 8


def _shard(index: int, entries: list[tuple[str, bytes]], covered: int = 10) -> ShardSnapshot:
    return ShardSnapshot(index, covered, [{"n": 3}, []], 12345, [], entries)


def test_store_round_trip_and_replace(tmp_path: Path) -> None:
    node = _rich_node()
    store = SnapshotStore(tmp_path / "snap")
    try:
        assert store.load() is None
        encoded = [(n, encode_entry(e)) for s in node.keyspace.shards for n, e in s.entries.items()]
        users = [["admin", "hash", "admin", 5, "n", False]]
        store.write_shard(
            "node-1", 2, ShardSnapshot(0, 10, [{"n": 3}, []], 999, users, encoded[:4])
        )
        store.write_shard("node-1", 2, _shard(1, encoded[4:]))
        loaded = store.load()
        assert isinstance(loaded, LoadedSnapshot)
        assert loaded.node_id == "node-1" and loaded.shard_count == 2
        assert sorted(loaded.shards) == [0, 1]
        assert loaded.shards[0].users == users
        assert loaded.shards[0].hlc == 999
        assert sorted(loaded.shards[0].entries + loaded.shards[1].entries) == sorted(encoded)
        assert {n for _, n, _ in iter_shard_entries(loaded)} == {n for n, _ in encoded}
        assert store.covered() == {0: 10, 1: 10}
        # Replacing a shard drops what it no longer holds.
        store.write_shard("node-1", 2, _shard(1, encoded[4:5], covered=20))
        loaded = store.load()
        assert loaded is not None
        assert sorted(loaded.shards[1].entries) == sorted(encoded[4:5])
        assert sorted(loaded.shards[0].entries) == sorted(encoded[:4])
        # Unchanged: only the covered offset moves.
        store.write_shard("node-1", 2, _shard(0, [], covered=30), changed=False)
        loaded = store.load()
        assert loaded is not None
        assert loaded.shards[0].covered == 30
        assert sorted(loaded.shards[0].entries) == sorted(encoded[:4])
        assert store.size_bytes() > 0
    finally:
        store.close()


def test_names_with_nul_and_non_ascii_round_trip(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snap")
    try:
        names = ["db\0key", "\0nul-in-default", "é\U0001f600", ""]
        entries = [(n, b"x") for n in names]
        store.write_shard("n", 1, _shard(0, entries))
        loaded = store.load()
        assert loaded is not None
        assert sorted(loaded.shards[0].entries) == sorted(entries)
    finally:
        store.close()


def test_newer_format_is_refused(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snap")
    store.write_shard("n", 1, _shard(0, []))
    store.close()
    env = lmdb.open(str(tmp_path / "snap"), max_dbs=4)
    with env.begin(write=True) as txn:
        txn.put(b"format", b"99", db=env.open_db(b"meta", txn=txn))
    env.close()
    store = SnapshotStore(tmp_path / "snap")
    try:
        with pytest.raises(FormatVersionError):
            store.load()
    finally:
        store.close()


def test_a_snapshot_of_the_older_layout_is_refused_not_read_as_empty(tmp_path: Path) -> None:
    # Format 1 kept every shard's entries in one "data" database (u32 shard
    # index + name -> entry). Read as the per-shard layout it looked like
    # shards with no entries that still claim their covered offsets, so
    # recovery would skip the log records holding those keys: silent loss.
    env = lmdb.open(str(tmp_path / "snap"), max_dbs=4)
    with env.begin(write=True) as txn:
        meta = env.open_db(b"meta", txn=txn)
        txn.put(b"format", b"1", db=meta)
        txn.put(b"node_id", b"n", db=meta)
        txn.put(b"shard_count", b"1", db=meta)
        shard_meta = {"covered": 41, "dots": [{"n": 42}, []], "hlc": 5, "users": [], "keys": 1}
        txn.put(struct.pack(">I", 0), msgpack.packb(shard_meta), db=env.open_db(b"shards", txn=txn))
        txn.put(struct.pack(">I", 0) + b"k", b"entry", db=env.open_db(b"data", txn=txn))
    env.close()
    store = SnapshotStore(tmp_path / "snap")
    try:
        with pytest.raises(FormatVersionError, match="format 1"):
            store.load()
    finally:
        store.close()


def test_readonly_open_of_a_missing_snapshot(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        SnapshotStore(tmp_path / "nothing", readonly=True)
    assert not (tmp_path / "nothing").exists()


def test_map_grows_when_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "lmdb_map_bytes_initial", 256 * 1024)
    store = SnapshotStore(tmp_path / "snap")
    try:
        rnd = random.Random(1)
        entries = [(f"k{i}", rnd.randbytes(4096)) for i in range(200)]  # ~800 KiB
        store.write_shard("n", 1, _shard(0, entries))
        loaded = store.load()
        assert loaded is not None
        assert sorted(loaded.shards[0].entries) == sorted(entries)
        assert store._env.info()["map_size"] > 256 * 1024
    finally:
        store.close()
