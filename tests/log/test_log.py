"""The Log: recovery, rolling, retention, durability modes, failures, crash safety."""

from __future__ import annotations

import itertools
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from crc32c import crc32c

import bolt
from bolt import limits
from bolt.errors import (
    BadRequestError,
    ConfigError,
    CorruptionError,
    ShuttingDownError,
    StorageError,
    TooLargeError,
)
from bolt.log import (
    SEGMENT_HEADER_BYTES,
    Log,
    LogOptions,
    LogReader,
    RecoveryReport,
    TornTail,
    encode_record,
    segment_file_name,
)
from bolt.log._record import RECORD_HEADER
from bolt.log._segment import encode_segment_header

from .conftest import payload_for, read_all, write_records


def segment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


# --- opening -----------------------------------------------------------------------


def test_open_creates_a_fresh_log(log_dir: Path) -> None:
    log = Log.open(LogOptions(directory=log_dir))
    try:
        assert (log_dir / segment_file_name(0)).read_bytes() == encode_segment_header()
        assert log.recovery == RecoveryReport(segments=1, records=0, torn_tail=None)
        assert (log.first_offset, log.next_offset) == (0, 0)
        assert (log.written_offset, log.durable_offset) == (0, 0)
        assert list(log.read(0)) == []
    finally:
        trio.run(log.close)


@pytest.mark.parametrize(
    "bad",
    [
        {"fsync": "sometimes"},
        {"flush_interval_ms": 0},
        {"batch_size": 0},
        {"segment_bytes_max": 16},
    ],
)
def test_invalid_options_are_refused(log_dir: Path, bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Log.open(LogOptions(directory=log_dir, **bad))


def test_a_second_open_of_the_same_directory_is_refused(log_dir: Path) -> None:
    log = Log.open(LogOptions(directory=log_dir))
    try:
        with pytest.raises(StorageError):
            Log.open(LogOptions(directory=log_dir))
    finally:
        trio.run(log.close)
    trio.run(Log.open(LogOptions(directory=log_dir)).close)


def test_reopen_continues_offsets(log_dir: Path) -> None:
    first = [payload_for(index) for index in range(10)]
    second = [payload_for(100 + index) for index in range(5)]
    assert write_records(log_dir, first) == list(range(10))
    assert write_records(log_dir, second) == list(range(10, 15))
    assert read_all(log_dir) == list(enumerate(first + second))
    log = Log.open(LogOptions(directory=log_dir))
    try:
        assert log.recovery == RecoveryReport(segments=1, records=15, torn_tail=None)
        assert log.next_offset == log.written_offset == log.durable_offset == 15
    finally:
        trio.run(log.close)


# --- torn tails and corruption ----------------------------------------------------------


def test_a_cut_at_every_byte_of_the_last_record_recovers_the_others(
    log_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    records = [payload_for(index) for index in range(5)]
    write_records(log_dir, records)
    path = log_dir / segment_file_name(0)
    original = path.read_bytes()
    last_start = len(original) - len(encode_record(records[-1]))
    caplog.set_level(logging.WARNING, logger="bolt.log")
    for cut in range(last_start, len(original)):
        path.write_bytes(original[:cut])
        caplog.clear()
        log = Log.open(LogOptions(directory=log_dir))
        try:
            assert log.next_offset == 4
            if cut == last_start:
                assert log.recovery.torn_tail is None
                assert not caplog.records
            else:
                assert log.recovery.torn_tail == TornTail(path, last_start, cut - last_start)
                assert "torn tail" in caplog.text
            assert path.stat().st_size == last_start
            assert [payload for _, payload in log.read(0)] == records[:4]
        finally:
            trio.run(log.close)
    # After recovery the log takes new records where the torn one was.
    assert write_records(log_dir, [b"after"]) == [4]
    assert read_all(log_dir)[-1] == (4, b"after")


def test_a_flipped_bit_in_the_last_complete_record_is_corruption_not_a_torn_tail(
    log_dir: Path,
) -> None:
    # A complete final record with a bad CRC was written whole (and probably
    # acknowledged): an interrupted append leaves a short record, never that.
    records = [payload_for(index) for index in range(5)]
    write_records(log_dir, records)
    path = log_dir / segment_file_name(0)
    original = path.read_bytes()
    last_start = len(original) - len(encode_record(records[-1]))
    rng = random.Random(1234)
    for byte in range(last_start + 4, len(original)):  # the CRC and the payload
        damaged = bytearray(original)
        damaged[byte] ^= 1 << rng.randrange(8)
        path.write_bytes(damaged)
        with pytest.raises(CorruptionError, match="complete but fails its checksum") as caught:
            Log.open(LogOptions(directory=log_dir))
        assert caught.value.path == str(path) and caught.value.position == last_start
    path.write_bytes(original)
    assert len(read_all(log_dir)) == 5  # nothing was changed by the refusals


def test_a_last_record_ending_in_unwritten_zero_blocks_is_a_torn_tail(log_dir: Path) -> None:
    records = [payload_for(index) for index in range(3)]
    write_records(log_dir, records)
    path = log_dir / segment_file_name(0)
    size = path.stat().st_size
    boundary = -(-(size + 8 + 100) // 512) * 512  # the record spans a block boundary
    length = boundary - size - 8 + 300
    written = b"w" * (boundary - size - 8)
    with path.open("ab") as file:  # header and first block written, the rest never was
        file.write(RECORD_HEADER.pack(length, crc32c(written + b"x" * 300)) + written)
        file.write(bytes(300))
    log = Log.open(LogOptions(directory=log_dir))
    try:
        assert log.next_offset == 3
        assert log.recovery.torn_tail is not None and log.recovery.torn_tail.position == size
    finally:
        trio.run(log.close)


def test_a_corrupt_middle_record_refuses_to_open(log_dir: Path) -> None:
    records = [payload_for(index) for index in range(10)]
    write_records(log_dir, records)
    path = log_dir / segment_file_name(0)
    data = bytearray(path.read_bytes())
    victim = SEGMENT_HEADER_BYTES + sum(len(encode_record(payload)) for payload in records[:3])
    data[victim + 12] ^= 0x10
    path.write_bytes(data)
    with pytest.raises(CorruptionError) as caught:
        Log.open(LogOptions(directory=log_dir))
    error = caught.value
    assert error.path == str(path)
    assert error.position == victim
    assert f"corrupt record in {path} at byte {victim}" in str(error)
    assert f"boltctl replay verify {log_dir.parent}`" in str(error)  # the data directory
    assert path.read_bytes() == data  # refused, not repaired

    got: list[bytes] = []
    with pytest.raises(CorruptionError) as from_reader:
        for _, payload in LogReader(log_dir).read():
            got.append(payload)
    assert got == records[:3]
    assert from_reader.value.position == victim
    assert from_reader.value.path == str(path)


def test_a_torn_segment_header_gets_a_fresh_one(log_dir: Path) -> None:
    write_records(log_dir, [payload_for(index) for index in range(3)])
    path = log_dir / segment_file_name(3)
    path.write_bytes(encode_segment_header()[:5])
    log = Log.open(LogOptions(directory=log_dir))
    try:
        assert log.recovery.torn_tail == TornTail(path, 0, 5)
        assert log.next_offset == 3
        assert path.read_bytes() == encode_segment_header()
    finally:
        trio.run(log.close)
    assert write_records(log_dir, [b"four"]) == [3]
    assert [offset for offset, _ in read_all(log_dir)] == [0, 1, 2, 3]


# --- segments, reading and retention ---------------------------------------------------


async def append_in_bursts(log: Log, payloads: list[bytes], seed: int = 7) -> None:
    """Append with the flusher running, in bursts of random size."""
    rng = random.Random(seed)
    index = 0
    while index < len(payloads):
        burst = payloads[index : index + rng.randint(1, 25)]
        offsets = [log.append(payload) for payload in burst]
        await log.wait_for(offsets[-1])
        index += len(burst)


def test_segments_roll_and_read_from_any_offset(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "log_index_interval_bytes", 100)  # use the offset index
    records = [payload_for(index) for index in range(300)]
    expected = list(enumerate(records))
    options = LogOptions(directory=log_dir, segment_bytes_max=1024)

    async def main() -> None:
        log = Log.open(options)
        async with trio.open_nursery() as nursery:
            await nursery.start(log.run)
            await append_in_bursts(log, records)
            assert any(segment.index_offsets for segment in log._writer.snapshot())
            for start in range(0, 300, 3):
                assert list(log.read(start)) == expected[start:]
            assert list(log.read(17, 150)) == expected[17:150]
            assert list(log.read(150, 151)) == expected[150:151]
            await log.close()

    trio.run(main)
    files = segment_files(log_dir)
    assert len(files) > 5
    infos = LogReader(log_dir).segments()
    largest_record = max(len(encode_record(payload)) for payload in records)
    for info, following in itertools.pairwise(infos):
        assert info.status.clean
        assert info.next_offset == following.first_offset
        assert info.path.name == segment_file_name(info.first_offset)
        assert 1024 <= info.bytes < 1024 + largest_record
    log = Log.open(options)
    try:
        assert log.recovery.segments == len(files)
        assert log.next_offset == 300
        for start in range(0, 300, 11):
            assert list(log.read(start)) == expected[start:]
    finally:
        trio.run(log.close)


def test_one_large_write_round_is_split_across_segments(log_dir: Path) -> None:
    records = [payload_for(index) for index in range(200)]
    write_records(log_dir, records, segment_bytes_max=512)  # one round, flushed at close
    report = LogReader(log_dir).verify()
    assert report.ok
    assert len(report.segments) > 5
    assert read_all(log_dir) == list(enumerate(records))


@pytest.mark.trio
async def test_read_sees_only_written_records(log_dir: Path) -> None:
    log = Log.open(LogOptions(directory=log_dir))
    for index in range(5):
        log.append(payload_for(index))
    assert list(log.read(0)) == []  # appended, not written yet
    await log.flush()
    log.append(b"buffered")
    assert [offset for offset, _ in log.read(0)] == [0, 1, 2, 3, 4]
    assert [offset for offset, _ in log.read(2, 4)] == [2, 3]
    assert list(log.read(9)) == []
    with pytest.raises(ValueError):
        log.read(-1)
    await log.close()


def test_drop_before_deletes_whole_old_segments(log_dir: Path) -> None:
    records = [payload_for(index) for index in range(200)]
    write_records(log_dir, records, segment_bytes_max=512)
    infos = LogReader(log_dir).segments()
    assert len(infos) > 4
    log = Log.open(LogOptions(directory=log_dir, segment_bytes_max=512))
    try:
        assert log.drop_before(0) == 0
        assert log.drop_before(infos[2].first_offset) == 2
        assert not infos[0].path.exists()
        assert not infos[1].path.exists()
        assert log.first_offset == infos[2].first_offset
        assert log.drop_before(infos[2].first_offset + 1) == 0
        with pytest.raises(ValueError):
            log.read(log.first_offset - 1)
        assert next(iter(log.read(log.first_offset))) == (
            infos[2].first_offset,
            records[infos[2].first_offset],
        )
        assert log.drop_before(10**9) == len(infos) - 3  # never the active segment
        assert segment_files(log_dir) == [infos[-1].path]
        assert log.first_offset == infos[-1].first_offset
        assert log.statistics().segments == 1
    finally:
        trio.run(log.close)
    log = Log.open(LogOptions(directory=log_dir))
    try:
        assert (log.first_offset, log.next_offset) == (infos[-1].first_offset, 200)
        assert log.recovery.records == 200 - infos[-1].first_offset
    finally:
        trio.run(log.close)


# --- durability modes -------------------------------------------------------------------


@pytest.mark.trio
async def test_always_mode_shares_fsyncs_between_concurrent_writers(log_dir: Path) -> None:
    log = Log.open(LogOptions(directory=log_dir, fsync="always"))
    acknowledged: list[int] = []

    async def writer(name: int) -> None:
        for counter in range(20):
            offset = log.append(f"{name}:{counter}".encode())
            await log.wait_for(offset)
            assert log.durable_offset > offset
            acknowledged.append(offset)

    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        async with trio.open_nursery() as writers:
            for name in range(50):
                writers.start_soon(writer, name)
        statistics = log.statistics()
        assert sorted(acknowledged) == list(range(1000))
        assert statistics.durable_offset == 1000
        assert 1 <= statistics.fsyncs_total <= 1000 // 5
        await log.close()


@pytest.mark.trio
async def test_batch_mode_fsyncs_every_batch_size_records(log_dir: Path) -> None:
    options = LogOptions(directory=log_dir, fsync="batch", batch_size=100, flush_interval_ms=60_000)
    log = Log.open(options)
    acknowledged_before_fsync = False
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        for index in range(1000):
            offset = log.append(payload_for(index))
            await log.wait_for(offset)
            assert log.written_offset > offset
            acknowledged_before_fsync |= log.durable_offset <= offset
        await trio.sleep(0.05)
        statistics = log.statistics()
        assert acknowledged_before_fsync
        assert 1 <= statistics.fsyncs_total <= 11
        assert statistics.written_offset - statistics.durable_offset < 100
        await log.close()
    assert log.durable_offset == 1000


async def wait_for_threads(condition: Callable[[], bool]) -> None:
    """Let worker threads finish while trio's (mock) clock stands still."""
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for a worker thread"
        await trio.lowlevel.checkpoint()


@pytest.mark.trio
async def test_batch_mode_fsyncs_after_the_flush_interval(
    log_dir: Path, mock_clock: trio.testing.MockClock
) -> None:
    log = Log.open(LogOptions(directory=log_dir, batch_size=10**6, flush_interval_ms=30))
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        offsets = [log.append(payload_for(index)) for index in range(5)]
        await log.wait_for(offsets[-1])
        await trio.testing.wait_all_tasks_blocked()
        mock_clock.jump(0.025)
        await trio.testing.wait_all_tasks_blocked()
        assert log.durable_offset == 0  # written, not yet due
        assert log.statistics().fsyncs_total == 0
        mock_clock.jump(0.010)
        await wait_for_threads(lambda: log.durable_offset == 5)
        assert log.statistics().fsyncs_total == 1
        await log.close()


@pytest.mark.trio
async def test_off_mode_fsyncs_only_at_close(log_dir: Path) -> None:
    log = Log.open(LogOptions(directory=log_dir, fsync="off", segment_bytes_max=512))
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        await append_in_bursts(log, [payload_for(index) for index in range(100)])
        await trio.sleep(0.05)
        assert log.written_offset == 100
        assert log.durable_offset == 0
        assert log.statistics().fsyncs_total == 0
        assert log.statistics().segments > 1
        await log.close()
    assert log.durable_offset == 100
    assert log.statistics().fsyncs_total == 1


@pytest.mark.trio
async def test_flush_works_without_the_flusher(log_dir: Path) -> None:
    log = Log.open(LogOptions(directory=log_dir, fsync="always"))
    offsets = [log.append(payload_for(index)) for index in range(10)]
    await log.flush()
    assert log.durable_offset == 10
    await log.wait_for(offsets[-1])
    assert [payload for _, payload in log.read(0)] == [payload_for(index) for index in range(10)]
    await log.close()


@pytest.mark.trio
async def test_statistics_move(log_dir: Path) -> None:
    log = Log.open(LogOptions(directory=log_dir))
    before = log.statistics()
    assert before.mode == "batch"
    assert before.records_appended_total == before.bytes_appended_total == 0
    assert before.fsyncs_total == 0
    assert before.fsync_latency_ms_p99 == 0.0
    assert before.bytes_on_disk == SEGMENT_HEADER_BYTES
    payloads = [b"a" * 10, b"b" * 20, b"c" * 30]
    for payload in payloads:
        log.append(payload)
    framed = sum(len(encode_record(payload)) for payload in payloads)
    middle = log.statistics()
    assert middle.records_appended_total == 3
    assert middle.bytes_appended_total == framed
    assert middle.next_offset == 3
    assert middle.written_offset == 0
    await log.flush()
    after = log.statistics()
    assert (after.written_offset, after.durable_offset) == (3, 3)
    assert after.bytes_on_disk == SEGMENT_HEADER_BYTES + framed
    assert after.fsyncs_total == 1
    assert after.fsync_seconds_total > 0
    assert after.fsync_latency_ms_p99 > 0
    assert after.segments == 1
    assert after.write_errors_total == 0
    await log.close()


@pytest.mark.trio
async def test_append_refuses_bad_payloads(log_dir: Path) -> None:
    class Huge(bytes):
        def __len__(self) -> int:
            return limits.record_bytes_max + 1

    log = Log.open(LogOptions(directory=log_dir))
    with pytest.raises(BadRequestError):
        log.append(b"")
    with pytest.raises(TooLargeError):
        log.append(Huge(b"x"))
    assert log.next_offset == 0
    with pytest.raises(ValueError):
        await log.wait_for(0)
    await log.close()


@pytest.mark.trio
async def test_close_stops_run_and_is_idempotent(log_dir: Path) -> None:
    log = Log.open(LogOptions(directory=log_dir))
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        with pytest.raises(RuntimeError):
            await nursery.start(log.run)
        offset = log.append(b"last words")
        await log.close()  # run() returns by itself, so the nursery exits
    await log.close()
    await log.wait_for(offset)
    with pytest.raises(ShuttingDownError):
        log.append(b"too late")
    assert list(LogReader(log_dir).read()) == [(0, b"last words")]


@pytest.mark.trio
async def test_a_cancelled_waiter_does_not_disturb_the_others(log_dir: Path) -> None:
    log = Log.open(LogOptions(directory=log_dir, fsync="always"))
    first = log.append(b"first")
    second = log.append(b"second")
    with trio.move_on_after(0.01):
        await log.wait_for(first)  # no flusher yet: times out
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        with trio.fail_after(5):
            await log.wait_for(second)
        await log.close()


# --- a real crash ------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import trio

    from bolt.log import Log, LogOptions


    async def main() -> None:
        options = LogOptions(directory=Path(sys.argv[1]), fsync="always", segment_bytes_max=16384)
        log = Log.open(options)
        async with trio.open_nursery() as nursery:
            await nursery.start(log.run)
            print("ready", log.next_offset, flush=True)

            async def writer(name: int) -> None:
                counter = 0
                while True:
                    payload = f"{name}:{counter}:".encode() * (1 + counter % 9)
                    offset = log.append(payload)
                    await log.wait_for(offset)
                    sys.stdout.write(f"{offset} {payload.hex()}\\n")
                    sys.stdout.flush()
                    counter += 1

            for name in range(8):
                nursery.start_soon(writer, name)


    trio.run(main)
    """
)


def run_child_until_killed(directory: Path, delay_seconds: float) -> list[bytes]:
    """Run the child, SIGKILL it after ``delay_seconds`` of writing, return its output lines."""
    root = Path(bolt.__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    lines: list[bytes] = []
    try:
        assert process.stdout is not None and process.stderr is not None
        ready = process.stdout.readline()
        if not ready.startswith(b"ready"):
            process.wait(timeout=10)
            pytest.fail(f"child did not start: {process.stderr.read().decode()}")
        reader = threading.Thread(target=lambda: lines.extend(process.stdout or []))
        reader.start()
        time.sleep(delay_seconds)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        reader.join(timeout=10)
        assert process.returncode == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    return lines


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_record(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    acknowledged: dict[int, bytes] = {}
    for _round in range(3):
        for line in run_child_until_killed(directory, rng.uniform(0.05, 0.4)):
            if line.endswith(b"\n"):  # the last line may be cut by the kill
                offset, payload = line.split()
                acknowledged[int(offset)] = bytes.fromhex(payload.decode())
        stored = dict(read_all(directory))
        missing = [
            offset for offset, payload in acknowledged.items() if stored.get(offset) != payload
        ]
        assert not missing, f"seed {seed}: acknowledged records lost or changed: {missing[:10]}"
        assert sorted(stored) == list(range(len(stored)))
    assert acknowledged, f"seed {seed}: the child acknowledged nothing"


@pytest.mark.trio
@pytest.mark.parametrize("mode", ["batch", "off"])
async def test_small_rounds_are_written_inline_without_the_flusher(
    log_dir: Path, mode: str
) -> None:
    """batch/off: wait_for writes a small round on the loop itself (no flusher, no thread)."""
    log = Log.open(LogOptions(log_dir, fsync=mode))  # type: ignore[arg-type]
    try:
        offset = log.append(b"inline")
        with trio.fail_after(1):
            await log.wait_for(offset)  # log.run() is not running: only the inline path can do it
        assert log.written_offset == offset + 1
        assert [p for _, p in LogReader(log_dir).read(0)] == [b"inline"]
        assert log.durable_offset == 0  # not fsynced: that stays in the background
    finally:
        await log.close()


@pytest.mark.trio
async def test_always_mode_never_acknowledges_before_fsync(log_dir: Path) -> None:
    """always: no inline shortcut — without the flusher nothing is acknowledged."""
    log = Log.open(LogOptions(log_dir, fsync="always"))
    try:
        offset = log.append(b"must-be-synced")
        with trio.move_on_after(0.2) as scope:
            await log.wait_for(offset)
        assert scope.cancelled_caught
        assert log.written_offset == 0
    finally:
        await log.close()


@pytest.mark.trio
async def test_a_round_that_would_roll_a_segment_is_not_written_inline(log_dir: Path) -> None:
    log = Log.open(LogOptions(log_dir, fsync="batch", segment_bytes_max=1024))
    try:
        offset = log.append(b"x" * 2000)  # larger than the segment: it must roll
        with trio.move_on_after(0.2) as scope:
            await log.wait_for(offset)
        assert scope.cancelled_caught  # left for the flusher's thread
        async with trio.open_nursery() as nursery:
            await nursery.start(log.run)
            with trio.fail_after(5):
                await log.wait_for(offset)
            nursery.cancel_scope.cancel()
        assert log.written_offset == offset + 1
    finally:
        await log.close()


@pytest.mark.trio
async def test_a_waiter_whose_round_must_roll_wakes_the_flusher_at_once(log_dir: Path) -> None:
    """Not written inline (it rolls a segment), the round goes to the flusher now,
    not at its next poll a whole flush interval later."""
    options = LogOptions(log_dir, fsync="batch", segment_bytes_max=1024, flush_interval_ms=30_000)
    log = Log.open(options)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(log.run)
            await trio.testing.wait_all_tasks_blocked()  # the flusher is idle, polling
            offset = log.append(b"x" * 2000)  # small, but over the segment: it must roll
            with trio.fail_after(2):
                await log.wait_for(offset)
            nursery.cancel_scope.cancel()
        assert log.written_offset == offset + 1
    finally:
        await log.close()


@pytest.mark.trio
async def test_batch_records_nobody_waits_for_are_written_within_the_interval(
    log_dir: Path,
) -> None:
    """The flusher is not woken per small append in batch mode; it polls instead."""
    log = Log.open(LogOptions(log_dir, fsync="batch", flush_interval_ms=20))
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(log.run)
            offset = log.append(b"unwaited")
            with trio.fail_after(2):
                while log.written_offset <= offset:
                    await trio.sleep(0.005)
            nursery.cancel_scope.cancel()
        assert [p for _, p in LogReader(log_dir).read(0)] == [b"unwaited"]
    finally:
        await log.close()


@pytest.mark.trio
async def test_a_waiter_behind_a_backlog_too_big_to_write_inline_is_answered(
    log_dir: Path,
) -> None:
    """The first round of a log is a thread round (the backlog is too big to
    write inline); a waiter that finds it about to start waits for it, not for
    an event no round will ever set (this hung before). Whether the waiter
    sees that moment depends on trio's scheduling order, so try a dozen logs."""
    payload = b"b" * 1000
    backlog = limits.wal_inline_write_bytes_max // len(payload) + 2
    for attempt in range(12):
        options = LogOptions(log_dir / str(attempt), fsync="batch", flush_interval_ms=30_000)
        log = Log.open(options)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(log.run)
                for _ in range(backlog):
                    log.append(payload)  # nobody waits for these
                offset = log.append(b"waited")
                with trio.fail_after(2):
                    await log.wait_for(offset)
                nursery.cancel_scope.cancel()
            assert log.written_offset == offset + 1
            assert log.statistics().rounds_threaded_total >= 1
        finally:
            await log.close()


@pytest.mark.trio
@pytest.mark.parametrize("mode", ["batch", "off"])
async def test_the_flusher_leaves_small_rounds_to_their_waiters(log_dir: Path, mode: str) -> None:
    """Under a steady load of small waited writes, with records nobody waits for
    always in the buffer too, every round is written inline: the flusher must
    not fall into back-to-back thread rounds just because the buffer is never
    empty (each costs the loop a hand-off to a worker thread)."""
    # A 1 ms poll: the flusher wakes often and finds the buffer non-empty.
    options = LogOptions(log_dir, fsync=mode, flush_interval_ms=1)  # type: ignore[arg-type]
    log = Log.open(options)
    writers, rounds_each = 20, 50
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(log.run)

            async def writer(index: int) -> None:
                for round_number in range(rounds_each):
                    log.append(b"unwaited")
                    offset = log.append(f"{index}:{round_number}".encode())
                    await log.wait_for(offset)

            with trio.fail_after(10):
                async with trio.open_nursery() as writers_nursery:
                    for index in range(writers):
                        writers_nursery.start_soon(writer, index)
            nursery.cancel_scope.cancel()
        statistics = log.statistics()
        assert statistics.written_offset == writers * rounds_each * 2
        assert statistics.rounds_threaded_total == 0
        assert statistics.rounds_inline_total >= rounds_each
    finally:
        await log.close()
