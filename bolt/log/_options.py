"""The value types of the log's public surface: options, recovery report, statistics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bolt import limits
from bolt.errors import ConfigError

FsyncMode = Literal["batch", "always", "off"]
FSYNC_MODES: tuple[FsyncMode, ...] = ("batch", "always", "off")


@dataclass(frozen=True, slots=True)
class LogOptions:
    """How a :class:`~bolt.log.Log` stores and syncs its records.

    Attributes:
        directory: where the segment files live (created if missing).
        fsync: ``"batch"`` (acknowledge once written to the OS, fsync every
            ``flush_interval_ms`` or ``batch_size`` records), ``"always"``
            (acknowledge after fsync, group commit) or ``"off"`` (never fsync
            except at close).
        flush_interval_ms: longest time written records wait for an fsync in
            ``batch`` mode.
        batch_size: most written records between fsyncs in ``batch`` mode.
        segment_bytes_max: a segment is rolled once it grows to this size.
    """

    directory: Path
    fsync: FsyncMode = limits.wal_fsync_default  # type: ignore[assignment]
    flush_interval_ms: int = limits.wal_flush_interval_ms_default
    batch_size: int = limits.wal_batch_size_default
    segment_bytes_max: int = limits.segment_bytes_max

    def validate(self) -> None:
        """Raise :class:`~bolt.errors.ConfigError` for an invalid option."""
        if self.fsync not in FSYNC_MODES:
            modes = ", ".join(FSYNC_MODES)
            raise ConfigError(f"BOLT_WAL_FSYNC must be one of {modes}, not {self.fsync!r}")
        if self.flush_interval_ms <= 0:
            raise ConfigError(
                f"BOLT_WAL_FLUSH_INTERVAL_MS must be positive, not {self.flush_interval_ms}"
            )
        if self.batch_size <= 0:
            raise ConfigError(f"BOLT_WAL_BATCH_SIZE must be positive, not {self.batch_size}")
        if self.segment_bytes_max < limits.segment_bytes_min:
            raise ConfigError(
                f"segment size limit {self.segment_bytes_max} is below the minimum "
                f"of {limits.segment_bytes_min} bytes"
            )


@dataclass(frozen=True, slots=True)
class TornTail:
    """A torn record cut off the end of the last segment at open.

    ``position`` is the byte position the file was truncated to;
    ``bytes_dropped`` how many bytes were cut.
    """

    path: Path
    position: int
    bytes_dropped: int


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What :meth:`~bolt.log.Log.open` found.

    ``segments`` is the number of segment files, ``records`` the number of
    records retained (``next_offset - first_offset``), ``torn_tail`` the tail
    that was truncated, if any.
    """

    segments: int
    records: int
    torn_tail: TornTail | None


@dataclass(frozen=True, slots=True)
class LogStatistics:
    """A snapshot of the log's counters (see :meth:`~bolt.log.Log.statistics`).

    ``bytes_appended_total`` counts framed bytes (payload plus the 8-byte record
    header). ``fsyncs_total`` counts fsyncs of segment files, including the one
    made when a segment is rolled. ``fsync_latency_ms_p99`` is over the last
    1024 fsyncs (0.0 if none yet). ``rounds_inline_total`` counts writes made
    on the event loop (batch/off mode, small rounds), ``rounds_threaded_total``
    those made in a worker thread (fsyncs, rolls, big rounds, ``always``).
    """

    mode: FsyncMode
    first_offset: int
    next_offset: int
    written_offset: int
    durable_offset: int
    segments: int
    bytes_on_disk: int
    records_appended_total: int
    bytes_appended_total: int
    fsyncs_total: int
    fsync_seconds_total: float
    fsync_latency_ms_p99: float
    write_errors_total: int
    rounds_inline_total: int
    rounds_threaded_total: int
    failure: str | None = None
    """Why the log refuses writes right now (None while it takes them)."""
    recoveries_total: int = 0
    """Times the log cleared a write or fsync error by itself and took writes again."""
    retries_failed_total: int = 0
    """Attempts to clear an error that failed (the condition had not cleared yet)."""
