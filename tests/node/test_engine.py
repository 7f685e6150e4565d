"""The engine: command → events → log → state → reply, and its bookkeeping.

``submit`` is synchronous and returns ``(reply, offset)``; ``execute`` also
waits for durability. A refused request writes nothing and leaves no gap in
the node's seq; the data directory is locked and keeps its NODE_ID; users are
events like any data; ``statistics()`` is a frozen snapshot.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import trio

from bolt.errors import (
    BadRequestError,
    BoltError,
    ConfigError,
    ShuttingDownError,
    StorageError,
    WrongTypeError,
)
from bolt.events import decode_record
from bolt.log import LogReader
from bolt.node import Engine, EngineStatistics, open_engine
from bolt.testing._clock import ManualClock
from tests.node._support import START, config


@pytest.mark.trio
async def test_execute_submit_and_statistics(tmp_path: Path) -> None:
    clock = ManualClock(START)
    async with open_engine(config(tmp_path / "d", clock)) as engine:
        assert engine.ready
        assert await engine.execute("PUT", ["k", "v"]) is None
        reply, offset = engine.submit("RPUSH", ["l", "a", "b"])
        assert reply == 2 and offset == 1
        await engine.wait_durable(offset)
        assert await engine.execute("GET", ["k"]) == "v"
        assert await engine.execute("MSET", ["a", "1", "b", "2"]) == 2
        stats = engine.statistics()
        assert isinstance(stats, EngineStatistics)
        with pytest.raises(dataclasses.FrozenInstanceError):
            stats.keys = 0  # type: ignore[misc]
        assert stats.node_id == engine.origin
        assert stats.seq == 4  # PUT, RPUSH, MSET x2
        assert stats.events_total == 4
        assert stats.last_offset == 2  # MSET is one record
        assert stats.keys == 4
        assert stats.keys_written_total == 4
        assert stats.fsync_mode == "off"
        assert stats.memory_used_bytes == engine.keyspace.memory_used > 0
        assert stats.hlc == engine.clock.last
        assert len(stats.shards) == 4
        assert sum(s.keys for s in stats.shards) == 4
        assert stats.databases == 1
        assert stats.failed is None


@pytest.mark.trio
async def test_one_command_is_one_record(tmp_path: Path) -> None:
    data = tmp_path / "d"
    async with open_engine(config(data, ManualClock(START))) as engine:
        await engine.execute("MSET", ["a", "1", "b", "2", "c", "3"])
        await engine.execute("CINCR", ["c2"])
        await engine.execute("PUT", ["c2", "over"])  # counter reset + put: one record
    records = list(LogReader(data / "log").read(0))
    assert [len(decode_record(p)) for _, p in records] == [3, 1, 2]


@pytest.mark.trio
async def test_refused_requests_write_nothing(tmp_path: Path) -> None:
    async with open_engine(config(tmp_path / "d", ManualClock(START))) as engine:
        await engine.execute("RPUSH", ["l", "x"])
        before = engine.statistics()
        refusals: list[tuple[str, list[Any], type[BoltError]]] = [
            ("GET", ["l"], WrongTypeError),
            ("PUT", [1, "v"], BadRequestError),
            ("SETEX", ["k", "v", 0], BadRequestError),
        ]
        for command, args, error in refusals:
            with pytest.raises(error):
                engine.submit(command, args)
        after = engine.statistics()
        assert (after.seq, after.last_offset, after.events_total) == (
            before.seq,
            before.last_offset,
            before.events_total,
        )


@pytest.mark.trio
async def test_a_refused_key_leaves_no_gap_and_loses_nothing(tmp_path: Path) -> None:
    # A key that cannot be encoded (a lone surrogate) must be refused before
    # a stamp is taken; otherwise the node's seq has a gap and, after a
    # restart, later acknowledged writes are skipped as duplicates.
    data = tmp_path / "d"
    cfg = config(data, ManualClock(START))
    async with open_engine(cfg) as engine:
        await engine.execute("PUT", ["a", "1"])
        with pytest.raises(BadRequestError):
            engine.submit("PUT", ["\ud800", "x"])
        assert engine.statistics().seq == 1
        await engine.execute("PUT", ["b", "2"])
    async with open_engine(cfg) as engine:
        assert engine.statistics().seq == 2
        for index in range(3):
            await engine.execute("PUT", [f"n{index}", "v"])
        assert [engine.submit("GET", [f"n{i}"])[0] for i in range(3)] == ["v", "v", "v"]
    async with open_engine(cfg) as engine:
        assert [engine.submit("GET", [f"n{i}"])[0] for i in range(3)] == ["v", "v", "v"]


@pytest.mark.trio
async def test_users_are_events_and_survive_a_restart(tmp_path: Path) -> None:
    cfg = config(tmp_path / "d", ManualClock(START))
    async with open_engine(cfg) as engine:
        offset = engine.put_user("alice", "hash-1", "readwrite")
        await engine.wait_durable(offset)
        engine.put_user("bob", "hash-2", "readonly")
        engine.put_user("alice", "hash-3", "admin")
        existed, offset = engine.delete_user("bob")
        assert existed and offset >= 0
        assert engine.delete_user("nobody") == (False, offset)  # waits for what it read
        record = engine.user("alice")
        assert record is not None and (record.password_hash, record.role) == ("hash-3", "admin")
        assert engine.user("bob") is None
        assert [u.name for u in engine.users()] == ["alice"]
        stats = engine.statistics()
        # Users are events, not keys: the key counters do not move for them.
        assert (stats.events_total, stats.keys_written_total, stats.keys_deleted_total) == (4, 0, 0)
    async with open_engine(cfg) as engine:
        assert [(u.name, u.role) for u in engine.users()] == [("alice", "admin")]
        assert engine.user("bob") is None


@pytest.mark.trio
async def test_an_empty_node_id_file_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "d"
    async with open_engine(config(data)) as engine:
        await engine.execute("PUT", ["k", "v"])
    assert not (data / "NODE_ID.tmp").exists()  # written aside, then renamed into place
    (data / "NODE_ID").write_text("\n")
    with pytest.raises(StorageError, match="NODE_ID is empty"):
        await Engine.open(config(data))


@pytest.mark.trio
async def test_node_id_is_generated_once_and_kept(tmp_path: Path) -> None:
    data = tmp_path / "d"
    async with open_engine(config(data)) as engine:
        first = engine.origin
        assert first
    assert (data / "NODE_ID").read_text().strip() == first
    async with open_engine(config(data)) as engine:
        assert engine.origin == first
    async with open_engine(config(data, node_id=first)) as engine:
        assert engine.origin == first


@pytest.mark.trio
async def test_a_second_engine_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "d"
    async with open_engine(config(data)) as engine:
        await engine.execute("PUT", ["k", "v"])
        with pytest.raises(StorageError):
            await Engine.open(config(data))
        assert await engine.execute("GET", ["k"]) == "v"  # the first one carries on


@pytest.mark.trio
async def test_a_refused_open_releases_the_directory(tmp_path: Path) -> None:
    data = tmp_path / "d"
    async with open_engine(config(data, node_id="a")) as engine:
        await engine.execute("PUT", ["k", "v"])
    with pytest.raises(StorageError):
        await Engine.open(config(data, node_id="b"))  # not this node's directory
    async with open_engine(config(data, node_id="a")) as engine:
        assert await engine.execute("GET", ["k"]) == "v"


def test_persist_off_keeps_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    async def main() -> None:
        async with open_engine(config(None)) as engine:
            assert engine.origin
            await engine.execute("PUT", ["k", "v"])
            assert engine.statistics().fsync_mode == "none"
            assert engine.statistics().log is None

    trio.run(main)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "overrides",
    [{"shard_count": 0}, {"shard_count": -3}, {"eviction_policy": "lru"}, {"max_memory_bytes": -1}],
    ids=["zero-shards", "negative-shards", "unknown-policy", "negative-memory"],
)
def test_bad_engine_config_is_refused_with_config_error(overrides: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        engine = trio.run(Engine.open, config(None, **overrides))
        engine.submit("PUT", ["k", "v"])


@pytest.mark.trio
async def test_close_is_idempotent_and_writes_after_close_are_refused(tmp_path: Path) -> None:
    engine = await Engine.open(config(tmp_path / "d"))
    engine.submit("PUT", ["k", "v"])
    await engine.close()
    await engine.close()
    seq = engine.statistics().seq
    for _ in range(2):  # refused alike each time: the refusal does not fail the engine
        with pytest.raises(ShuttingDownError) as info:
            engine.submit("PUT", ["k2", "v"])
        assert type(info.value) is ShuttingDownError
        assert str(info.value) == "the log is closed"
        assert engine.statistics().seq == seq == 1  # the refused PUT's seq was given back
    assert engine.keyspace.get("k2") is None


@pytest.mark.trio
async def test_a_record_the_log_refuses_gives_its_seqs_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A command whose record the log refuses (here: over the record limit)
    # must not burn seqs: a gap would make later writes look like duplicates
    # after a restart and be skipped.
    from bolt import limits
    from bolt.errors import TooLargeError
    from bolt.log import _log

    clock = ManualClock(START)
    data = tmp_path / "d"
    async with open_engine(config(data, clock)) as engine:
        await engine.execute("PUT", ["before", "1"])
        seq = engine.statistics().seq
        monkeypatch.setattr(_log, "_RECORD_BYTES_MAX", 200)
        monkeypatch.setattr(limits, "record_bytes_max", 200)
        with pytest.raises(TooLargeError):
            engine.submit("MSET", ["a", "x" * 300])
        monkeypatch.undo()
        assert engine.statistics().seq == seq
        await engine.execute("PUT", ["after", "2"])
    async with open_engine(config(data, clock)) as engine:
        assert await engine.execute("GET", ["after"]) == "2"
        assert await engine.execute("GET", ["a"]) is None
        await engine.execute("PUT", ["later", "3"])
    async with open_engine(config(data, clock)) as engine:
        assert await engine.execute("GET", ["later"]) == "3"


@pytest.mark.trio
async def test_arguments_must_be_a_list_not_a_string(tmp_path: Path) -> None:
    async with open_engine(config(tmp_path / "d", ManualClock(START))) as engine:
        with pytest.raises(BadRequestError):
            engine.submit("GET", "key")  # type: ignore[arg-type]
        assert engine.submit("GET", ("key",))[0] is None  # any other sequence is fine
