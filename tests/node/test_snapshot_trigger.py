"""When the background snapshot writer starts a round, and what a round trims.

README (Durability): a round starts after ``snapshot_interval_events``
events -- or, on a big keyspace, after at least as many events as there are
keys -- or after ``snapshot_interval_ms`` if anything changed; log segments
the snapshot covers are then deleted.

``SnapshotWriter.run`` checks every ``min(0.5 s, snapshot_interval_ms)``
with ``trio.sleep`` and measures the interval with ``time.monotonic``, so
these tests run on real time with small intervals. "No round" is checked by
waiting a little over two checks; "a round" by polling the writer's
``snapshots_total`` under ``trio.fail_after``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from bolt.node import Engine, EngineConfig, open_engine
from bolt.node._snapshots import SnapshotWriter
from bolt.testing import ManualClock
from tests.node._support import START, config

EVENT_CHECK_SECONDS = 0.5
"""How often the writer checks when ``snapshot_interval_ms`` is long."""

NEVER_MS = 3_600_000
"""A ``snapshot_interval_ms`` no test lasts: only the event trigger can fire."""


def _writer(engine: Engine) -> SnapshotWriter:
    assert engine._snapshots is not None
    return engine._snapshots


async def _put_keys(engine: Engine, first: int, count: int, value: str = "v") -> None:
    for index in range(first, first + count):
        await engine.execute("PUT", [f"k{index}", f"{value}{index}"])


async def _no_round_for(engine: Engine, seconds: float) -> None:
    """Wait ``seconds`` and check that no round started meanwhile."""
    before = _writer(engine).snapshots_total
    await trio.sleep(seconds)
    assert _writer(engine).snapshots_total == before, "a snapshot round started"


async def _wait_for_rounds(engine: Engine, total: int, timeout: float = 3) -> None:
    """Wait until the writer has finished ``total`` rounds."""
    with trio.fail_after(timeout):
        while _writer(engine).snapshots_total < total:
            await trio.sleep(0.01)


def _config(data: Path, **overrides: Any) -> EngineConfig:
    return config(data, ManualClock(START), **overrides)


@pytest.mark.trio
async def test_a_round_starts_once_the_event_threshold_is_reached(tmp_path: Path) -> None:
    options = _config(tmp_path / "d", snapshot_interval_events=100, snapshot_interval_ms=NEVER_MS)
    async with open_engine(options) as engine:
        writer = _writer(engine)
        await _put_keys(engine, 0, 99)
        assert writer.events_since == 99  # one PUT is one event
        await _no_round_for(engine, 2 * EVENT_CHECK_SECONDS + 0.2)
        await _put_keys(engine, 99, 1)
        await _wait_for_rounds(engine, 1)
        assert writer.events_since == 0  # counting starts over


@pytest.mark.trio
async def test_on_a_big_keyspace_the_threshold_is_the_key_count(tmp_path: Path) -> None:
    data = tmp_path / "d"
    options = _config(data, snapshot_interval_events=50, snapshot_interval_ms=NEVER_MS)
    async with open_engine(options) as engine:
        await engine.execute("MSET", [x for i in range(300) for x in (f"k{i}", "old")])
    # Reopened, the writer counts from zero (recovery is not counted as
    # events) and the keyspace holds 300 keys: the threshold is max(50, 300).
    async with open_engine(options) as engine:
        writer = _writer(engine)
        assert (engine.keyspace.key_count(), writer.events_since) == (300, 0)
        await _put_keys(engine, 0, 299, "new")  # overwrites: still 300 keys
        assert writer.events_since == 299
        await _no_round_for(engine, 2 * EVENT_CHECK_SECONDS + 0.2)
        await _put_keys(engine, 299, 1, "new")
        await _wait_for_rounds(engine, 1)


@pytest.mark.trio
async def test_a_round_is_due_after_the_interval_only_if_something_changed(
    tmp_path: Path,
) -> None:
    interval_ms = 200
    options = _config(
        tmp_path / "d", snapshot_interval_events=1_000_000, snapshot_interval_ms=interval_ms
    )
    idle_seconds = 3 * interval_ms / 1000 + 0.1  # three checks, each past the interval
    async with open_engine(options) as engine:
        writer = _writer(engine)
        await _no_round_for(engine, idle_seconds)  # nothing changed since the start
        await _put_keys(engine, 0, 1)
        await _wait_for_rounds(engine, 1)
        first_round = writer._last_round
        await _put_keys(engine, 1, 1)  # a change right after the round ...
        await _wait_for_rounds(engine, 2)
        # ... waits for the interval, counted from the start of the last round.
        assert writer._last_round - first_round >= interval_ms / 1000
        await _no_round_for(engine, idle_seconds)  # nothing changed since that round


@pytest.mark.trio
async def test_a_round_deletes_the_log_segments_it_covers(tmp_path: Path) -> None:
    data = tmp_path / "d"
    options = _config(
        data, segment_bytes_max=4096, snapshot_interval_events=200, snapshot_interval_ms=NEVER_MS
    )
    async with open_engine(options) as engine:
        log = engine._log
        assert log is not None
        await _put_keys(engine, 0, 199, "x" * 100)  # about 25 kB: several segments
        before = log.statistics()
        assert before.segments >= 4 and before.first_offset == 0
        assert _writer(engine).snapshots_total == 0
        await _put_keys(engine, 199, 1, "x" * 100)  # the threshold: the writer's own round
        await _wait_for_rounds(engine, 1)
        after = log.statistics()
        floor = _writer(engine).retention_floor()
        assert floor == after.next_offset - 1  # every shard is covered up to the last write
        assert after.segments < before.segments
        # Every closed segment was wholly covered and went; the active one
        # is never deleted, so the log still starts at or before floor + 1.
        assert after.segments == 1
        assert 0 < after.first_offset <= floor + 1
    async with open_engine(options) as reopened:  # snapshot + the remaining log
        values = [reopened.submit("GET", [f"k{i}"])[0] for i in range(200)]
        assert values == [f"{'x' * 100}{i}" for i in range(200)]
