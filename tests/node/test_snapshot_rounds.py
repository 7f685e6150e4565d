"""Snapshot rounds cut short, and layouts that change: recovery loses nothing.

A round writes one shard per LMDB transaction, so a crash can leave some
shards written and others not: in the first round some shards have no
snapshot at all, and their keys must come back from the log (the replay
starts at the beginning for them, with an empty version vector so nothing
is skipped as already applied). After a change of ``shard_count`` the first
round replaces the whole snapshot in one transaction, so the old and new
layouts are never mixed. A snapshot that went missing while the log was
already trimmed behind it stops the start with an error instead of quietly
coming up without the trimmed records.

A "crash" here is the snapshot write raising after ``n`` shards were
committed, then a close without a final snapshot: with ``fsync=always`` the
files are then exactly what a kill at that moment leaves.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import trio

from bolt.errors import StorageError
from bolt.node import Engine, open_engine
from bolt.state._snapshot import SnapshotStore
from bolt.testing._clock import ManualClock
from tests.node._support import START, config


class Interrupted(Exception):
    """Stands for the process dying in the middle of a snapshot round."""


async def _write_keys(engine: Engine, first: int, count: int) -> None:
    for index in range(first, first + count):
        await engine.execute("PUT", [f"k{index}", f"v{index}"])


async def _interrupted_round(engine: Engine, shards_written: int) -> None:
    """A snapshot round that dies after ``shards_written`` shard transactions."""
    assert engine._snapshots is not None
    store = engine._snapshots.store
    real = store.write_shard
    calls = 0

    def write_shard(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        if calls > shards_written:
            raise Interrupted
        return real(*args, **kwargs)

    def replace_all(*args: Any, **kwargs: Any) -> int:
        raise Interrupted  # one transaction: dying in it writes nothing

    real_replace_all = store.replace_all
    store.write_shard = write_shard  # type: ignore[method-assign]
    store.replace_all = replace_all  # type: ignore[method-assign]
    with pytest.raises(Interrupted):
        await engine.snapshot_now()
    store.write_shard = real  # type: ignore[method-assign]
    store.replace_all = real_replace_all  # type: ignore[method-assign]


def _values(engine: Engine, count: int) -> list[Any]:
    return [engine.submit("GET", [f"k{index}"])[0] for index in range(count)]


@pytest.mark.trio
@pytest.mark.parametrize("shards_written", [0, 1, 3])
async def test_a_first_round_cut_short_loses_no_key(tmp_path: Path, shards_written: int) -> None:
    clock = ManualClock(START)
    data = tmp_path / "d"
    engine = await Engine.open(config(data, clock, fsync="always", shard_count=4))
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await _write_keys(engine, 0, 200)
        await _interrupted_round(engine, shards_written)
        nursery.cancel_scope.cancel()
    await engine.close(final_snapshot=False)
    store = SnapshotStore(data / "snapshot")
    written = store.load()
    store.close()
    assert (len(written.shards) if written is not None else 0) == shards_written
    async with open_engine(config(data, clock, fsync="always", shard_count=4)) as reopened:
        assert _values(reopened, 200) == [f"v{index}" for index in range(200)]
        assert reopened.keyspace.key_count() == 200
        await _write_keys(reopened, 200, 1)  # the seq goes on: no write is taken for a duplicate
    async with open_engine(config(data, clock, shard_count=4)) as again:
        assert _values(again, 201) == [f"v{index}" for index in range(201)]


@pytest.mark.trio
@pytest.mark.parametrize(("before", "after"), [(4, 8), (8, 3)])
async def test_a_new_shard_count_replaces_the_whole_snapshot_at_once(
    tmp_path: Path, before: int, after: int
) -> None:
    clock = ManualClock(START)
    data = tmp_path / "d"
    async with open_engine(config(data, clock, fsync="always", shard_count=before)) as engine:
        await _write_keys(engine, 0, 200)
    engine = await Engine.open(config(data, clock, fsync="always", shard_count=after))
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await _write_keys(engine, 200, 100)
        await _interrupted_round(engine, 2)  # the re-layout round dies
        nursery.cancel_scope.cancel()
    await engine.close(final_snapshot=False)
    async with open_engine(config(data, clock, fsync="always", shard_count=after)) as engine:
        assert _values(engine, 300) == [f"v{index}" for index in range(300)]
        await engine.snapshot_now()
        assert engine._snapshots is not None
        store = engine._snapshots.store
        assert sorted(store.covered()) == list(range(after))
        loaded = store.load()
        assert loaded is not None and loaded.shard_count == after
        # Later rounds are the usual shard-by-shard ones, and may be cut short.
        await _write_keys(engine, 300, 20)
        await _interrupted_round(engine, 1)
    async with open_engine(config(data, clock, shard_count=after)) as reopened:
        assert _values(reopened, 320) == [f"v{index}" for index in range(320)]


@pytest.mark.trio
async def test_a_lost_snapshot_behind_a_trimmed_log_stops_the_start(tmp_path: Path) -> None:
    clock = ManualClock(START)
    data = tmp_path / "d"
    tiny = config(data, clock, segment_bytes_max=4096, shard_count=2)
    async with open_engine(tiny) as engine:
        await _write_keys(engine, 0, 500)
        await engine.snapshot_now()
        assert engine._log is not None and engine._log.first_offset > 0  # segments dropped
    shutil.rmtree(data / "snapshot")
    with pytest.raises(StorageError, match="records in between are gone"):
        await Engine.open(tiny)
