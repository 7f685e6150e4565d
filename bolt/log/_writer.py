"""The segment files of an open log, written from worker threads.

Theory of operation
-------------------
:class:`SegmentWriter` owns the file descriptor of the active (last) segment
and the list of :class:`Segment` entries. Its ``write`` runs in one worker
thread at a time (the log's flusher serialises rounds); ``fsync`` may run in
another thread at the same moment (the ``batch`` syncer), so swapping and
closing the descriptor happen under ``_fd_lock`` and an fsync never touches a
descriptor that is being closed.

A segment is rolled when it has grown to ``segment_bytes_max``: records are
never split, so the record that crosses the limit still goes into the old
segment, and the next record starts a new file named by its offset. In the
syncing modes the old file is fsynced and the directory is fsynced after the
new file is created, so a crash never leaves an unsynced hole before a synced
segment.

Each segment keeps a sparse index of ``(offset, byte position)`` pairs, one
per flush round that starts at least ``limits.log_index_interval_bytes``
after the previous entry, so reading from an offset seeks close to it instead
of scanning the whole file. Entries are appended position first, then offset,
so a reader in another thread that finds an offset always finds its position.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bolt import limits

from ._segment import (
    SEGMENT_HEADER_BYTES,
    encode_segment_header,
    record_count_until,
    segment_file_name,
)

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)


@dataclass(slots=True)
class Segment:
    """One segment file of an open log (sizes are kept, not re-read)."""

    first_offset: int
    path: Path
    size: int
    index_offsets: list[int] = field(default_factory=list)
    index_positions: list[int] = field(default_factory=list)

    def locate(self, offset: int) -> tuple[int, int]:
        """The nearest known record boundary at or before ``offset``.

        Returns:
            ``(byte position, offset of the record there)``.
        """
        index = bisect.bisect_right(self.index_offsets, offset) - 1
        if index < 0:
            return SEGMENT_HEADER_BYTES, self.first_offset
        return self.index_positions[index], self.index_offsets[index]

    def note(self, offset: int, position: int) -> None:
        """Remember that the record ``offset`` starts at ``position`` (if far enough on)."""
        last = self.index_positions[-1] if self.index_positions else SEGMENT_HEADER_BYTES
        if position - last >= limits.log_index_interval_bytes:
            self.index_positions.append(position)
            self.index_offsets.append(offset)


def write_fully(fd: int, data: bytes | bytearray | memoryview) -> None:
    """``os.write`` until every byte is written (a write may be partial)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def sync_file(fd: int) -> None:
    """Make a file's data durable (``fdatasync`` where the OS has it)."""
    if hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:  # pragma: no cover - macOS and Windows
        os.fsync(fd)


def sync_directory(directory: Path) -> None:
    """fsync a directory so that files created or renamed in it persist."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_segment(directory: Path, first_offset: int) -> tuple[int, Path]:
    """Create a new segment file holding only the header.

    Returns:
        ``(fd, path)``: the file open for appending, and its path.
    """
    path = directory / segment_file_name(first_offset)
    fd = os.open(path, _CREATE_FLAGS, 0o644)
    try:
        write_fully(fd, encode_segment_header())
    except BaseException:
        os.close(fd)
        raise
    return fd, path


class SegmentWriter:
    """Appends framed records to the active segment, rolling as it fills.

    Args:
        directory: the log directory.
        segments: the open log's segments, oldest first (the last is active).
        fd: the active segment, open for appending.
        sync_on_roll: fsync the old segment and the directory when rolling.
        segment_bytes_max: the size at which the active segment is rolled.
    """

    def __init__(
        self,
        directory: Path,
        segments: list[Segment],
        fd: int,
        *,
        sync_on_roll: bool,
        segment_bytes_max: int,
    ) -> None:
        self._directory = directory
        self._segments = segments
        self._fd = fd
        self._sync_on_roll = sync_on_roll
        self._segment_bytes_max = segment_bytes_max
        self._fd_lock = threading.Lock()
        self._segments_lock = threading.Lock()

    def snapshot(self) -> list[Segment]:
        """A copy of the segment list (safe to use from any thread)."""
        with self._segments_lock:
            return list(self._segments)

    @property
    def first_offset(self) -> int:
        """The first offset of the oldest segment."""
        return self._segments[0].first_offset

    def fits(self, size: int) -> bool:
        """True if ``size`` more bytes go into the active segment without rolling it."""
        return self._segments[-1].size + size < self._segment_bytes_max

    def write(self, data: bytes | bytearray, offset: int) -> list[float]:
        """Append framed records, rolling segments as they fill (worker thread).

        Args:
            data: whole records, framed.
            offset: the offset of the first record in ``data``.

        Returns:
            The durations in seconds of the fsyncs made while rolling.

        Raises:
            OSError: the write failed (the log must be marked failed).
        """
        view = memoryview(data)
        total = len(view)
        position = 0
        durations: list[float] = []
        while position < total:
            segment = self._segments[-1]
            if segment.size >= self._segment_bytes_max:
                durations.extend(self._roll(offset))
                segment = self._segments[-1]
            budget = self._segment_bytes_max - segment.size
            if total - position < budget:
                stop, count = total, 0
            else:
                stop, count = record_count_until(view, position, budget)
            segment.note(offset, segment.size)
            write_fully(self._fd, view[position:stop])
            segment.size += stop - position
            position = stop
            offset += count
        return durations

    def _roll(self, first_offset: int) -> list[float]:
        fd, path = create_segment(self._directory, first_offset)
        durations: list[float] = []
        with self._fd_lock:
            old = self._fd
            try:
                if self._sync_on_roll:
                    started = time.perf_counter()
                    sync_file(old)
                    durations.append(time.perf_counter() - started)
                    sync_directory(self._directory)
            except BaseException:
                os.close(fd)
                os.unlink(path)
                raise
            self._fd = fd
            os.close(old)
        with self._segments_lock:
            self._segments.append(Segment(first_offset, path, SEGMENT_HEADER_BYTES))
        return durations

    def mark(self) -> tuple[int, int]:
        """Where the data written so far ends: ``(first offset of the active segment, size)``.

        :meth:`rewind` takes it back there.
        """
        segment = self._segments[-1]
        return segment.first_offset, segment.size

    def rewind(self, first_offset: int, size: int) -> None:
        """Cut everything written after a :meth:`mark` off the files, and fsync (worker thread).

        Segments created after the mark are deleted, the marked segment is
        truncated to ``size`` and becomes the active one again. A probe of
        ``limits.log_retry_probe_bytes`` is written (and cut off again) first,
        so a disk that is still full fails the call. Nothing is
        changed until the marked file is open, truncated and fsynced, so a
        failure (the disk still full, no descriptor left) leaves the writer
        as it was and the call can simply be tried again.

        Raises:
            OSError: opening, truncating or syncing failed.
        """
        segments = self.snapshot()
        keep = sum(1 for segment in segments if segment.first_offset <= first_offset)
        target, removed = segments[keep - 1], segments[keep:]
        fd = os.open(target.path, APPEND_FLAGS)
        try:
            os.ftruncate(fd, size)
            # Probe: the condition has cleared only if a write of a round's
            # size goes through (a full disk still takes a truncate).
            write_fully(fd, bytes(limits.log_retry_probe_bytes))
            os.ftruncate(fd, size)
            sync_file(fd)
        except BaseException:
            os.close(fd)
            raise
        with self._fd_lock:
            old, self._fd = self._fd, fd
        if old >= 0:
            os.close(old)
        with self._segments_lock:
            del self._segments[keep:]
        target.size = size
        while target.index_positions and target.index_positions[-1] >= size:
            target.index_offsets.pop()
            target.index_positions.pop()
        for segment in removed:
            try:
                segment.path.unlink()
            except FileNotFoundError:
                pass
        if removed:
            sync_directory(self._directory)

    def fsync(self) -> float:
        """fsync the active segment (any worker thread).

        Returns:
            How long the fsync took, in seconds (0.0 once closed).
        """
        with self._fd_lock:
            if self._fd < 0:
                return 0.0
            started = time.perf_counter()
            sync_file(self._fd)
            return time.perf_counter() - started

    def close(self) -> None:
        """Close the active segment's descriptor (idempotent)."""
        with self._fd_lock:
            if self._fd >= 0:
                fd, self._fd = self._fd, -1
                os.close(fd)

    def drop_before(self, offset: int) -> int:
        """Delete whole segment files all of whose records are below ``offset``.

        The active segment is never deleted.

        Returns:
            The number of files removed.
        """
        with self._segments_lock:
            count = 0
            while (
                count < len(self._segments) - 1 and self._segments[count + 1].first_offset <= offset
            ):
                count += 1
            removed = self._segments[:count]
            del self._segments[:count]
        for segment in removed:
            try:
                segment.path.unlink()
            except FileNotFoundError:
                pass
        return len(removed)

    def bytes_on_disk(self) -> int:
        """The total size of the segment files."""
        return sum(segment.size for segment in self.snapshot())
