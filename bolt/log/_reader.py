"""Read-only access to a log directory, for offline tools and live tailing.

Theory of operation
-------------------
:class:`LogReader` never modifies anything: it opens segment files read-only,
never truncates and never creates files, so it may read a directory that a
live daemon is appending to. What it sees is a prefix of what the daemon has
written: a record the daemon is writing right now looks like a torn tail of the
last segment, and reading stops quietly there.

The rules it applies (see :mod:`bolt.log._record` for the torn-tail rule):

* a torn tail of the **last** segment ends the log quietly;
* a torn tail of any **earlier** segment, damage that a valid record follows,
  a wrong magic, and a gap in offsets between consecutive segments are
  corruption: :meth:`LogReader.read` yields every good record before the
  damage and then raises :class:`~bolt.errors.CorruptionError` naming the file
  and byte position; :meth:`LogReader.verify` reports them instead of raising.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

from bolt import limits
from bolt.errors import CorruptionError

from ._record import ScanEnd, ScanStatus
from ._segment import (
    SEGMENT_HEADER_BYTES,
    SegmentScan,
    check_segment_header,
    list_segment_files,
    read_header,
)
from ._writer import Segment


def verify_hint(directory: Path) -> str:
    """The command that checks a log: it takes the *data* directory (the log's parent)."""
    data_dir = directory.parent if directory.name == "log" else directory
    return f"run `boltctl replay verify {data_dir}`"


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """One segment file as scanned by :meth:`LogReader.segments`.

    ``records`` counts the good records before ``status.position``; ``bytes`` is
    the file size; ``status`` is how the scan ended (a torn tail of a segment
    that is not the last one is reported as ``CORRUPT``).
    """

    path: Path
    first_offset: int
    records: int
    bytes: int
    status: ScanEnd

    @property
    def next_offset(self) -> int:
        """The offset after this segment's last good record."""
        return self.first_offset + self.records


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of :meth:`LogReader.verify`.

    ``problems`` lists every corruption found (damaged records, bad headers,
    gaps between segments), one sentence each; a torn tail of the last
    segment is not a problem (``torn_tail`` holds it).
    """

    directory: Path
    segments: tuple[SegmentInfo, ...]
    first_offset: int
    next_offset: int
    records: int
    torn_tail: SegmentInfo | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when the log has no corruption (a torn tail is allowed)."""
        return not self.problems


def corruption_message(path: Path, end: ScanEnd, directory: Path) -> str:
    """The operator-facing text for damage found at ``end`` in ``path``."""
    return f"corrupt record in {path} at byte {end.position}: {end.reason}; " + verify_hint(
        directory
    )


def read_segment_records(
    path: Path,
    *,
    start_position: int,
    start_offset: int,
    from_offset: int,
    to_offset: int | None,
    last: bool,
    directory: Path,
    record_bytes_max: int = limits.record_bytes_max,
) -> Generator[tuple[int, bytes], None, int]:
    """Yield ``(offset, payload)`` of one segment's records in ``[from_offset, to_offset)``.

    Args:
        path: the segment file (opened read-only).
        start_position: byte position of a record boundary to start at.
        start_offset: the offset of the record at ``start_position``.
        from_offset: records before this are skipped.
        to_offset: reading stops before this offset (None: read to the end).
        last: whether this is the last segment (a torn tail ends the log quietly).
        directory: the log directory, named in corruption messages.
        record_bytes_max: the largest sane payload.

    Returns:
        (as the generator's value) the offset after the last record read.

    Raises:
        bolt.errors.CorruptionError: after the last good record, at damage.
        FileNotFoundError: the segment was removed (retention) before it was opened.
    """
    offset = start_offset
    with path.open("rb") as file:
        if start_position < SEGMENT_HEADER_BYTES:
            header = read_header(file)
            if not check_segment_header(path, header):
                if last:
                    return offset
                raise CorruptionError(
                    f"corrupt segment header in {path}: only {len(header)} bytes; "
                    + verify_hint(directory),
                    path=str(path),
                    position=len(header),
                )
            start_position = SEGMENT_HEADER_BYTES
        if to_offset is not None and offset >= to_offset:
            return offset
        scan = SegmentScan(file, path, start_position, record_bytes_max=record_bytes_max)
        for _position, payload in scan:
            if offset >= from_offset:
                yield offset, payload
            offset += 1
            # Return before pulling another record: past ``to_offset`` a live
            # writer may be in the middle of a write.
            if to_offset is not None and offset >= to_offset:
                return offset
        end = scan.end
    if end.status is ScanStatus.CORRUPT or (end.status is ScanStatus.TORN and not last):
        if end.status is ScanStatus.TORN:
            end = ScanEnd(
                ScanStatus.CORRUPT,
                end.position,
                f"{end.reason} before the end of the log (a later segment follows)",
            )
        raise CorruptionError(
            corruption_message(path, end, directory), path=str(path), position=end.position
        )
    return offset


def read_open_segments(
    segments: list[Segment], from_offset: int, to_offset: int, directory: Path
) -> Iterator[tuple[int, bytes]]:
    """Read ``[from_offset, to_offset)`` from the segments of an open log.

    The caller guarantees every record below ``to_offset`` has been written,
    so a segment ending early is corruption. Each segment's offset index lets
    reading start near ``from_offset`` instead of at the segment's first record.

    Raises:
        ValueError: the segment holding ``from_offset`` was dropped while reading.
        bolt.errors.CorruptionError: a segment file was damaged behind the log's back.
    """
    start = 0
    for index, segment in enumerate(segments):
        if segment.first_offset <= from_offset:
            start = index
    for index in range(start, len(segments)):
        segment = segments[index]
        if segment.first_offset >= to_offset:
            return
        position, offset = (
            segment.locate(from_offset) if index == start else (0, segment.first_offset)
        )
        expected = to_offset
        if index + 1 < len(segments):
            expected = min(to_offset, segments[index + 1].first_offset)
        try:
            reached = yield from read_segment_records(
                segment.path,
                start_position=position,
                start_offset=offset,
                from_offset=from_offset,
                to_offset=expected,
                last=index == len(segments) - 1,
                directory=directory,
            )
        except FileNotFoundError:
            raise ValueError(
                f"offset {from_offset} was dropped from the log while being read"
            ) from None
        if reached < expected:
            raise CorruptionError(
                f"{segment.path} ends at offset {reached} but the log wrote up to {expected}; "
                + verify_hint(directory),
                path=str(segment.path),
                position=-1,
            )


class LogReader:
    """Read a log directory without ever changing it.

    Args:
        directory: the log directory (the one given to ``LogOptions``).
        record_bytes_max: the largest payload accepted as sane.
    """

    def __init__(self, directory: Path, *, record_bytes_max: int = limits.record_bytes_max) -> None:
        self.directory = Path(directory)
        self._record_bytes_max = record_bytes_max

    def segments(self) -> list[SegmentInfo]:
        """Scan every segment file completely and describe it, oldest first.

        Raises:
            bolt.errors.FormatVersionError: a segment has a newer format version.
        """
        files = list_segment_files(self.directory)
        infos: list[SegmentInfo] = []
        for index, (first_offset, path) in enumerate(files):
            infos.append(self._scan_segment(path, first_offset, last=index == len(files) - 1))
        return infos

    def _scan_segment(self, path: Path, first_offset: int, *, last: bool) -> SegmentInfo:
        records = 0
        with path.open("rb") as file:
            size = file.seek(0, 2)
            header = read_header(file)
            try:
                whole_header = check_segment_header(path, header)
            except CorruptionError as error:
                end = ScanEnd(ScanStatus.CORRUPT, 0, str(error))
                return SegmentInfo(path, first_offset, 0, size, end)
            if not whole_header:
                status = ScanStatus.TORN if last else ScanStatus.CORRUPT
                end = ScanEnd(status, 0, f"short segment header ({len(header)} bytes)")
                return SegmentInfo(path, first_offset, 0, size, end)
            scan = SegmentScan(file, path, record_bytes_max=self._record_bytes_max)
            for _ in scan:
                records += 1
            end = scan.end
        if end.status is ScanStatus.TORN and not last:
            end = ScanEnd(
                ScanStatus.CORRUPT,
                end.position,
                f"{end.reason} before the end of the log (a later segment follows)",
            )
        return SegmentInfo(path, first_offset, records, size, end)

    def verify(self) -> VerifyReport:
        """Check every record of every segment and report, without raising on damage.

        Raises:
            bolt.errors.FormatVersionError: a segment has a newer format version.
        """
        infos = self.segments()
        problems: list[str] = []
        torn_tail: SegmentInfo | None = None
        for index, info in enumerate(infos):
            if info.status.status is ScanStatus.CORRUPT:
                problems.append(corruption_message(info.path, info.status, self.directory))
            elif info.status.status is ScanStatus.TORN:
                torn_tail = info
            if index > 0 and infos[index - 1].next_offset != info.first_offset:
                previous = infos[index - 1]
                problems.append(
                    f"gap in the log: {previous.path} ends before offset {previous.next_offset} "
                    f"but {info.path} starts at offset {info.first_offset}"
                )
        first_offset = infos[0].first_offset if infos else 0
        next_offset = infos[-1].next_offset if infos else 0
        return VerifyReport(
            directory=self.directory,
            segments=tuple(infos),
            first_offset=first_offset,
            next_offset=next_offset,
            records=sum(info.records for info in infos),
            torn_tail=torn_tail,
            problems=tuple(problems),
        )

    def read(
        self, from_offset: int = 0, to_offset: int | None = None
    ) -> Iterator[tuple[int, bytes]]:
        """Iterate over ``(offset, payload)`` from ``from_offset`` up to ``to_offset``.

        Stops quietly at a torn tail of the last segment (including a record a
        live writer is still writing).

        Raises:
            ValueError: ``from_offset`` is below the first retained offset.
            bolt.errors.CorruptionError: at real corruption, after every good record before it.
            bolt.errors.FormatVersionError: a segment has a newer format version.
        """
        files = list_segment_files(self.directory)
        first_offset = files[0][0] if files else 0
        if from_offset < first_offset:
            raise ValueError(
                f"offset {from_offset} is before the first offset {first_offset} in the log"
            )
        return self._read(files, from_offset, to_offset)

    def _read(
        self, files: list[tuple[int, Path]], from_offset: int, to_offset: int | None
    ) -> Iterator[tuple[int, bytes]]:
        start = 0
        for index, (first_offset, _path) in enumerate(files):
            if first_offset <= from_offset:
                start = index
        expected: int | None = None
        for index in range(start, len(files)):
            first_offset, path = files[index]
            if to_offset is not None and first_offset >= to_offset:
                return
            if expected is not None and expected != first_offset:
                previous = files[index - 1][1]
                raise CorruptionError(
                    f"gap in the log: {previous} ends before offset {expected} but {path} "
                    f"starts at offset {first_offset}; " + verify_hint(self.directory),
                    path=str(path),
                    position=0,
                )
            expected = yield from read_segment_records(
                path,
                start_position=0,
                start_offset=first_offset,
                from_offset=from_offset,
                to_offset=to_offset,
                last=index == len(files) - 1,
                directory=self.directory,
                record_bytes_max=self._record_bytes_max,
            )
            if to_offset is not None and expected >= to_offset:
                return
