"""``replay info``: what a data directory holds.

Theory of operation
-------------------
Two read-only passes. The first is :meth:`bolt.log.LogReader.segments`: every
segment's first offset, record count, size and how its scan ended (clean,
torn tail, corrupt). The second decodes every record once, in a stream, and
folds each event into per-segment HLC ranges, counts by event type and by
origin, and the node's **version vector** (the dots of the snapshot merged
with the dot of every event in the retained log). Memory is independent of
the log's length.

The snapshot is described from its shard metadata: which offsets each shard
covers (recovery replays from the smallest), the HLC it was taken at, how
many keys it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bolt.crdt import DotSet, hlc_ms
from bolt.events import EVENT_NAMES

from ._points import format_ms
from ._source import Damage, DataDir, Progress, RecordStream


@dataclass
class SegmentSummary:
    """One segment file: offsets, size, scan status and the HLC range of its events."""

    path: Path
    first_offset: int
    records: int
    bytes: int
    status: str
    reason: str
    position: int
    events: int = 0
    hlc_min: int = 0
    hlc_max: int = 0

    @property
    def next_offset(self) -> int:
        """The offset after this segment's last good record."""
        return self.first_offset + self.records

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "file": str(self.path),
            "first_offset": self.first_offset,
            "last_offset": self.next_offset - 1,
            "records": self.records,
            "events": self.events,
            "bytes": self.bytes,
            "status": self.status,
            "reason": self.reason,
            "stopped_at_byte": self.position if self.status != "clean" else None,
            "hlc_min": self.hlc_min or None,
            "hlc_max": self.hlc_max or None,
            "time_min": format_ms(hlc_ms(self.hlc_min)) if self.hlc_min else None,
            "time_max": format_ms(hlc_ms(self.hlc_max)) if self.hlc_max else None,
        }


@dataclass(frozen=True)
class SnapshotSummary:
    """The LMDB snapshot: who wrote it, what it covers, how big it is."""

    node_id: str | None
    shard_count: int
    shards_written: int
    covered_min: int
    covered_max: int
    hlc: int
    keys: int
    users: int
    bytes: int

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "node_id": self.node_id,
            "shard_count": self.shard_count,
            "shards_written": self.shards_written,
            "covered_offset_min": self.covered_min,
            "covered_offset_max": self.covered_max,
            "hlc": self.hlc,
            "time": format_ms(hlc_ms(self.hlc)) if self.hlc else None,
            "keys": self.keys,
            "users": self.users,
            "bytes": self.bytes,
        }


@dataclass
class DataDirInfo:
    """Everything ``replay info`` reports about a data directory."""

    path: Path
    node_id: str | None
    segments: list[SegmentSummary]
    snapshot: SnapshotSummary | None
    first_offset: int
    next_offset: int
    records: int
    events: int
    event_counts: dict[str, int] = field(default_factory=dict)
    origin_counts: dict[str, int] = field(default_factory=dict)
    version_vector: dict[str, int] = field(default_factory=dict)
    dots_out_of_order: int = 0
    hlc_min: int = 0
    hlc_max: int = 0
    damage: Damage | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict (``info --json``)."""
        return {
            "data_dir": str(self.path),
            "node_id": self.node_id,
            "first_offset": self.first_offset,
            "last_offset": self.next_offset - 1,
            "records": self.records,
            "events": self.events,
            "hlc_min": self.hlc_min or None,
            "hlc_max": self.hlc_max or None,
            "time_min": format_ms(hlc_ms(self.hlc_min)) if self.hlc_min else None,
            "time_max": format_ms(hlc_ms(self.hlc_max)) if self.hlc_max else None,
            "event_counts": dict(self.event_counts),
            "origin_counts": dict(self.origin_counts),
            "version_vector": dict(self.version_vector),
            "dots_out_of_order": self.dots_out_of_order,
            "segments": [segment.to_json() for segment in self.segments],
            "snapshot": self.snapshot.to_json() if self.snapshot else None,
            "damage": None
            if self.damage is None
            else {
                "file": self.damage.path,
                "byte": self.damage.position,
                "offset": self.damage.offset,
                "message": self.damage.message,
            },
        }


def describe_snapshot(data_dir: DataDir) -> tuple[SnapshotSummary | None, DotSet | None]:
    """Summarize the snapshot; also return its dot set (None without a snapshot)."""
    snapshot = data_dir.load_snapshot()
    if snapshot is None:
        return None, None
    shards = list(snapshot.shards.values())
    newest = max(shards, key=lambda shard: shard.covered)
    dots = DotSet.from_wire(newest.dots)
    try:
        size = (data_dir.snapshot_dir / "data.mdb").stat().st_size
    except OSError:
        size = 0
    summary = SnapshotSummary(
        node_id=snapshot.node_id,
        shard_count=snapshot.shard_count,
        shards_written=len(shards),
        covered_min=min(shard.covered for shard in shards),
        covered_max=newest.covered,
        hlc=max(shard.hlc for shard in shards),
        keys=sum(len(shard.entries) for shard in shards),
        users=sum(len(shard.users) for shard in shards),
        bytes=size,
    )
    return summary, dots


def describe(data_dir: DataDir, progress: Progress | None = None) -> DataDirInfo:
    """Describe ``data_dir`` (see the module docstring).

    Raises:
        bolt.errors.FormatVersionError: data from a newer Bolt.
        bolt.errors.StorageError: the log or snapshot cannot be read.
    """
    reader = data_dir.reader()
    segments: list[SegmentSummary] = []
    if reader.directory.is_dir():
        for found in reader.segments():
            segments.append(
                SegmentSummary(
                    path=found.path,
                    first_offset=found.first_offset,
                    records=found.records,
                    bytes=found.bytes,
                    status=found.status.status.value,
                    reason=found.status.reason,
                    position=found.status.position,
                )
            )
    snapshot, dots = describe_snapshot(data_dir)
    dots = dots or DotSet()
    counts = dict.fromkeys(sorted(EVENT_NAMES), 0)
    origins: dict[str, int] = {}
    stream = RecordStream(data_dir, 0, None, progress)
    records = events = 0
    hlc_min = hlc_max = 0
    index = 0
    current = segments[0] if segments else None
    for offset, decoded in stream:
        while current is not None and offset >= current.next_offset and index + 1 < len(segments):
            index += 1
            current = segments[index]
        records += 1
        for event in decoded:
            events += 1
            name = type(event).__name__
            counts[name] += 1
            origins[event.origin] = origins.get(event.origin, 0) + 1
            dots.add((event.origin, event.seq))
            hlc = event.hlc
            if current is not None:
                current.events += 1
                if not current.hlc_min or hlc < current.hlc_min:
                    current.hlc_min = hlc
                current.hlc_max = max(current.hlc_max, hlc)
            if not hlc_min or hlc < hlc_min:
                hlc_min = hlc
            hlc_max = max(hlc_max, hlc)
    return DataDirInfo(
        path=data_dir.path,
        node_id=data_dir.node_id,
        segments=segments,
        snapshot=snapshot,
        first_offset=stream.from_offset,
        next_offset=stream.next_offset,
        records=records,
        events=events,
        event_counts=counts,
        origin_counts=dict(sorted(origins.items())),
        version_vector=dict(sorted(dots.vector.to_dict().items())),
        dots_out_of_order=len(dots.exceptions()),
        hlc_min=hlc_min,
        hlc_max=hlc_max,
        damage=stream.damage,
    )
