"""Background LMDB snapshots, shard by shard, and log retention after them.

A round starts every ``snapshot_interval_events`` events (or at least as many
events as there are keys, on a big keyspace) or every ``snapshot_interval_ms``
if anything changed.

Theory of operation
-------------------
A round serializes one shard at a time on the event loop (a shard is a
fraction of the keyspace, so the pause is short), noting the last log offset
applied (``covered``). It then flushes the log so every record up to
``covered`` is durable — a snapshot must never claim more than the log can
replay — and writes the shard in one LMDB transaction in a worker thread.
Shards that did not change since their last snapshot only get their covered
offset moved forward. The first round after a change of ``shard_count``
instead writes every shard of the new layout, and drops the old layout's
extra shards, in one transaction (recovery maps keys to shards by the
count, so the two layouts must never be mixed). After a round, log segments
are deleted that are wholly below the smallest covered offset **and**
below every retention hold (``retention_holds``: the cluster service holds
the log after the offset each peer acknowledged, except for peers gone past
the retention bound, and after a full sync's covered offset until it is
acknowledged; see :meth:`SnapshotWriter.retention_floor`).

A round that fails (a disk error, LMDB refusing a commit such as
``mdb_txn_commit: Input/output error``, the map at its maximum) is logged
and counted (``failures_total``, the ``bolt_snapshot_failures_total``
metric), the LMDB environment is reopened (LMDB refuses every transaction
after some commit errors), and the next round waits
``limits.snapshot_retry_delay_ms_initial``, doubling per consecutive
failure up to ``limits.snapshot_retry_delay_ms_max``. Nothing else changes:
the shards it did not write keep their old covered offsets, the log keeps
the segments they need, and the daemon serves on -- the log stays the
source of truth. No round runs while the engine's log is failed (its views
may hold refused writes, see :mod:`bolt.node._durability`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import lmdb
import trio

from bolt import limits
from bolt.errors import DiskError, StorageError
from bolt.node._stats import SnapshotStatistics
from bolt.state import Shard
from bolt.state.snapshot import LoadedSnapshot, ShardSnapshot, SnapshotStore, encode_entry

if TYPE_CHECKING:
    from bolt.node._engine import Engine

logger = logging.getLogger("bolt.snapshot")


class SnapshotWriter:
    """Decides when to snapshot, writes snapshots, trims the log."""

    def __init__(self, engine: Engine, store: SnapshotStore, loaded: LoadedSnapshot | None) -> None:
        self.engine = engine
        self.store = store
        self.covered: dict[int, int] = (
            {i: s.covered for i, s in loaded.shards.items()}
            if loaded is not None and loaded.shard_count == engine.keyspace.shard_count
            else {}
        )
        # After a shard count change the first round rewrites the whole
        # snapshot in the new layout in one transaction (never a mix of two).
        self._relayout = loaded is not None and loaded.shard_count != engine.keyspace.shard_count
        self._events_at_round = engine.events_total
        self._last_round = time.monotonic()
        self._lock = trio.Lock()
        self.snapshots_total = 0
        self.last_at: float | None = None
        self.last_seconds = 0.0
        self.failures_total = 0
        self.last_error: str | None = None
        self._retry_at = 0.0  # time.monotonic() before which no round starts
        self._retry_delay = limits.snapshot_retry_delay_ms_initial / 1000
        self.retention_holds: list[Callable[[], int | None]] = []
        """Each returns the highest offset it no longer needs (None: no hold)."""
        self._rewrite_pending = False

    async def run(self) -> None:
        """Snapshot every N events or T milliseconds (if anything changed)."""
        config = self.engine.config
        check_every = min(0.5, config.snapshot_interval_ms / 1000)
        while True:
            await trio.sleep(check_every)
            elapsed_ms = (time.monotonic() - self._last_round) * 1000
            # A round rewrites every changed shard, so on a big keyspace wait
            # for at least as many events as there are keys: the snapshot's
            # cost stays about one entry serialized per event written.
            threshold = max(config.snapshot_interval_events, self.engine.keyspace.key_count())
            if self.engine._failed is not None or time.monotonic() < self._retry_at:
                continue
            if self.events_since >= threshold or (
                self.events_since and elapsed_ms >= config.snapshot_interval_ms
            ):
                await self.try_snapshot()

    async def try_snapshot(self) -> bool:
        """One round; a failure is logged, counted and retried later with back-off.

        Returns:
            True if the round succeeded.
        """
        try:
            await self.snapshot()
        except (lmdb.Error, OSError, StorageError) as error:
            self.failures_total += 1
            self.last_error = f"{type(error).__name__}: {error}"
            self._retry_at = time.monotonic() + self._retry_delay
            logger.error(
                "snapshot failed (%s); the log keeps every record it needs; "
                "next try in %.1fs at the earliest",
                self.last_error,
                self._retry_delay,
            )
            longest = limits.snapshot_retry_delay_ms_max / 1000
            self._retry_delay = min(self._retry_delay * 2, longest)
            try:
                await trio.to_thread.run_sync(self.store.reopen)
            except (lmdb.Error, OSError) as reopen_error:
                logger.error("snapshot store could not be reopened: %s", reopen_error)
            return False
        self.last_error = None
        self._retry_delay = limits.snapshot_retry_delay_ms_initial / 1000
        return True

    @property
    def events_since(self) -> int:
        """Events committed since the last round began."""
        return self.engine.events_total - self._events_at_round

    def snapshot_floor(self) -> int:
        """The offset every shard's snapshot covers (-1 if a shard has none)."""
        shard_count = self.engine.keyspace.shard_count
        if len(self.covered) < shard_count:
            return -1
        return min(self.covered.values())

    def retention_floor(self) -> int:
        """The highest offset no longer needed: log segments wholly at or below it
        may be deleted. Covered by the snapshot *and* released by every hold."""
        floor = self.snapshot_floor()
        for hold in self.retention_holds:
            needed = hold()
            if needed is not None:
                floor = min(floor, needed)
        return floor

    def rewrite_all(self) -> None:
        """Make the next round write every shard, changed or not (after a full
        sync merged state that is in no log record here). The round that
        begins next does it: one already running may have taken some shards
        before the merge."""
        self._rewrite_pending = True

    async def snapshot(self) -> None:
        """Write every shard that changed; then drop log segments no longer needed."""
        async with self._lock:
            if self._rewrite_pending:
                self._rewrite_pending = False
                if not self._relayout:
                    self.covered = {}  # every shard is written: see rewrite_all
            started = time.perf_counter()
            self._events_at_round = self.engine.events_total
            self._last_round = time.monotonic()
            engine = self.engine
            log = engine._log
            assert log is not None
            if self._relayout:
                await self._replace_all()
            else:
                for shard in engine.keyspace.shards:
                    if engine._failed is not None:
                        raise DiskError(f"the log failed during the round: {engine._failed}")
                    before = self.covered.get(shard.index)
                    if before is not None and engine._last_offset <= before:
                        continue
                    changed = before is None or shard.offset > before
                    snap = await self._take(shard, changed)
                    await trio.to_thread.run_sync(
                        self.store.write_shard,
                        engine.origin,
                        engine.keyspace.shard_count,
                        snap,
                        changed,
                    )
                    self.covered[shard.index] = snap.covered
            floor = self.retention_floor()
            if floor >= 0:
                dropped = await trio.to_thread.run_sync(log.drop_before, floor + 1)
                if dropped:
                    logger.info("dropped %d log segments covered by the snapshot", dropped)
            self.snapshots_total += 1
            self.last_at = time.time()
            self.last_seconds = time.perf_counter() - started

    async def _take(self, shard: Shard, changed: bool) -> ShardSnapshot:
        """Serialize ``shard`` (its entries only if ``changed``) once the log holds it all."""
        engine = self.engine
        log = engine._log
        assert log is not None
        snap = ShardSnapshot(
            shard.index,
            engine._last_offset,
            engine.keyspace.dots.to_wire(),
            engine.clock.last,
            _users(engine) if shard.index == 0 else [],
            collected_hlc=engine.keyspace.collected_hlc,
        )
        if changed:
            snap.entries = [(n, encode_entry(e)) for n, e in shard.entries.items()]
        if shard.index == 0:
            snap.tasks = engine.keyspace.tasks.to_wire()  # tasks are kept with shard 0
        if snap.covered >= log.durable_offset:
            await log.flush()  # everything the shard holds is durable first
        return snap

    async def _replace_all(self) -> None:
        """The first round after a shard count change: every shard, one transaction."""
        engine = self.engine
        snaps = [await self._take(shard, True) for shard in engine.keyspace.shards]
        await trio.to_thread.run_sync(
            self.store.replace_all, engine.origin, engine.keyspace.shard_count, snaps
        )
        self.covered = {snap.index: snap.covered for snap in snaps}
        self._relayout = False

    def statistics(self) -> SnapshotStatistics:
        """Counters for metrics and the dashboard."""
        return SnapshotStatistics(
            snapshots_total=self.snapshots_total,
            last_at=self.last_at,
            last_seconds=self.last_seconds,
            covered_offset=self.snapshot_floor(),
            bytes_on_disk=self.store.size_bytes(),
            failures_total=self.failures_total,
            last_error=self.last_error,
        )


def _users(engine: Engine) -> list[list[object]]:
    return [
        [u.name, u.password_hash, u.role, u.hlc, u.origin, u.deleted]
        for u in engine.keyspace.users.values()
    ]
