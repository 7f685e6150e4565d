"""Opening a log directory: find the segments, repair a torn tail, refuse corruption.

Theory of operation
-------------------
Only the **last** segment is scanned record by record: it is the only file a
crash can have left half-written, because a segment is fsynced before the next
one is created (in the syncing modes). Earlier segments are trusted; only their
headers are checked, so opening a large log costs one segment's scan.

In the last segment, a torn tail (a short or damaged record that no valid
record follows, see :mod:`bolt.log._record`) is what an interrupted append
leaves: the file is truncated to the end of the last whole record, fsynced, and
the cut is reported in :class:`~bolt.log.RecoveryReport` and logged at
WARNING. Damage that a valid record follows is corruption: opening raises
:class:`~bolt.errors.CorruptionError` naming the file and byte position and
pointing at ``boltctl replay verify``. A last segment shorter than its header
was being created when the process stopped; it gets a fresh header.
"""

from __future__ import annotations

import fcntl
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from bolt.errors import CorruptionError, StorageError

from ._options import RecoveryReport, TornTail
from ._reader import corruption_message, verify_hint
from ._record import ScanStatus
from ._segment import (
    SEGMENT_HEADER_BYTES,
    SegmentScan,
    check_segment_header,
    encode_segment_header,
    list_segment_files,
    read_header,
)
from ._writer import APPEND_FLAGS, Segment, create_segment, sync_directory, sync_file, write_fully

logger = logging.getLogger("bolt.log")

LOCK_FILE_NAME = "LOCK"


def lock_directory(directory: Path) -> int:
    """Create ``directory`` if missing and take an exclusive lock on its ``LOCK`` file.

    Two processes appending to one log would interleave records; the lock
    makes the second one fail at open instead. The lock lives as long as the
    returned descriptor (the kernel drops it when the process dies).

    Returns:
        The descriptor holding the lock; close it to release the lock.

    Raises:
        bolt.errors.StorageError: another process (or another open Log) holds it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(directory / LOCK_FILE_NAME, flags, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StorageError(f"the log in {directory} is open in another process") from None
    return fd


@dataclass(slots=True)
class Recovered:
    """The state of a log directory after recovery, ready for a writer."""

    segments: list[Segment]
    fd: int
    next_offset: int
    report: RecoveryReport


def recover(directory: Path) -> Recovered:
    """Open (or create) the log in ``directory`` and repair a torn tail.

    Returns:
        The segments, the active segment open for appending, the next offset
        and the recovery report.

    Raises:
        bolt.errors.CorruptionError: damage before the tail of the last segment,
            or a bad header in any segment.
        bolt.errors.FormatVersionError: a segment of a newer format.
        OSError: the directory or a file cannot be read or written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    files = list_segment_files(directory)
    if not files:
        fd, path = create_segment(directory, 0)
        sync_file(fd)
        sync_directory(directory)
        report = RecoveryReport(segments=1, records=0, torn_tail=None)
        return Recovered([Segment(0, path, SEGMENT_HEADER_BYTES)], fd, 0, report)

    segments: list[Segment] = []
    for first_offset, path in files[:-1]:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            if not check_segment_header(path, read_header(file)):
                raise CorruptionError(
                    f"corrupt segment header in {path}: only {size} bytes; "
                    + verify_hint(directory),
                    path=str(path),
                    position=size,
                )
        segments.append(Segment(first_offset, path, size))

    first_offset, path = files[-1]
    last, records, torn_tail = _recover_last(directory, first_offset, path)
    segments.append(last)
    fd = os.open(path, APPEND_FLAGS)
    next_offset = first_offset + records
    report = RecoveryReport(
        segments=len(segments),
        records=next_offset - segments[0].first_offset,
        torn_tail=torn_tail,
    )
    return Recovered(segments, fd, next_offset, report)


def _recover_last(
    directory: Path, first_offset: int, path: Path
) -> tuple[Segment, int, TornTail | None]:
    """Scan the last segment, truncate a torn tail, build its offset index.

    Returns:
        The segment, its number of records and the torn tail cut off (if any).
    """
    segment = Segment(first_offset, path, SEGMENT_HEADER_BYTES)
    fd = os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
    try:
        with os.fdopen(os.dup(fd), "rb") as file:
            size = file.seek(0, os.SEEK_END)
            if not check_segment_header(path, read_header(file)):
                # Created but its header never fully written: start it afresh.
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                write_fully(fd, encode_segment_header())
                sync_file(fd)
                torn = TornTail(path, 0, size)
                _warn(torn)
                return segment, 0, torn
            records = 0
            scan = SegmentScan(file, path)
            for position, _payload in scan:
                segment.note(first_offset + records, position)
                records += 1
            end = scan.end
        if end.status is ScanStatus.CORRUPT:
            raise CorruptionError(
                corruption_message(path, end, directory), path=str(path), position=end.position
            )
        segment.size = end.position
        torn_tail = None
        if end.status is ScanStatus.TORN:
            os.ftruncate(fd, end.position)
            sync_file(fd)
            torn_tail = TornTail(path, end.position, size - end.position)
            _warn(torn_tail, end.reason)
        return segment, records, torn_tail
    finally:
        os.close(fd)


def _warn(torn: TornTail, reason: str = "short segment header") -> None:
    logger.warning(
        "log: truncated a torn tail of %d bytes at byte %d of %s (%s)",
        torn.bytes_dropped,
        torn.position,
        torn.path,
        reason,
    )
