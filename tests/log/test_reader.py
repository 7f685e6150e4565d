"""LogReader: read-only scanning, verification, and reading a live log."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest
import trio

from bolt.errors import CorruptionError
from bolt.log import Log, LogOptions, LogReader, ScanStatus, encode_record

from .conftest import payload_for, write_records

RECORDS = [payload_for(index) for index in range(120)]
EXPECTED = list(enumerate(RECORDS))


def fingerprint(directory: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.iterdir())
    }


@pytest.fixture
def rolled_log(log_dir: Path) -> Path:
    """A closed log of ``RECORDS`` spread over several small segments."""
    write_records(log_dir, RECORDS, segment_bytes_max=512)
    return log_dir


def test_segments_and_verify_on_a_clean_log(rolled_log: Path) -> None:
    reader = LogReader(rolled_log)
    infos = reader.segments()
    assert len(infos) > 3
    assert infos[0].first_offset == 0
    for info, following in itertools.pairwise(infos):
        assert info.next_offset == following.first_offset
    assert all(info.status.clean for info in infos)
    assert sum(info.records for info in infos) == len(RECORDS)
    assert [info.bytes for info in infos] == [info.path.stat().st_size for info in infos]
    report = reader.verify()
    assert report.ok
    assert (report.first_offset, report.next_offset, report.records) == (0, 120, 120)
    assert report.torn_tail is None


def test_read_from_any_offset(rolled_log: Path) -> None:
    reader = LogReader(rolled_log)
    for start in range(0, 121, 7):
        assert list(reader.read(start)) == EXPECTED[start:]
    assert list(reader.read(30, 75)) == EXPECTED[30:75]
    assert list(reader.read(500)) == []


def test_an_empty_directory_is_an_empty_log(tmp_path: Path) -> None:
    reader = LogReader(tmp_path)
    assert reader.segments() == []
    assert list(reader.read()) == []
    report = reader.verify()
    assert report.ok
    assert report.records == 0


def test_a_torn_tail_ends_reading_quietly_and_nothing_changes(rolled_log: Path) -> None:
    last = LogReader(rolled_log).segments()[-1]
    data = last.path.read_bytes()
    last.path.write_bytes(data[:-3])
    before = fingerprint(rolled_log)
    reader = LogReader(rolled_log)
    assert list(reader.read()) == EXPECTED[:-1]
    report = reader.verify()
    assert report.ok
    assert report.torn_tail is not None
    assert report.torn_tail.status.status is ScanStatus.TORN
    assert report.torn_tail.status.position == len(data) - len(encode_record(RECORDS[-1]))
    assert report.next_offset == 119
    assert fingerprint(rolled_log) == before  # read-only: no truncation


def test_damage_in_an_earlier_segment_is_corruption(rolled_log: Path) -> None:
    infos = LogReader(rolled_log).segments()
    victim = infos[1]
    data = bytearray(victim.path.read_bytes())
    position = 16 + len(encode_record(RECORDS[victim.first_offset]))
    data[position + 9] ^= 0x04
    victim.path.write_bytes(data)
    reader = LogReader(rolled_log)
    got: list[tuple[int, bytes]] = []
    with pytest.raises(CorruptionError) as caught:
        got.extend(reader.read())
    assert got == EXPECTED[: victim.first_offset + 1]
    assert caught.value.path == str(victim.path)
    assert caught.value.position == position
    report = reader.verify()
    assert not report.ok
    assert any(f"{victim.path} at byte {position}" in problem for problem in report.problems)


def test_a_torn_tail_before_the_last_segment_is_corruption(rolled_log: Path) -> None:
    infos = LogReader(rolled_log).segments()
    victim = infos[1]
    data = victim.path.read_bytes()
    victim.path.write_bytes(data[:-2])
    cut_at = len(data) - len(encode_record(RECORDS[victim.next_offset - 1]))
    reader = LogReader(rolled_log)
    got: list[tuple[int, bytes]] = []
    with pytest.raises(CorruptionError) as caught:
        got.extend(reader.read())
    assert got == EXPECTED[: victim.next_offset - 1]
    assert caught.value.path == str(victim.path)
    assert caught.value.position == cut_at
    scanned = reader.segments()[1]
    assert scanned.status.status is ScanStatus.CORRUPT
    assert not reader.verify().ok


def test_a_missing_segment_is_a_gap(rolled_log: Path) -> None:
    infos = LogReader(rolled_log).segments()
    infos[1].path.unlink()
    reader = LogReader(rolled_log)
    got: list[tuple[int, bytes]] = []
    with pytest.raises(CorruptionError) as caught:
        got.extend(reader.read())
    assert got == EXPECTED[: infos[0].next_offset]
    assert caught.value.path == str(infos[2].path)
    report = reader.verify()
    assert any("gap in the log" in problem for problem in report.problems)
    # Reading from after the gap is fine.
    assert list(reader.read(infos[2].first_offset)) == EXPECTED[infos[2].first_offset :]


def test_a_bad_header_is_reported_by_verify(rolled_log: Path) -> None:
    infos = LogReader(rolled_log).segments()
    data = bytearray(infos[2].path.read_bytes())
    data[0:8] = b"XXXXXXXX"
    infos[2].path.write_bytes(data)
    reader = LogReader(rolled_log)
    report = reader.verify()
    assert not report.ok
    assert report.segments[2].status.status is ScanStatus.CORRUPT
    with pytest.raises(CorruptionError) as caught:
        list(reader.read(infos[2].first_offset))
    assert caught.value.position == 0


def test_reading_below_the_first_offset_is_refused(rolled_log: Path) -> None:
    infos = LogReader(rolled_log).segments()
    infos[0].path.unlink()
    with pytest.raises(ValueError):
        LogReader(rolled_log).read(0)


@pytest.mark.trio
async def test_reading_a_live_log_sees_a_consistent_prefix(log_dir: Path) -> None:
    count = 3000
    log = Log.open(LogOptions(directory=log_dir, fsync="off", segment_bytes_max=2048))
    reader = LogReader(log_dir)
    seen: list[int] = []

    def read_prefix() -> int:
        records = list(reader.read())
        assert [offset for offset, _ in records] == list(range(len(records)))
        assert all(payload == payload_for(offset) for offset, payload in records)
        return len(records)

    async def write_all() -> None:
        for index in range(count):
            offset = log.append(payload_for(index))
            if index % 10 == 9:
                await log.wait_for(offset)
        written.set()

    async def read_while_writing() -> None:
        while not written.is_set():
            seen.append(await trio.to_thread.run_sync(read_prefix))

    written = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        async with trio.open_nursery() as both:
            both.start_soon(write_all)
            both.start_soon(read_while_writing)
        await log.close()
    assert len(seen) > 1
    assert seen == sorted(seen)
    assert read_prefix() == count
