"""The engine across a log error: refused writes are never readable, writes resume by themselves.

Errors are injected at the os-call boundary of the log's writer (see
``tests/log/test_log_errors.py``), so the real log, engine and recovery run.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import trio

from bolt.errors import DiskError, FeedDroppedError
from bolt.log import _writer
from bolt.node import Engine, open_engine
from tests.log.test_log_errors import FaultyOs

from ._support import config


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> FaultyOs:
    proxy = FaultyOs()
    monkeypatch.setattr(_writer, "os", proxy)
    return proxy


async def wait_until_writable(engine: Engine) -> None:
    with trio.fail_after(15):
        while not engine.ready:
            await trio.sleep(0.02)


@pytest.mark.trio
@pytest.mark.parametrize("fsync", ["always", "batch"])
async def test_a_write_answered_disk_error_is_never_readable(
    tmp_path: Path, faults: FaultyOs, fsync: str
) -> None:
    async with open_engine(config(tmp_path / "data", fsync=fsync)) as engine:
        await engine.execute("PUT", ["kept", "1"])
        await engine.execute("RPUSH", ["list", "a"])
        faults.fail["write"] = errno.ENOSPC
        faults.fail["fdatasync"] = errno.ENOSPC
        with pytest.raises(DiskError):
            await engine.execute("PUT", ["kept", "2"])
        # Right after the refusal: nothing of it can be read (the views are
        # being rebuilt; every command is refused meanwhile) ...
        for command, args in (("GET", ["kept"]), ("LRANGE", ["list", 0, -1])):
            try:
                reply, _ = engine.submit(command, args)
            except DiskError:
                continue
            assert reply in ("1", ["a"])
        assert not engine.ready
        # ... and once rebuilt, reads answer from what the log acknowledged.
        with trio.fail_after(10):
            while True:
                try:
                    reply, _ = engine.submit("GET", ["kept"])
                    break
                except DiskError:
                    await trio.sleep(0.02)
        assert reply == "1"
        with pytest.raises(DiskError):  # writes wait for the log
            await engine.execute("PUT", ["kept", "3"])
        assert engine.statistics().failed is not None
        faults.clear()
        await wait_until_writable(engine)
        await engine.execute("PUT", ["after", "x"])
        await engine.execute("RPUSH", ["list", "b"])
        assert await engine.execute("GET", ["kept"]) == "1"
        assert await engine.execute("LRANGE", ["list", 0, -1]) == ["a", "b"]
        assert engine.statistics().failed is None
        seq = engine.statistics().seq
    # After a restart the same: the refused write never reached the log.
    async with open_engine(config(tmp_path / "data", fsync=fsync)) as engine:
        assert await engine.execute("GET", ["kept"]) == "1"
        assert await engine.execute("GET", ["after"]) == "x"
        assert await engine.execute("LRANGE", ["list", 0, -1]) == ["a", "b"]
        assert engine.statistics().seq == seq  # no seq was skipped: no gap in the dots
        assert engine.version_vector()[engine.origin] == seq


@pytest.mark.trio
async def test_a_change_feed_subscriber_is_told_to_reread_from_the_first_refused_record(
    tmp_path: Path, faults: FaultyOs
) -> None:
    async with open_engine(config(tmp_path / "data", fsync="always")) as engine:
        await engine.execute("PUT", ["a", "1"])
        with engine.feed.subscribe(capacity=100) as subscription:
            faults.fail["write"] = errno.ENOSPC
            _, offset = engine.submit("PUT", ["b", "2"])
            with pytest.raises(DiskError):
                await engine.wait_durable(offset)
            faults.clear()
            await wait_until_writable(engine)
            with pytest.raises(FeedDroppedError) as caught:
                with trio.fail_after(5):
                    while True:
                        await subscription.receive()
            assert caught.value.resume_offset == offset
