"""Surviving a log error: hide the views, rebuild them from what is durable, resume.

Theory of operation
-------------------
A write is applied to the views when it is appended, before the log has
written it: ``submit`` is synchronous and the next command of a pipeline must
see the write before it. If the log then fails, the records it refuses (the
failed round and everything appended after it, see :mod:`bolt.log._log`) are
in the views although no client will ever be told they were kept. Undoing
them one by one is not possible in general (a CRDT merge has no inverse), so
the views are rebuilt from what the log acknowledged:

1. **At once**, from :attr:`bolt.log.Log.on_failure` on the trio thread --
   before any waiter is woken with its :class:`~bolt.errors.DiskError` -- the
   engine is marked failed and not ready, the fast paths are switched off and
   every command, reads included, is answered ``DISK_ERROR``. From this
   instant nothing of a refused write can be read.
2. **In a worker thread**, a fresh keyspace is built exactly as recovery
   builds one at start: the snapshot plus the log up to the last acknowledged
   record (:attr:`bolt.log.Log.acked_offset`, which does not move while the
   log is failed). The snapshot writer makes no round while the engine is
   failed, so the snapshot never holds a refused write either. A rebuild that
   fails (no descriptor left to open a segment) is tried again with back-off.
3. **Swapped in** on the trio thread: the last offset moves back to the last
   acknowledged record, the refused records' seqs are given back (they never
   reached the log, a peer or a client, so no gap is left in this node's
   version vector), and every change-feed subscriber is dropped with a resume
   offset no later than the first refused record. Reads go on from here.
4. **Writes resume** once the log has cleared the error by itself
   (:meth:`bolt.log.Log.wait_healthy`); then ``ready`` is True again.

The normal write path pays nothing for this; the general command path tests
one attribute. An error costs a recovery's time and, while the new keyspace
is built next to the old one, its memory.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import lmdb
import trio

from bolt import limits
from bolt.errors import DiskError, StorageError
from bolt.node._feed import drop_from
from bolt.node._recovery import RecoveryStatistics, replay
from bolt.state import Keyspace

if TYPE_CHECKING:
    from bolt.node._engine import Engine

logger = logging.getLogger("bolt.engine")


class DiskRecovery:
    """Watches the engine's log and carries out the steps of the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._fast_paths: dict[str, Any] | None = None
        self.rollbacks_total = 0
        """Times the views were rebuilt after a log error."""

    async def run(self) -> None:
        """Handle every log failure until cancelled (started by ``Engine.run``)."""
        log = self._engine._log
        assert log is not None
        log.on_failure = self.hide_views
        if log.failure is not None:
            self.hide_views()
        while True:
            await log.wait_failure()
            await self._recover()

    def hide_views(self) -> None:
        """Step 1: refuse every command until the views are rebuilt (trio thread)."""
        engine = self._engine
        log = engine._log
        assert log is not None
        if engine._failed is None:
            engine._failed = DiskError(f"the log failed: {log.failure}")
        engine.ready = False
        if not engine._views_stale:
            engine._views_stale = True
            self._fast_paths, engine._fast_paths = engine._fast_paths, {}

    async def _recover(self) -> None:
        engine = self._engine
        log = engine._log
        assert log is not None
        target = log.acked_offset
        delay = limits.log_retry_delay_ms_initial / 1000
        started = time.perf_counter()
        while True:
            try:
                keyspace, stats = await trio.to_thread.run_sync(self._rebuild, target)
                break
            except (OSError, StorageError, ValueError, lmdb.Error) as error:
                # lmdb.Error: the snapshot writer was reopening the environment
                # after its own failed round (the same disk error) as we read it.
                logger.warning(
                    "rebuilding the views after a log error failed (%s); next try in %.1fs",
                    error,
                    delay,
                )
                await trio.sleep(delay)
                delay = min(delay * 2, limits.log_retry_delay_ms_max / 1000)
        lost = engine._last_offset + 1 - target
        self._swap(keyspace, target)
        logger.warning(
            "log error: %d refused records rolled back; views rebuilt from the snapshot and "
            "%d records up to offset %d in %.2fs; reads go on, writes wait for the log",
            lost,
            stats.replayed_records,
            target - 1,
            time.perf_counter() - started,
        )
        await log.wait_healthy()
        engine._failed = None
        engine.ready = True
        logger.warning("the log took writes again: writes resume at offset %d", target)

    def _rebuild(self, target: int) -> tuple[Keyspace, RecoveryStatistics]:
        """Step 2 (worker thread): snapshot + log up to ``target``, into a new keyspace."""
        engine = self._engine
        old = engine.keyspace
        keyspace = Keyspace(
            old.shard_count,
            track_lru=old.track_lru,
            track_random=old.random_pool is not None,
            keep_tombstones=old.keep_tombstones,
        )
        snapshot = engine._store.load() if engine._store is not None else None
        assert engine._log is not None
        return keyspace, replay(keyspace, engine._log, snapshot, to_offset=target)

    def _swap(self, keyspace: Keyspace, target: int) -> None:
        """Step 3 (trio thread): the rebuilt views replace the stale ones."""
        engine = self._engine
        engine.keyspace = keyspace
        engine._last_offset = target - 1
        keyspace.applying_offset = target - 1
        engine._seq = keyspace.dots.highest(engine.origin)
        engine._reclaim_expired(engine._now_ms(), limit=None)
        drop_from(engine.feed, target)
        if self._fast_paths is not None:
            engine._fast_paths = self._fast_paths
            self._fast_paths = None
        engine._views_stale = False
        self.rollbacks_total += 1
