"""Snapshots that fail to write, and snapshots damaged on disk."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lmdb
import pytest
import trio

from bolt.errors import SnapshotCorruptionError
from bolt.node import Engine, open_engine
from bolt.state._snapshot import SnapshotStore

from ._support import config


@pytest.mark.trio
async def test_a_failed_snapshot_write_is_counted_retried_and_the_engine_serves_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = SnapshotStore._write_once
    failing = [True]

    def write_once(self: SnapshotStore, *args: Any) -> int:
        if failing[0]:
            raise lmdb.Error("mdb_txn_commit: Input/output error")
        return real(self, *args)

    monkeypatch.setattr(SnapshotStore, "_write_once", write_once)
    cfg = config(tmp_path / "data", snapshot_interval_events=1, snapshot_interval_ms=50)
    async with open_engine(cfg) as engine:
        await engine.execute("PUT", ["k", "v1"])
        with trio.fail_after(5):
            while _snapshot(engine).failures_total == 0:
                await trio.sleep(0.02)
        stats = _snapshot(engine)
        assert stats.snapshots_total == 0 and "Input/output error" in (stats.last_error or "")
        await engine.execute("PUT", ["k", "v2"])  # serving on
        await trio.sleep(0.6)
        assert _snapshot(engine).failures_total == 1  # backed off: no retry within 1 s
        failing[0] = False
        with trio.fail_after(10):
            while _snapshot(engine).snapshots_total == 0:
                await trio.sleep(0.05)
        assert _snapshot(engine).last_error is None
        assert await engine.execute("GET", ["k"]) == "v2"
    assert "snapshot failed" in caplog.text
    async with open_engine(config(tmp_path / "data")) as engine:
        assert await engine.execute("GET", ["k"]) == "v2"


def _snapshot(engine: Engine) -> Any:
    stats = engine.statistics().snapshot
    assert stats is not None
    return stats


async def _write_snapshotted(data_dir: Path, *, trim: bool) -> None:
    """A snapshot holding ``secret`` (and, with ``trim``, a log that no longer starts at 0)."""
    async with open_engine(config(data_dir, segment_bytes_max=256)) as engine:
        await engine.execute("PUT", ["secret", "value-in-the-snapshot"])
        for index in range(40 if trim else 0):
            await engine.execute("PUT", [f"filler:{index}", "x" * 20])
        await engine.snapshot_now()
        if trim:
            await engine.execute("PUT", ["later", "1"])
            await engine.snapshot_now()
            assert engine.statistics().log.first_offset > 0  # type: ignore[union-attr]


def _patch_value(data_dir: Path) -> None:
    path = data_dir / "snapshot" / "data.mdb"
    data = path.read_bytes()  # every copy: LMDB may keep one in a page it no longer uses
    assert b"value-in-the-snapshot" in data
    path.write_bytes(data.replace(b"value-in-the-snapshot", b"VALUE-in-the-snapshot"))


@pytest.mark.trio
async def test_a_patched_snapshot_value_is_rebuilt_from_a_log_that_reaches_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    await _write_snapshotted(data_dir, trim=False)
    _patch_value(data_dir)
    store = SnapshotStore(data_dir / "snapshot", readonly=True)
    with pytest.raises(SnapshotCorruptionError, match="key 'secret'") as caught:
        store.load()
    store.close()
    assert caught.value.key == "secret" and caught.value.shard >= 0
    caplog.set_level(logging.WARNING)
    async with open_engine(config(data_dir)) as engine:
        assert await engine.execute("GET", ["secret"]) == "value-in-the-snapshot"
    assert "rebuilt from the log alone" in caplog.text
    assert (data_dir / "snapshot.damaged-1" / "data.mdb").exists()
    # The close wrote a fresh snapshot that passes its checks.
    store = SnapshotStore(data_dir / "snapshot", readonly=True)
    loaded = store.load()
    store.close()
    assert loaded is not None and loaded.shards


@pytest.mark.trio
async def test_a_patched_snapshot_value_stops_recovery_when_the_log_was_trimmed(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    await _write_snapshotted(data_dir, trim=True)
    _patch_value(data_dir)
    with pytest.raises(SnapshotCorruptionError, match=r"key 'secret'.*refusing to start"):
        await Engine.open(config(data_dir))


@pytest.mark.trio
async def test_a_truncated_data_file_is_an_error_not_a_sigbus(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    await _write_snapshotted(data_dir, trim=True)
    path = data_dir / "snapshot" / "data.mdb"
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.truncate(size // 2)
    with pytest.raises(SnapshotCorruptionError, match="truncated"):
        await Engine.open(config(data_dir))
    with pytest.raises(SnapshotCorruptionError, match="truncated"):
        SnapshotStore(data_dir / "snapshot", readonly=True)
