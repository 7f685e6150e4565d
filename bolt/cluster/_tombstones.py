"""The tombstone collector of a cluster node: the shell around ``bolt.state._gc``.

Theory of operation
-------------------
Every ``limits.tombstone_gc_interval_ms`` the collector asks the cluster
service for the stable HLC (:mod:`bolt.cluster._stability`) and, if it
moved or anything was applied since the last round, walks every shard with
the pure :func:`bolt.state._gc.collect_names`, ``limits.tombstone_gc_slice_keys``
names at a time, yielding to other tasks between slices so clients are not
held up. The counts (collected, left, bytes freed) are kept for ``CLUSTER``
and the metrics; the number left is what the last visit of each shard found.

A standalone node runs no collector: it keeps no tombstones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import trio
import trio.lowlevel

from bolt import limits
from bolt.node import Engine
from bolt.state._gc import collect_names


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
        self._live: dict[int, int] = {}
        self._last: tuple[int, int] | None = None
        self._last_stable = 0

    async def run(self) -> None:
        """Collect every interval until cancelled."""
        while True:
            await trio.sleep(limits.tombstone_gc_interval_ms / 1000)
            await self.collect_round()

    async def collect_round(self) -> bool:
        """One pass over every shard, in slices; False if skipped (nothing new)."""
        engine = self.engine
        stable = self.stable_hlc()
        marker = (stable, engine.events_total)
        if marker == self._last:
            return False
        keyspace = engine.keyspace
        step = limits.tombstone_gc_slice_keys
        for shard in keyspace.shards:
            names = list(shard.entries)
            live = 0
            for start in range(0, len(names), step):
                if engine.keyspace is not keyspace:
                    return False  # the views were rebuilt (disk recovery): start again later
                result = collect_names(keyspace, shard, names[start : start + step], stable)
                self.collected_total += result.collected
                self.bytes_collected_total += result.bytes_freed
                live += result.remaining
                await trio.lowlevel.checkpoint()
            self._live[shard.index] = live
        self._last = marker
        self._last_stable = stable
        self.rounds_total += 1
        return True

    def statistics(self) -> TombstoneStatistics:
        """The counts now (``live`` as of each shard's last visit)."""
        return TombstoneStatistics(
            live=sum(self._live.values()),
            collected_total=self.collected_total,
            bytes_collected_total=self.bytes_collected_total,
            rounds_total=self.rounds_total,
            stable_hlc=self._last_stable,
        )
