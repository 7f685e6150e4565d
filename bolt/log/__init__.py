"""The durable byte log: framed records in segment files, group commit, reading by offset.

The log knows offsets and bytes, not what the bytes mean. See
:mod:`bolt.log._record` (framing and the torn-tail rule),
:mod:`bolt.log._segment` (files and headers), :mod:`bolt.log._log`
(durability modes and the flusher) and :mod:`bolt.log._reader` (read-only
access for tools).
"""

from bolt.log._reader import read_segment_records as read_segment_records
from bolt.log._segment import list_segment_files as list_segment_files

from ._log import Log
from ._options import FsyncMode, LogOptions, LogStatistics, RecoveryReport, TornTail
from ._reader import LogReader, SegmentInfo, VerifyReport
from ._record import (
    RECORD_HEADER_BYTES,
    RecordScanner,
    ScanEnd,
    ScanStatus,
    encode_record,
    scan_records,
)
from ._segment import SEGMENT_FORMAT_VERSION, SEGMENT_HEADER_BYTES, segment_file_name
from ._writer import sync_directory, sync_file, write_fully

__all__ = [
    "RECORD_HEADER_BYTES",
    "SEGMENT_FORMAT_VERSION",
    "SEGMENT_HEADER_BYTES",
    "FsyncMode",
    "Log",
    "LogOptions",
    "LogReader",
    "LogStatistics",
    "RecordScanner",
    "RecoveryReport",
    "ScanEnd",
    "ScanStatus",
    "SegmentInfo",
    "TornTail",
    "VerifyReport",
    "encode_record",
    "scan_records",
    "segment_file_name",
    "sync_directory",
    "sync_file",
    "write_fully",
]
