"""Record framing: the pure core of the log (no I/O, no clock).

Theory of operation
-------------------
A record is one opaque payload framed as::

    u32 length (little-endian) | u32 crc32c(payload) (little-endian) | payload

``length`` counts payload bytes only and must be between 1 and
:data:`bolt.limits.record_bytes_max`; a zero length is never written, so a run
of zero bytes (a preallocated or half-written block) never parses as a record.

A :class:`RecordScanner` walks a buffer of concatenated records and yields each
whole record. It stops at the first position ``p`` where no good record starts
and reports why in :attr:`RecordScanner.end`:

* ``CLEAN`` -- the buffer ends exactly at a record boundary.
* ``TORN`` -- the record at ``p`` is short, has a bad length or a bad CRC, and
  no valid record starts anywhere after ``p``. This is what an interrupted
  append leaves behind: the tail may be dropped.
* ``CORRUPT`` -- the record at ``p`` is bad but a valid record starts somewhere
  after it. Data that was once whole has been damaged; dropping the tail would
  lose good records, so this is an error to report, never to repair.
  Also ``CORRUPT``: the **last** record is complete (its whole length is
  there) but fails its CRC. An interrupted append leaves a *short* record,
  never a complete wrong one: this is damage to a record that was written
  whole, probably acknowledged. The one exception is a record whose end is a
  run of zero bytes starting on a 512-byte boundary of the file: blocks the
  file system allocated but never wrote (a crash of the machine), which is
  torn.

"A valid record" means: a sane length, the whole payload inside the buffer and
a matching CRC. Any byte position after ``p`` counts (records are not aligned),
so damage to a length field cannot hide the good records that follow it.

With ``final=False`` the scanner is fed a buffer that may continue later (a
chunk of a file): instead of classifying, it stops with ``INCOMPLETE`` at the
first position it cannot yield a good record from, and the caller either
supplies more bytes or rescans the remainder with ``final=True``.
"""

from __future__ import annotations

import array
import enum
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from crc32c import crc32c

from bolt import limits

RECORD_HEADER = struct.Struct("<II")
"""``length, crc32c`` in front of every payload."""
RECORD_HEADER_BYTES = RECORD_HEADER.size

Buffer = bytes | bytearray | memoryview


class ScanStatus(enum.Enum):
    """Why a scan stopped."""

    CLEAN = "clean"
    """The buffer ended on a record boundary."""
    TORN = "torn"
    """A short or damaged record with no valid record after it (an interrupted write)."""
    CORRUPT = "corrupt"
    """A damaged record followed by a valid one (damage in the middle)."""
    INCOMPLETE = "incomplete"
    """Only when ``final=False``: the buffer ended, or no good record starts at the
    position; the caller supplies more bytes or rescans with ``final=True``."""


@dataclass(frozen=True, slots=True)
class ScanEnd:
    """Where and why a scan stopped.

    ``position`` is the byte position (in the scanned buffer or file) just after
    the last whole good record, which is also where the bad record begins.
    ``reason`` says what was wrong with the record there ("" when clean).
    """

    status: ScanStatus
    position: int
    reason: str = ""

    @property
    def clean(self) -> bool:
        """True when the scan reached the end on a record boundary."""
        return self.status is ScanStatus.CLEAN


def encode_record(payload: bytes) -> bytes:
    """Frame one payload as a record.

    Args:
        payload: the opaque bytes to store (1 to ``limits.record_bytes_max`` bytes).

    Returns:
        ``length | crc32c | payload`` as bytes.

    Raises:
        bolt.errors.TooLargeError: the payload is over ``limits.record_bytes_max``.
        bolt.errors.BadRequestError: the payload is empty.
    """
    check_payload_length(len(payload))
    return RECORD_HEADER.pack(len(payload), crc32c(payload)) + payload


def check_payload_length(length: int) -> None:
    """Raise the matching Bolt error when ``length`` cannot be framed.

    Raises:
        bolt.errors.TooLargeError: over ``limits.record_bytes_max``.
        bolt.errors.BadRequestError: zero (an empty record is never written).
    """
    from bolt.errors import BadRequestError, TooLargeError

    if length > limits.record_bytes_max:
        raise TooLargeError(
            f"log record of {length} bytes is over the limit of {limits.record_bytes_max} bytes"
        )
    if length <= 0:
        raise BadRequestError("log record payload must not be empty")


def _bad_record(view: memoryview, position: int, record_bytes_max: int) -> str:
    """Say why no good record starts at ``position`` ("" if one does)."""
    size = len(view)
    if size - position < RECORD_HEADER_BYTES:
        return f"short record header ({size - position} of {RECORD_HEADER_BYTES} bytes)"
    length, crc = RECORD_HEADER.unpack_from(view, position)
    if length == 0:
        return "zero record length"
    if length > record_bytes_max:
        return f"record length {length} over the limit of {record_bytes_max}"
    stop = position + RECORD_HEADER_BYTES + length
    if stop > size:
        return f"short record (length {length}, {size - position - RECORD_HEADER_BYTES} bytes)"
    if crc32c(view[position + RECORD_HEADER_BYTES : stop]) != crc:
        return _CHECKSUM_MISMATCH
    return ""


_CHECKSUM_MISMATCH = "record checksum mismatch"
_UNWRITTEN_BLOCK_BYTES = 512


def _ends_unwritten(view: memoryview, position: int, base: int) -> bool:
    """True if the record at ``position`` ends in zeros from a 512-byte file boundary on."""
    length = RECORD_HEADER.unpack_from(view, position)[0]
    stop = position + RECORD_HEADER_BYTES + length
    first_zero = stop
    while first_zero > position and view[first_zero - 1] == 0:
        first_zero -= 1
    if first_zero == stop:
        return False
    boundary = -(-(base + first_zero) // _UNWRITTEN_BLOCK_BYTES) * _UNWRITTEN_BLOCK_BYTES - base
    return boundary < stop


def valid_record_after(view: memoryview, position: int, record_bytes_max: int) -> int:
    """Find the first byte position after ``position`` where a valid record starts.

    Returns:
        That position, or -1 when there is none (the damage is a torn tail).
    """
    size = len(view)
    last_start = size - RECORD_HEADER_BYTES
    first = position + 1
    if first > last_start:
        return -1
    longest = min(record_bytes_max, size - first - RECORD_HEADER_BYTES)
    # Reading every u32 through four word arrays (one per alignment) is much
    # faster than one struct call per byte; only plausible lengths get the
    # exact check, in position order.
    candidates: list[int] = []
    for phase in range(4):
        start = first + phase
        count = (size - start) // 4
        if count <= 0:
            continue
        words = array.array("I")
        words.frombytes(view[start : start + 4 * count])
        if sys.byteorder == "big":  # pragma: no cover - the format is little-endian
            words.byteswap()
        candidates.extend(start + 4 * i for i, word in enumerate(words) if 0 < word <= longest)
    candidates.sort()
    for candidate in candidates:
        if candidate <= last_start and not _bad_record(view, candidate, record_bytes_max):
            return candidate
    return -1


class RecordScanner:
    """Iterate over the whole records of a buffer, then tell why it stopped.

    Iterating yields ``(position, payload)`` for each good record, where
    ``position`` is the byte position of the record's header in the buffer.
    After the iteration ends, :attr:`end` holds a :class:`ScanEnd`.

    Args:
        buffer: concatenated records (bytes, bytearray or memoryview). It must
            not be resized while the scanner runs.
        start: byte position of the first record.
        final: True when the buffer holds everything there is (a torn tail can be
            told from corruption); False when more bytes may follow.
        base: added to every reported position (the buffer's position in a file).
        record_bytes_max: the largest payload accepted as sane.
    """

    def __init__(
        self,
        buffer: Buffer,
        start: int = 0,
        *,
        final: bool = True,
        base: int = 0,
        record_bytes_max: int = limits.record_bytes_max,
    ) -> None:
        self._buffer = buffer
        self._start = start
        self._final = final
        self._base = base
        self._record_bytes_max = record_bytes_max
        self._end: ScanEnd | None = None

    @property
    def end(self) -> ScanEnd:
        """Why the scan stopped; only available once iteration has finished."""
        if self._end is None:
            raise RuntimeError("the scan has not finished")
        return self._end

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        with memoryview(self._buffer) as whole, whole.cast("B") as view:
            yield from self._scan(view)

    def _scan(self, view: memoryview) -> Iterator[tuple[int, bytes]]:
        size = len(view)
        position = self._start
        header = RECORD_HEADER_BYTES
        unpack = RECORD_HEADER.unpack_from
        record_bytes_max = self._record_bytes_max
        base = self._base
        while True:
            if position == size:
                status = ScanStatus.CLEAN if self._final else ScanStatus.INCOMPLETE
                self._end = ScanEnd(status, base + position)
                return
            if size - position >= header:
                length, crc = unpack(view, position)
                stop = position + header + length
                if 0 < length <= record_bytes_max and stop <= size:
                    payload = bytes(view[position + header : stop])
                    if crc32c(payload) == crc:
                        yield base + position, payload
                        position = stop
                        continue
            self._end = self._stop_at(view, position)
            return

    def _stop_at(self, view: memoryview, position: int) -> ScanEnd:
        base = self._base
        if not self._final:
            return ScanEnd(ScanStatus.INCOMPLETE, base + position)
        reason = _bad_record(view, position, self._record_bytes_max)
        following = valid_record_after(view, position, self._record_bytes_max)
        if following < 0:
            if reason == _CHECKSUM_MISMATCH and not _ends_unwritten(view, position, base):
                return ScanEnd(
                    ScanStatus.CORRUPT,
                    base + position,
                    "the last record is complete but fails its checksum: data written whole "
                    "was damaged (an interrupted write leaves a short record)",
                )
            return ScanEnd(ScanStatus.TORN, base + position, reason)
        return ScanEnd(
            ScanStatus.CORRUPT,
            base + position,
            f"{reason}; a valid record follows at byte {base + following}",
        )


def scan_records(
    buffer: Buffer, start: int = 0, *, record_bytes_max: int = limits.record_bytes_max
) -> tuple[list[tuple[int, bytes]], ScanEnd]:
    """Scan a complete buffer at once.

    Returns:
        The list of ``(position, payload)`` of every whole record before the
        first bad one, and the :class:`ScanEnd` (``CLEAN``, ``TORN`` or ``CORRUPT``).
    """
    scanner = RecordScanner(buffer, start, record_bytes_max=record_bytes_max)
    records = list(scanner)
    return records, scanner.end
