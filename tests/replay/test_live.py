"""The replay tool on the directory of a running engine: read-only, undisturbing, tailing.

The engine runs in this process (trio); the tool runs as a separate real
process, as it would next to a daemon (LMDB also forbids opening one
environment twice in a process).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel

from bolt.node import Engine, EngineConfig, open_engine
from bolt.replay import EventFilter, Follower, open_data_dir

from .conftest import REPO


def _config(path: Path, **extra: Any) -> EngineConfig:
    options: dict[str, Any] = {
        "data_dir": path,
        "node_id": "live",
        "fsync": "off",
        "segment_bytes_max": 2048,
        "snapshot_interval_events": 10**12,
        "snapshot_interval_ms": 10**9,
    }
    options.update(extra)
    return EngineConfig(**options)


def _command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "bolt.cli.replay", *map(str, args)]


_ENV = dict(os.environ, PYTHONPATH=str(REPO))
_run = partial(trio.run_process, capture_stdout=True, capture_stderr=True, env=_ENV, check=False)
"""Run a command to completion, capturing its output, whatever its exit code."""


async def _writer(engine: Engine, first: int, count: int) -> None:
    for index in range(first, first + count):
        await engine.execute("PUT", [f"k{index:05d}", f"v{index}"])
        if index % 50 == 0:
            await trio.lowlevel.checkpoint()


def _assert_lock_still_held(data_dir: Path) -> None:
    fd = os.open(data_dir / "LOCK", os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


@pytest.mark.trio
async def test_state_info_and_verify_while_the_engine_writes_and_snapshots(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "live"
    config = _config(data_dir, snapshot_interval_events=300, snapshot_interval_ms=50)
    async with open_engine(config) as engine:
        await _writer(engine, 0, 1500)
        await engine.snapshot_now()  # trims the log: state must come from the snapshot
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_writer, engine, 1500, 1500)
            with trio.fail_after(60):
                state = await _run(_command("state", data_dir, "--json", "--use-snapshot"))
                info = await _run(_command("info", data_dir, "--json"))
                verify = await _run(_command("verify", data_dir, "--allow-torn-tail"))
        assert state.returncode == 0, state.stderr.decode()
        document = json.loads(state.stdout)
        keys = [k["key"] for k in document["keys"]]
        # A prefix of what was written, and at least what was written before it started.
        assert keys == [f"k{i:05d}" for i in range(len(keys))]
        assert len(keys) >= 1500
        assert all(k["value"] == f"v{int(k['key'][1:])}" for k in document["keys"])
        assert document["from_snapshot"] is True
        assert info.returncode == 0, info.stderr.decode()
        assert json.loads(info.stdout)["snapshot"]["shard_count"] == 64
        assert verify.returncode == 0, verify.stdout.decode() + verify.stderr.decode()
        _assert_lock_still_held(data_dir)
        # The engine is undisturbed: it still writes and reads.
        await engine.execute("PUT", ["after", "ok"])
        assert await engine.execute("GET", ["k02999"]) == "v2999"
        assert engine.statistics().failed is None


_SNAPSHOT_LOADER = """
import bisect, sys, time, zlib
from bolt.replay import open_data_dir
data_dir = open_data_dir(sys.argv[1])
assert data_dir.snapshot_in_use()
names = [f"k{i:05d}" for i in range(100_000)]
by_shard = {}
for i, name in enumerate(names):
    by_shard.setdefault(zlib.crc32(name.encode()) % 64, []).append(i)
loads, end = 0, time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    snapshot = data_dir.load_snapshot()
    for index, shard in snapshot.shards.items():
        # Key k<i> is the record at offset i: a consistent shard holds exactly the
        # keys of its own index written at or before the offset it covers.
        held = sorted(name for name, _data in shard.entries)
        offsets = by_shard[index]
        wanted = [names[i] for i in offsets[: bisect.bisect_right(offsets, shard.covered)]]
        assert held == wanted, (index, shard.covered, len(held), len(wanted))
    loads += 1
print(loads)
"""


@pytest.mark.trio
async def test_snapshot_reads_are_safe_while_the_engine_rewrites_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "busy"
    config = _config(data_dir, snapshot_interval_events=40, snapshot_interval_ms=10)
    async with open_engine(config) as engine:
        await _writer(engine, 0, 3000)
        await engine.snapshot_now()
        async with trio.open_nursery() as nursery:
            loader = partial(_run, [sys.executable, "-c", _SNAPSHOT_LOADER, str(data_dir), "3"])
            results: list[Any] = []

            async def load() -> None:
                results.append(await loader())
                nursery.cancel_scope.cancel()

            nursery.start_soon(load)
            index = 3000
            with trio.fail_after(60):
                while True:
                    await engine.execute("PUT", [f"k{index:05d}", f"v{index}"])
                    index += 1
    done = results[0]
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert int(done.stdout) > 10
    assert not open_data_dir(data_dir).snapshot_in_use()  # the engine has closed


@pytest.mark.trio
async def test_dump_follow_tails_a_live_log_across_segment_rolls(tmp_path: Path) -> None:
    data_dir = tmp_path / "tail"
    async with open_engine(_config(data_dir)) as engine:
        await _writer(engine, 0, 20)
        process = await trio.lowlevel.open_process(
            _command("dump", data_dir, "--follow", "--json", "--key", "k*"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_ENV,
        )
        try:
            seen: list[dict[str, Any]] = []
            buffer = b""
            with trio.fail_after(60):
                await _writer(engine, 20, 180)  # several 2 KiB segments
                assert process.stdout is not None
                while len(seen) < 200:
                    chunk = await process.stdout.receive_some(65536)
                    assert chunk, "the follower exited early"
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    seen.extend(json.loads(line) for line in lines if line)
            assert [e["key"] for e in seen] == [f"k{i:05d}" for i in range(200)]
            assert len(list((data_dir / "log").glob("*.seg"))) > 3
        finally:
            process.kill()
            await process.wait()


@pytest.mark.trio
async def test_follower_library_stops_when_asked(tmp_path: Path) -> None:
    data_dir = tmp_path / "follow"
    async with open_engine(_config(data_dir)) as engine:
        await _writer(engine, 0, 100)
        collected: list[int] = []
        done = trio.Event()

        def follow() -> None:
            follower = Follower(
                open_data_dir(data_dir),
                EventFilter(from_offset=10),
                poll_interval=0.01,
                should_stop=done.is_set,
            )
            for found in follower:
                collected.append(found.offset)
                if found.offset == 149:
                    trio.from_thread.run_sync(done.set)

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trio.to_thread.run_sync, follow)
                await _writer(engine, 100, 50)
                await done.wait()
        assert collected == list(range(10, 150))


def test_follow_stops_at_its_upper_bound(tmp_path: Path) -> None:
    data_dir = tmp_path / "bounded"

    async def write() -> None:
        # One big segment: closing snapshots, but never deletes the active segment.
        async with open_engine(_config(data_dir, segment_bytes_max=1 << 20)) as engine:
            await _writer(engine, 0, 60)

    trio.run(write)
    follower = Follower(open_data_dir(data_dir), EventFilter(from_offset=5, to_offset=40))
    assert [found.offset for found in follower] == list(range(5, 41))
    assert follower.clamped_from is None
