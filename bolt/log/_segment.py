"""Segment files: naming, the header, and scanning the records of one file.

Theory of operation
-------------------
The log directory holds segment files named ``{first_offset:020d}.seg``, where
``first_offset`` is the offset of the file's first record. Offsets are record
indices counted from 0 across the whole log, so a segment's records have the
offsets ``first_offset, first_offset + 1, ...`` and the next segment's name is
the offset after its last record. Other file names are ignored.

Every segment begins with a 16-byte header::

    b"BOLTLOG\\x00" | u32 format version (little-endian, = 1) | u32 reserved (= 0)

followed by records (see :mod:`bolt.log._record`). A newer format version is a
:class:`~bolt.errors.FormatVersionError` (a newer Bolt wrote it); a wrong magic
is a :class:`~bolt.errors.CorruptionError`. A file shorter than the header
whose bytes are a prefix of a valid header was being created when the process
stopped: in the last segment that is a torn tail like any other.

:class:`SegmentScan` reads one file in chunks through the pure
:class:`~bolt.log._record.RecordScanner`, so a 64 MiB segment never has to sit
in memory whole, and classifies its end exactly like the scanner does.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from bolt import limits
from bolt.errors import CorruptionError, FormatVersionError

from ._record import RECORD_HEADER, RecordScanner, ScanEnd, ScanStatus

SEGMENT_MAGIC = b"BOLTLOG\x00"
SEGMENT_FORMAT_VERSION = 1
SEGMENT_HEADER = struct.Struct("<8sII")
SEGMENT_HEADER_BYTES = SEGMENT_HEADER.size
SEGMENT_SUFFIX = ".seg"
_NAME = re.compile(r"^(\d{20})\.seg$")
_READ_CHUNK_BYTES = 1024 * 1024


def segment_file_name(first_offset: int) -> str:
    """The file name of the segment whose first record has ``first_offset``."""
    return f"{first_offset:020d}{SEGMENT_SUFFIX}"


def parse_segment_file_name(name: str) -> int | None:
    """The first offset encoded in a segment file name, or None for other files."""
    match = _NAME.match(name)
    return int(match.group(1)) if match else None


def list_segment_files(directory: Path) -> list[tuple[int, Path]]:
    """Every segment file of ``directory`` as ``(first_offset, path)``, oldest first."""
    found: list[tuple[int, Path]] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            first_offset = parse_segment_file_name(entry.name)
            if first_offset is not None and entry.is_file():
                found.append((first_offset, Path(entry.path)))
    found.sort()
    return found


def encode_segment_header() -> bytes:
    """The 16 bytes every segment file of the current format begins with."""
    return SEGMENT_HEADER.pack(SEGMENT_MAGIC, SEGMENT_FORMAT_VERSION, 0)


def check_segment_header(path: Path, data: bytes) -> bool:
    """Check the first bytes of a segment file.

    Args:
        path: the file, named in errors.
        data: up to the first 16 bytes of the file.

    Returns:
        True for a whole valid header; False for a torn header (the file is
        shorter than the header and holds a prefix of a valid one).

    Raises:
        bolt.errors.FormatVersionError: the file has a newer format version.
        bolt.errors.CorruptionError: the magic is wrong (``position`` 0).
    """
    if len(data) < SEGMENT_HEADER_BYTES:
        if encode_segment_header().startswith(data):
            return False
        raise CorruptionError(
            f"corrupt segment header in {path}: {len(data)} bytes that are not a Bolt log header",
            path=str(path),
            position=0,
        )
    magic, version, _reserved = SEGMENT_HEADER.unpack_from(data)
    if magic != SEGMENT_MAGIC:
        raise CorruptionError(
            f"corrupt segment header in {path} at byte 0: bad magic {magic!r}; "
            "this is not a Bolt log segment",
            path=str(path),
            position=0,
        )
    if version > SEGMENT_FORMAT_VERSION:
        raise FormatVersionError(
            f"log segment {path} has format version {version}, newer than the "
            f"version {SEGMENT_FORMAT_VERSION} this Bolt reads; upgrade Bolt to open it"
        )
    return True


def record_count_until(
    data: bytes | bytearray | memoryview, start: int, budget: int
) -> tuple[int, int]:
    """Walk framed records from ``start`` until at least ``budget`` bytes are taken.

    The records must be well formed (they come from our own append buffer), so
    only the length fields are read.

    Returns:
        ``(stop, count)``: the byte position after the last record taken and
        how many records were taken. The whole buffer is taken if it is shorter.
    """
    size = len(data)
    unpack = RECORD_HEADER.unpack_from
    header = RECORD_HEADER.size
    position = start
    count = 0
    while position < size and position - start < budget:
        length, _crc = unpack(data, position)
        position += header + length
        count += 1
    return position, count


class SegmentScan:
    """Iterate over the records of one segment file read in chunks.

    Iterating yields ``(position, payload)`` (``position`` is the record's byte
    position in the file). Afterwards :attr:`end` tells why it stopped, with
    the same ``CLEAN`` / ``TORN`` / ``CORRUPT`` meaning as the record scanner,
    judged over the whole rest of the file.

    Args:
        file: a binary file open for reading (never written).
        path: the file's path, for messages.
        start: byte position of the first record to read (at or after the header,
            on a record boundary).
        record_bytes_max: the largest sane payload.
    """

    def __init__(
        self,
        file: BinaryIO,
        path: Path,
        start: int = SEGMENT_HEADER_BYTES,
        *,
        record_bytes_max: int = limits.record_bytes_max,
    ) -> None:
        self._file = file
        self.path = path
        self._start = start
        self._record_bytes_max = record_bytes_max
        self._end: ScanEnd | None = None

    @property
    def end(self) -> ScanEnd:
        """Why the scan stopped; only available once iteration has finished."""
        if self._end is None:
            raise RuntimeError("the scan has not finished")
        return self._end

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        file = self._file
        file.seek(self._start)
        buffer = bytearray()
        base = self._start  # file position of buffer[0]
        want = _READ_CHUNK_BYTES
        at_eof = False
        while True:
            if not at_eof:
                chunk = file.read(want)
                at_eof = not chunk
                buffer += chunk
            scanner = RecordScanner(
                buffer, final=at_eof, base=base, record_bytes_max=self._record_bytes_max
            )
            yield from scanner
            end = scanner.end
            if end.status is not ScanStatus.INCOMPLETE:
                self._end = end
                return
            consumed = end.position - base
            del buffer[:consumed]
            base = end.position
            want = max(_READ_CHUNK_BYTES, _bytes_needed(buffer) - len(buffer))


def _bytes_needed(buffer: bytearray) -> int:
    """How many bytes the record at the start of ``buffer`` claims to span."""
    if len(buffer) < RECORD_HEADER.size:
        return RECORD_HEADER.size
    length, _crc = RECORD_HEADER.unpack_from(buffer)
    # A damaged length may claim anything; read in bounded chunks regardless.
    return RECORD_HEADER.size + min(length, limits.record_bytes_max)


def read_header(file: BinaryIO) -> bytes:
    """Read the first header-size bytes of an open segment file."""
    file.seek(0)
    return file.read(SEGMENT_HEADER_BYTES)
