"""Record framing laws: round trip, any cut is a torn tail, damage is located."""

from __future__ import annotations

import os
import struct
import time
from typing import Any

import pytest
from crc32c import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st

from bolt import limits
from bolt.errors import BadRequestError, TooLargeError
from bolt.log import RECORD_HEADER_BYTES, RecordScanner, ScanStatus, encode_record, scan_records
from bolt.log._record import RECORD_HEADER, check_payload_length, valid_record_after

payload_lists = st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=12)


def frame(payloads: list[bytes]) -> tuple[bytes, list[int]]:
    """The concatenated records and the start position of each."""
    starts: list[int] = []
    buffer = bytearray()
    for payload in payloads:
        starts.append(len(buffer))
        buffer += encode_record(payload)
    return bytes(buffer), starts


def test_layout_is_length_crc_payload() -> None:
    record = encode_record(b"hello")
    assert record[:4] == struct.pack("<I", 5)
    assert record[4:8] == struct.pack("<I", crc32c(b"hello"))
    assert record[8:] == b"hello"
    assert RECORD_HEADER_BYTES == 8


def test_empty_payload_is_refused() -> None:
    with pytest.raises(BadRequestError):
        encode_record(b"")


def test_payload_over_the_limit_is_refused() -> None:
    with pytest.raises(TooLargeError):
        check_payload_length(limits.record_bytes_max + 1)
    check_payload_length(limits.record_bytes_max)


def test_empty_buffer_is_clean() -> None:
    records, end = scan_records(b"")
    assert records == []
    assert end.status is ScanStatus.CLEAN
    assert end.position == 0
    assert end.clean


def test_end_is_only_known_after_the_scan() -> None:
    scanner = RecordScanner(encode_record(b"x"))
    with pytest.raises(RuntimeError):
        _ = scanner.end
    assert [payload for _, payload in scanner] == [b"x"]
    assert scanner.end.clean


@settings(max_examples=150, deadline=None)
@given(payload_lists)
def test_round_trip(payloads: list[bytes]) -> None:
    buffer, starts = frame(payloads)
    records, end = scan_records(buffer)
    assert [payload for _, payload in records] == payloads
    assert [position for position, _ in records] == starts
    assert end.status is ScanStatus.CLEAN
    assert end.position == len(buffer)


@settings(max_examples=200, deadline=None)
@given(payload_lists, st.data())
def test_a_cut_at_any_byte_is_a_torn_tail(payloads: list[bytes], data: st.DataObject) -> None:
    buffer, starts = frame(payloads)
    cut = data.draw(st.integers(min_value=0, max_value=len(buffer)), label="cut")
    whole = [
        payload
        for payload, start in zip(payloads, starts, strict=True)
        if start + RECORD_HEADER_BYTES + len(payload) <= cut
    ]
    records, end = scan_records(buffer[:cut])
    assert [payload for _, payload in records] == whole
    boundary = sum(RECORD_HEADER_BYTES + len(payload) for payload in whole)
    assert end.position == boundary
    assert end.status is (ScanStatus.CLEAN if boundary == cut else ScanStatus.TORN)


@settings(max_examples=200, deadline=None)
@given(payload_lists, st.data())
def test_a_flipped_bit_in_the_last_record_is_never_read_and_never_clean(
    payloads: list[bytes], data: st.DataObject
) -> None:
    buffer, starts = frame(payloads)
    last = starts[-1]
    bit = data.draw(st.integers(min_value=last * 8, max_value=len(buffer) * 8 - 1), label="bit")
    damaged = bytearray(buffer)
    damaged[bit // 8] ^= 1 << (bit % 8)
    records, end = scan_records(damaged)
    assert [payload for _, payload in records] == payloads[:-1]
    assert end.position == last
    if bit >= (last + 4) * 8 and damaged[-1] != 0:
        # The length is intact, so the record is complete: its CRC or payload
        # was damaged after it was written whole. That is corruption.
        assert end.status is ScanStatus.CORRUPT
        assert "complete but fails its checksum" in end.reason
    else:
        assert end.status in (ScanStatus.TORN, ScanStatus.CORRUPT)


def test_a_complete_last_record_that_ends_in_unwritten_blocks_is_torn() -> None:
    good = encode_record(b"g" * 100)
    payload = b"p" * (1024 - len(good) - RECORD_HEADER_BYTES) + b"q" * 200
    header = RECORD_HEADER.pack(len(payload), crc32c(payload))
    # Everything up to the 1024-byte boundary was written; the block after it never was.
    damaged = good + header + payload[:-200] + bytes(200)
    records, end = scan_records(damaged)
    assert [p for _, p in records] == [b"g" * 100]
    assert end.status is ScanStatus.TORN and end.position == len(good)
    # A complete record ending in zeros that do not reach a block boundary: damage.
    short = b"s" * 50
    damaged = good + RECORD_HEADER.pack(len(short), crc32c(short)) + b"s" * 40 + bytes(10)
    assert scan_records(damaged)[1].status is ScanStatus.CORRUPT


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=200), min_size=2, max_size=12),
    st.data(),
)
def test_a_flipped_bit_in_a_middle_record_is_corruption(
    payloads: list[bytes], data: st.DataObject
) -> None:
    buffer, starts = frame(payloads)
    victim = data.draw(st.integers(min_value=0, max_value=len(payloads) - 2), label="record")
    first_bit = starts[victim] * 8
    last_bit = starts[victim + 1] * 8 - 1
    bit = data.draw(st.integers(min_value=first_bit, max_value=last_bit), label="bit")
    damaged = bytearray(buffer)
    damaged[bit // 8] ^= 1 << (bit % 8)
    records, end = scan_records(damaged)
    assert [payload for _, payload in records] == payloads[:victim]
    assert end.status is ScanStatus.CORRUPT
    assert end.position == starts[victim]
    assert "a valid record follows" in end.reason


def test_zero_fill_after_the_records_is_a_torn_tail() -> None:
    buffer, _ = frame([b"one", b"two"])
    records, end = scan_records(buffer + bytes(4096))
    assert [payload for _, payload in records] == [b"one", b"two"]
    assert end.status is ScanStatus.TORN
    assert end.position == len(buffer)
    assert "zero record length" in end.reason


def test_a_length_over_the_limit_is_damage() -> None:
    good, _ = frame([b"good"])
    bad = struct.pack("<II", 1000, 0) + b"x" * 20
    records, end = scan_records(good + bad + good, record_bytes_max=100)
    assert [payload for _, payload in records] == [b"good"]
    assert end.status is ScanStatus.CORRUPT
    assert end.position == len(good)
    assert "over the limit" in end.reason


def test_not_final_stops_incomplete_without_classifying() -> None:
    buffer, starts = frame([b"alpha", b"beta", b"gamma"])
    scanner = RecordScanner(buffer[:-2], final=False, base=1000)
    assert [position for position, _ in scanner] == [1000 + starts[0], 1000 + starts[1]]
    assert scanner.end.status is ScanStatus.INCOMPLETE
    assert scanner.end.position == 1000 + starts[2]


def test_start_and_base_offset_positions() -> None:
    buffer, starts = frame([b"a", b"bb", b"ccc"])
    records, end = scan_records(buffer, starts[1])
    assert records == [(starts[1], b"bb"), (starts[2], b"ccc")]
    assert end.position == len(buffer)


def test_scanner_accepts_memoryview_and_bytearray() -> None:
    buffer, _ = frame([b"a", b"bb"])
    candidates: list[Any] = [bytearray(buffer), memoryview(buffer), memoryview(buffer).cast("c")]
    for candidate in candidates:
        records, end = scan_records(candidate)
        assert [payload for _, payload in records] == [b"a", b"bb"]
        assert end.clean


def test_classifying_a_large_torn_tail_is_fast() -> None:
    # A torn write of a large record leaves megabytes of payload bytes behind;
    # looking for a valid record among them must not take a per-byte Python loop.
    head, _ = frame([b"first"])
    torn = encode_record(os.urandom(4 * limits.MIB))[: 3 * limits.MIB]
    started = time.perf_counter()
    records, end = scan_records(head + torn)
    elapsed = time.perf_counter() - started
    assert [payload for _, payload in records] == [b"first"]
    assert end.status is ScanStatus.TORN
    assert elapsed < 10


def test_valid_record_after_finds_the_next_record() -> None:
    first, _ = frame([b"damaged payload"])
    second = encode_record(b"next")
    buffer = bytearray(first + second)
    buffer[10] ^= 0xFF
    assert valid_record_after(memoryview(buffer), 0, limits.record_bytes_max) == len(first)
    assert valid_record_after(memoryview(buffer[: len(first)]), 0, limits.record_bytes_max) == -1
