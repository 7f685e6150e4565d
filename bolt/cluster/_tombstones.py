"""The tombstone collector of a cluster node: the shell around ``bolt.state._gc``.

Theory of operation
-------------------
Every ``limits.tombstone_gc_interval_ms`` the collector asks the cluster
service for the stable HLC (:mod:`bolt.cluster._stability`) and runs the
pure :func:`bolt.state.collect_tombstones_in` over some keys,
``limits.tombstone_gc_slice_keys`` at a time, yielding to other tasks
between slices so clients are not held up. Which keys:

* a **full round** looks at every key: the first round after start (the
  views came from a snapshot and the log), after the views were rebuilt,
  and every ``limits.tombstone_gc_full_scan_interval_ms``;
* otherwise only the keys ``apply`` noted as having got a tombstone since
  the last round (``Keyspace.tombstoned``), plus the keys still **waiting**
  (holding tombstones that were not stable yet) once the stable HLC has
  passed the oldest stamp among them. A quiet node does nothing at all.

The counts (collected, left, bytes freed) are kept for ``CLUSTER`` and the
metrics. A standalone node runs no collector: it keeps no tombstones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import trio
import trio.lowlevel

from bolt import limits
from bolt.node import Engine
from bolt.state import (
    NO_TOMBSTONE_LEFT,
    Collected,
    Keyspace,
    collect_tombstones_in,
    collect_tombstones_of,
    tombstone_count,
)


@dataclass(frozen=True)
class TombstoneStatistics:
    """A snapshot of the collector (for ``CLUSTER`` and the metrics)."""

    live: int
    collected_total: int
    bytes_collected_total: int
    rounds_total: int
    stable_hlc: int


class TombstoneCollector:
    """Collects stable tombstones in the background (see the module docstring).

    Args:
        engine: the running engine whose keyspace is collected.
        stable_hlc: returns the cluster's stable HLC now.
    """

    def __init__(self, engine: Engine, stable_hlc: Callable[[], int]) -> None:
        self.engine = engine
        self.stable_hlc = stable_hlc
        self.collected_total = 0
        self.bytes_collected_total = 0
        self.rounds_total = 0
        self._waiting: dict[str, int] = {}  # name -> tombstones it held at its last visit
        self._live = 0
        self._oldest_waiting = NO_TOMBSTONE_LEFT
        self._keyspace: Keyspace | None = None
        self._full_scan_at = 0.0
        self._last_stable = 0

    async def run(self) -> None:
        """Collect every interval until cancelled."""
        while True:
            await trio.sleep(limits.tombstone_gc_interval_ms / 1000)
            await self.collect_round()

    async def collect_round(self) -> bool:
        """One round (see the module docstring); False if there was nothing to look at."""
        keyspace = self.engine.keyspace
        stable = self.stable_hlc()
        self._last_stable = stable
        now = trio.current_time()
        fresh, keyspace.tombstoned = keyspace.tombstoned, set()
        if keyspace is not self._keyspace or now >= self._full_scan_at:
            self._keyspace = keyspace
            self._full_scan_at = now + limits.tombstone_gc_full_scan_interval_ms / 1000
            self._forget_waiting()
            result = await self._full_round(keyspace, stable)
        else:
            names: Iterable[str] = fresh
            if stable >= self._oldest_waiting:
                names = fresh | self._waiting.keys()
                self._forget_waiting()
            if not fresh and names is fresh:
                return False
            result = await self._candidate_round(keyspace, list(names), stable)
        if result is None:
            return False  # the views were rebuilt meanwhile: a full round next time
        self._note(keyspace, result)
        self.rounds_total += 1
        return True

    def _forget_waiting(self) -> None:
        self._waiting.clear()
        self._live = 0
        self._oldest_waiting = NO_TOMBSTONE_LEFT

    async def _full_round(self, keyspace: Keyspace, stable: int) -> Collected | None:
        total = Collected()
        step = limits.tombstone_gc_slice_keys
        for shard in keyspace.shards:
            names = list(shard.entries)
            for start in range(0, len(names), step):
                if self.engine.keyspace is not keyspace:
                    return None
                part = names[start : start + step]
                total.add(collect_tombstones_in(keyspace, shard, part, stable))
                await trio.lowlevel.checkpoint()
        return total

    async def _candidate_round(
        self, keyspace: Keyspace, names: list[str], stable: int
    ) -> Collected | None:
        total = Collected()
        step = limits.tombstone_gc_slice_keys
        for start in range(0, len(names), step):
            if self.engine.keyspace is not keyspace:
                return None
            part = names[start : start + step]
            for name in part:  # looked at again now: their old counts no longer hold
                self._live -= self._waiting.pop(name, 0)
            total.add(collect_tombstones_of(keyspace, part, stable))
            await trio.lowlevel.checkpoint()
        return total

    def _note(self, keyspace: Keyspace, result: Collected) -> None:
        self.collected_total += result.collected
        self.bytes_collected_total += result.bytes_freed
        for name in result.left:
            entry = keyspace.get(name)
            count = tombstone_count(entry) if entry is not None else 0
            if count:
                self._live += count - self._waiting.get(name, 0)
                self._waiting[name] = count
        self._oldest_waiting = min(self._oldest_waiting, result.oldest_left)

    def statistics(self) -> TombstoneStatistics:
        """The counts now (``live``: the tombstones seen at each key's last visit)."""
        return TombstoneStatistics(
            live=self._live,
            collected_total=self.collected_total,
            bytes_collected_total=self.bytes_collected_total,
            rounds_total=self.rounds_total,
            stable_hlc=self._last_stable,
        )
