"""Segment files: names, headers, chunked scanning."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from bolt.errors import CorruptionError, FormatVersionError
from bolt.log import (
    SEGMENT_HEADER_BYTES,
    Log,
    LogOptions,
    LogReader,
    ScanStatus,
    _segment,
    encode_record,
)
from bolt.log._record import scan_records
from bolt.log._segment import (
    SegmentScan,
    check_segment_header,
    encode_segment_header,
    list_segment_files,
    parse_segment_file_name,
    record_count_until,
    segment_file_name,
)


def test_file_names_round_trip() -> None:
    assert segment_file_name(0) == "00000000000000000000.seg"
    assert segment_file_name(1234) == "00000000000000001234.seg"
    assert parse_segment_file_name(segment_file_name(987654321)) == 987654321
    for other in ("LOCK", "0000.seg", "00000000000000000000.seg.tmp", "x0000000000000000000.seg"):
        assert parse_segment_file_name(other) is None


def test_listing_sorts_and_ignores_other_files(tmp_path: Path) -> None:
    for offset in (300, 0, 20):
        (tmp_path / segment_file_name(offset)).write_bytes(encode_segment_header())
    (tmp_path / "LOCK").write_bytes(b"")
    (tmp_path / "notes.txt").write_bytes(b"hello")
    assert [offset for offset, _ in list_segment_files(tmp_path)] == [0, 20, 300]


def test_header_layout() -> None:
    header = encode_segment_header()
    assert len(header) == SEGMENT_HEADER_BYTES == 16
    assert header == b"BOLTLOG\x00" + struct.pack("<II", 1, 0)


def test_header_checks(tmp_path: Path) -> None:
    path = tmp_path / segment_file_name(0)
    assert check_segment_header(path, encode_segment_header())
    assert not check_segment_header(path, encode_segment_header()[:5])
    assert not check_segment_header(path, b"")
    with pytest.raises(CorruptionError) as caught:
        check_segment_header(path, b"NOTALOG\x00" + struct.pack("<II", 1, 0))
    assert caught.value.position == 0
    assert caught.value.path == str(path)
    with pytest.raises(CorruptionError):
        check_segment_header(path, b"XYZ")
    with pytest.raises(FormatVersionError) as newer:
        check_segment_header(path, b"BOLTLOG\x00" + struct.pack("<II", 2, 0))
    assert str(path) in str(newer.value)


def test_a_newer_format_version_refuses_to_open(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    directory.mkdir()
    path = directory / segment_file_name(0)
    path.write_bytes(b"BOLTLOG\x00" + struct.pack("<II", 7, 0) + encode_record(b"x"))
    with pytest.raises(FormatVersionError) as caught:
        Log.open(LogOptions(directory=directory))
    assert str(path) in str(caught.value)
    with pytest.raises(FormatVersionError):
        LogReader(directory).segments()


def test_a_bad_magic_refuses_to_open(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    directory.mkdir()
    path = directory / segment_file_name(0)
    path.write_bytes(b"GARBAGE!" + bytes(8) + encode_record(b"x"))
    with pytest.raises(CorruptionError) as caught:
        Log.open(LogOptions(directory=directory))
    assert caught.value.path == str(path)
    assert caught.value.position == 0


def test_record_count_until_takes_the_record_that_crosses_the_budget() -> None:
    records = [encode_record(b"a" * 10), encode_record(b"b" * 10), encode_record(b"c" * 10)]
    data = b"".join(records)
    assert record_count_until(data, 0, 1) == (18, 1)
    assert record_count_until(data, 0, 18) == (18, 1)
    assert record_count_until(data, 0, 19) == (36, 2)
    assert record_count_until(data, 18, 100) == (54, 2)


def write_segment(path: Path, payloads: list[bytes], tail: bytes = b"") -> bytes:
    body = b"".join(encode_record(payload) for payload in payloads) + tail
    path.write_bytes(encode_segment_header() + body)
    return body


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
def test_chunked_scan_matches_the_pure_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(_segment, "_READ_CHUNK_BYTES", chunk)
    payloads = [bytes([index]) * (index * 13 % 300 + 1) for index in range(60)]
    path = tmp_path / segment_file_name(0)
    body = write_segment(path, payloads, tail=encode_record(b"torn away")[:-3])
    expected, expected_end = scan_records(body)
    with path.open("rb") as file:
        scan = SegmentScan(file, path)
        got = list(scan)
    assert [payload for _, payload in got] == [payload for _, payload in expected]
    assert [position for position, _ in got] == [
        position + SEGMENT_HEADER_BYTES for position, _ in expected
    ]
    assert expected_end.status is ScanStatus.TORN
    assert scan.end.status is ScanStatus.TORN
    assert scan.end.position == expected_end.position + SEGMENT_HEADER_BYTES


@pytest.mark.parametrize("chunk", [5, 1 << 20])
def test_chunked_scan_finds_corruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(_segment, "_READ_CHUNK_BYTES", chunk)
    path = tmp_path / segment_file_name(0)
    write_segment(path, [b"one", b"two", b"three", b"four"])
    data = bytearray(path.read_bytes())
    second = SEGMENT_HEADER_BYTES + len(encode_record(b"one"))
    data[second + 9] ^= 0x01
    path.write_bytes(data)
    with path.open("rb") as file:
        scan = SegmentScan(file, path)
        assert [payload for _, payload in scan] == [b"one"]
    assert scan.end.status is ScanStatus.CORRUPT
    assert scan.end.position == second


def test_scan_starting_mid_file(tmp_path: Path) -> None:
    path = tmp_path / segment_file_name(0)
    write_segment(path, [b"one", b"two", b"three"])
    start = SEGMENT_HEADER_BYTES + len(encode_record(b"one"))
    with path.open("rb") as file:
        scan = SegmentScan(file, path, start)
        assert [payload for _, payload in scan] == [b"two", b"three"]
    assert scan.end.clean
