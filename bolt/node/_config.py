"""The engine's own configuration (the daemon builds it from its settings: ``bolt.server``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bolt import limits
from bolt.errors import ConfigError


@dataclass(frozen=True)
class EngineConfig:
    """How an :class:`~bolt.node.Engine` stores, syncs, shards and limits its data.

    ``now_ms`` injects the wall clock (tests use a manual one).
    ``keep_tombstones`` keeps deleted keys' stamps so late replicated writes
    cannot resurrect them; a standalone node needs none.
    """

    data_dir: Path | None = None
    node_id: str | None = None
    persist: bool = True
    fsync: str = limits.wal_fsync_default
    flush_interval_ms: int = limits.wal_flush_interval_ms_default
    batch_size: int = limits.wal_batch_size_default
    segment_bytes_max: int = limits.segment_bytes_max
    shard_count: int = limits.shard_count_default
    max_memory_bytes: int = 0
    eviction_policy: str = limits.eviction_policy_default
    memory_warning_threshold: int = limits.memory_warning_threshold_percent_default
    snapshot_interval_events: int = limits.snapshot_interval_events_default
    snapshot_interval_ms: int = limits.snapshot_interval_ms_default
    max_clock_offset_ms: int = limits.max_clock_offset_ms_default
    keep_tombstones: bool = False
    now_ms: Callable[[], int] | None = None

    def validate(self) -> None:
        """Raise :class:`~bolt.errors.ConfigError` naming the first bad setting."""
        problems = []
        if not 1 <= self.shard_count <= limits.shard_count_max:
            problems.append(f"shard_count must be 1..{limits.shard_count_max}")
        if self.eviction_policy not in limits.eviction_policies:
            problems.append(f"eviction_policy must be one of {', '.join(limits.eviction_policies)}")
        if self.max_memory_bytes < 0:
            problems.append("max_memory_bytes must be 0 (unlimited) or positive")
        if self.fsync not in ("batch", "always", "off"):
            problems.append("fsync must be batch, always or off")
        if not 1 <= self.memory_warning_threshold <= 100:
            problems.append("memory_warning_threshold must be 1..100")
        if self.flush_interval_ms <= 0 or self.batch_size <= 0:
            problems.append("flush_interval_ms and batch_size must be positive")
        if self.persist and self.data_dir is None:
            problems.append("data_dir is required when persist is on")
        if problems:
            raise ConfigError("invalid engine configuration: " + "; ".join(problems))
