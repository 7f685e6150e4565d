"""Frozen statistics snapshots of the engine, read by metrics and ``STATS``."""

from __future__ import annotations

from dataclasses import dataclass, field

from bolt.log import LogStatistics


@dataclass(frozen=True)
class ShardStatistics:
    """One shard: keys, estimated bytes, last log offset applied to it."""

    index: int
    keys: int
    memory_bytes: int
    offset: int


@dataclass(frozen=True)
class SnapshotStatistics:
    """LMDB snapshots: how many, when, how long, what they cover."""

    snapshots_total: int
    last_at: float | None
    last_seconds: float
    covered_offset: int
    bytes_on_disk: int
    failures_total: int = 0
    """Snapshot rounds that failed (a disk error, LMDB refusing a commit)."""
    last_error: str | None = None
    """The error of the last round if it failed (None once a round succeeds)."""


@dataclass(frozen=True)
class EngineStatistics:
    """Everything the engine counts, at one instant."""

    node_id: str
    ready: bool
    keys: int
    memory_used_bytes: int
    memory_limit_bytes: int
    eviction_policy: str
    evicted_total: int
    expired_total: int
    events_total: int
    keys_written_total: int
    keys_deleted_total: int
    hlc: int
    seq: int
    last_offset: int
    fsync_mode: str
    log: LogStatistics | None
    snapshot: SnapshotStatistics | None
    shards: tuple[ShardStatistics, ...] = field(default_factory=tuple)
    databases: int = 0
    failed: str | None = None
