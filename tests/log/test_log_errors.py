"""Write and fsync errors: refused, cut back off the files, cleared by the log itself.

Errors are injected at the os-call boundary of :mod:`bolt.log._writer` (its
``os`` module is swapped for a proxy that fails the chosen calls), so the
log's own code -- partial writes included -- runs as it would on a full disk.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
import trio

from bolt.errors import DiskError
from bolt.log import Log, LogOptions, LogReader, _writer


class FaultyOs:
    """``os`` with injectable failures: ``fail[name] = errno`` fails every call of it.

    ``partial_write`` lets the next ``write`` write only that many bytes
    (then it fails with ENOSPC): the half-written record a full disk leaves.
    """

    def __init__(self) -> None:
        self.fail: dict[str, int] = {}
        self.partial_write: int | None = None
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        real = getattr(os, name)
        if not callable(real):
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            if name == "write" and self.partial_write is not None:
                count, self.partial_write = self.partial_write, None
                os.write(args[0], bytes(args[1][:count]))
                self.fail["write"] = errno.ENOSPC
                return count
            code = self.fail.get(name)
            if code is not None:
                raise OSError(code, f"injected: {os.strerror(code)}")
            return real(*args, **kwargs)

        return call

    def clear(self) -> None:
        """The condition clears (the disk has room again)."""
        self.fail.clear()
        self.partial_write = None


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> FaultyOs:
    proxy = FaultyOs()
    monkeypatch.setattr(_writer, "os", proxy)
    return proxy


def segments_in(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


async def wait_healthy(log: Log) -> None:
    with trio.fail_after(10):
        await log.wait_healthy()


@pytest.mark.trio
@pytest.mark.parametrize("mode", ["batch", "always", "off"])
async def test_a_full_disk_refuses_writes_then_the_log_recovers_by_itself(
    log_dir: Path, faults: FaultyOs, mode: str
) -> None:
    log = Log.open(LogOptions(directory=log_dir, fsync=mode))  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        good = log.append(b"good")
        await log.wait_for(good)
        faults.fail["write"] = errno.ENOSPC
        doomed = log.append(b"doomed")
        with pytest.raises(DiskError, match="No space left"):
            await log.wait_for(doomed)
        with pytest.raises(DiskError):
            log.append(b"refused meanwhile")
        assert log.statistics().failure is not None
        await log.wait_for(good)  # acknowledged before the error: still acknowledged
        await trio.sleep(0.3)  # tries to clear the error fail while the disk is full
        assert log.failure is not None
        with pytest.raises(DiskError):
            log.append(b"still refused")
        faults.clear()
        await wait_healthy(log)
        after = log.append(b"after")
        await log.wait_for(after)
        assert after == doomed  # the refused record's offset is reused: it is not on disk
        stats = log.statistics()
        assert stats.failure is None and stats.recoveries_total == 1
        await log.close()
    assert list(LogReader(log_dir).read()) == [(0, b"good"), (1, b"after")]


@pytest.mark.trio
async def test_a_partial_write_is_cut_off_before_writes_resume(
    log_dir: Path, faults: FaultyOs
) -> None:
    log = Log.open(LogOptions(directory=log_dir, fsync="always"))
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        await log.wait_for(log.append(b"good"))
        size = (log_dir / "00000000000000000000.seg").stat().st_size
        faults.partial_write = 5
        doomed = log.append(b"half of this reaches the disk")
        with pytest.raises(DiskError):
            await log.wait_for(doomed)
        segment = segments_in(log_dir)[0]
        assert segment.stat().st_size == size + 5  # the partial record is on disk
        faults.clear()
        await wait_healthy(log)
        assert segment.stat().st_size == size  # ... and cut off by the log itself
        await log.wait_for(log.append(b"next"))
        await log.close()
    reopened = Log.open(LogOptions(directory=log_dir))
    assert reopened.recovery.torn_tail is None  # nothing left for the next open to repair
    assert list(reopened.read(0)) == [(0, b"good"), (1, b"next")]
    await reopened.close()


@pytest.mark.trio
async def test_records_written_but_not_fsynced_in_always_mode_are_never_kept(
    log_dir: Path, faults: FaultyOs
) -> None:
    log = Log.open(LogOptions(directory=log_dir, fsync="always"))
    failures: list[int] = []

    async def writer(name: int) -> None:
        offset = log.append(f"writer {name}".encode())
        with pytest.raises(DiskError):
            await log.wait_for(offset)
        failures.append(name)

    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        await log.wait_for(log.append(b"good"))
        faults.fail["fdatasync"] = errno.EIO
        async with trio.open_nursery() as writers:
            for name in range(10):
                writers.start_soon(writer, name)
        assert sorted(failures) == list(range(10))
        faults.clear()
        await wait_healthy(log)
        await log.close()
    # The ten records reached the file before the fsync failed; they were
    # answered DiskError, so they must not come back at the next open.
    assert list(LogReader(log_dir).read()) == [(0, b"good")]


@pytest.mark.trio
async def test_a_failed_fsync_in_batch_mode_refuses_writes_until_it_clears(
    log_dir: Path, faults: FaultyOs
) -> None:
    log = Log.open(LogOptions(directory=log_dir, fsync="batch", batch_size=1))
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        faults.fail["fdatasync"] = errno.EIO
        offset = log.append(b"written, not yet synced")
        await log.wait_for(offset)  # batch acknowledges the write
        with trio.fail_after(5):
            await log.wait_failure()
        with pytest.raises(DiskError):
            log.append(b"refused")
        faults.clear()
        await wait_healthy(log)
        assert log.durable_offset == 1  # the recovery fsynced what was acknowledged
        await log.wait_for(log.append(b"accepted again"))
        await log.close()
    assert [p for _, p in LogReader(log_dir).read()] == [
        b"written, not yet synced",
        b"accepted again",
    ]


@pytest.mark.trio
async def test_emfile_when_rolling_a_segment_is_cleared_too(
    log_dir: Path, faults: FaultyOs
) -> None:
    log = Log.open(LogOptions(directory=log_dir, fsync="always", segment_bytes_max=256))
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        for index in range(3):
            await log.wait_for(log.append(b"%d" % index * 100))
        segments = segments_in(log_dir)
        faults.fail["open"] = errno.EMFILE
        doomed = log.append(b"x" * 100)
        with pytest.raises(DiskError, match="Too many open files"):
            await log.wait_for(doomed)
        await trio.sleep(0.3)
        assert log.statistics().retries_failed_total >= 1  # opening still fails
        faults.clear()
        await wait_healthy(log)
        assert segments_in(log_dir) == segments
        for index in range(3, 6):
            await log.wait_for(log.append(b"%d" % index * 100))
        await log.close()
    assert [p[:1] for _, p in LogReader(log_dir).read()] == [b"%d" % i for i in range(6)]


@pytest.mark.trio
async def test_an_error_in_a_round_that_rolled_a_segment_removes_the_new_segment(
    log_dir: Path, faults: FaultyOs
) -> None:
    log = Log.open(LogOptions(directory=log_dir, fsync="always", segment_bytes_max=256))
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        await log.wait_for(log.append(b"a" * 200))
        before = segments_in(log_dir)
        faults.fail["write"] = errno.ENOSPC  # the header of the new segment fails
        for payload in (b"b" * 200, b"c" * 200):
            offset = log.append(payload)
        with pytest.raises(DiskError):
            await log.wait_for(offset)
        faults.clear()
        await wait_healthy(log)
        assert segments_in(log_dir) == before
        await log.wait_for(log.append(b"d" * 200))
        await log.close()
    assert [p[:1] for _, p in LogReader(log_dir).read()] == [b"a", b"d"]


@pytest.mark.trio
async def test_close_while_failed_returns_and_stops_run(log_dir: Path, faults: FaultyOs) -> None:
    log = Log.open(LogOptions(directory=log_dir, fsync="always"))
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await nursery.start(log.run)
            faults.fail["write"] = errno.ENOSPC
            with pytest.raises(DiskError):
                await log.wait_for(log.append(b"doomed"))
            await log.close()  # run() returns: the nursery exits
    assert list(LogReader(log_dir).read()) == []
