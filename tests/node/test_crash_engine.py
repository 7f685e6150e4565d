"""Crash safety at the engine level: SIGKILL loses no acknowledged write.

A child process opens an Engine on a data directory and writes every data
type in a loop (PUT, INCR, RPUSH, SADD, CINCR, an MSET of three keys, DEL);
after each ``await engine.execute(...)`` returns it prints a line describing
the acknowledged write. The parent kills it with SIGKILL at a random moment,
reopens the directory in-process and checks that every acknowledged write is
there: values at least as new as acknowledged, counters at least as high,
lists and sets holding every acknowledged element, every MSET all-or-nothing
(its three keys carry the same batch number), every acknowledged DEL done.

``always`` acknowledges after fsync; ``batch`` and ``off`` after the write
reached the OS -- a process crash (the OS survives) must lose nothing in any mode.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import trio

from bolt.node import EngineConfig, open_engine
from tests.state._support import assert_memory_exact

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import trio

    from bolt.node import EngineConfig, open_engine


    def say(line):
        sys.stdout.write(line + "\\n")
        sys.stdout.flush()


    async def main():
        config = EngineConfig(
            data_dir=Path(sys.argv[1]),
            fsync=sys.argv[2],
            shard_count=4,
            snapshot_interval_events=400,
            snapshot_interval_ms=200,
        )
        async with open_engine(config) as engine:
            say("READY")
            i = 0
            while True:
                i += 1
                await engine.execute("PUT", ["s", str(i)])
                say(f"PUT {i}")
                n = await engine.execute("INCR", ["n"])
                say(f"INCR {n}")
                await engine.execute("RPUSH", ["l", str(i)])
                say(f"RPUSH {i}")
                await engine.execute("SADD", ["t", str(i)])
                say(f"SADD {i}")
                c = await engine.execute("CINCR", ["c"])
                say(f"CINCR {c}")
                await engine.execute("MSET", ["m0", str(i), "m1", str(i), "m2", str(i)])
                say(f"MSET {i}")
                await engine.execute("PUT", [f"d{i}", "x"])
                await engine.execute("DEL", [f"d{i}"])
                say(f"DEL {i}")


    trio.run(main)
    """
)


def _run_and_kill(data: Path, fsync: str, kill_after: float, script: Path) -> list[str]:
    """Start the writer, SIGKILL it ``kill_after`` s after it is ready; its acked lines."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(data), fsync],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=str(data.parent),
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            if not raw.endswith(b"\n"):
                break  # a line cut by the kill was never fully acknowledged
            line = raw.decode().strip()
            if line == "READY":
                ready.set()
            else:
                lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not ready.wait(30):
            proc.kill()
            _, err = proc.communicate(timeout=10)
            raise AssertionError(f"the writer never became ready: {err.decode()[-2000:]}")
        time.sleep(kill_after)
        assert proc.poll() is None, "the writer died by itself"
        proc.kill()  # SIGKILL: no cleanup, no final flush or snapshot
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        reader.join(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == -9
    return lines


def _acknowledged(lines: list[str]) -> dict[str, list[int]]:
    acked: dict[str, list[int]] = {}
    for line in lines:
        what, number = line.split()
        acked.setdefault(what, []).append(int(number))
    return acked


async def _check_recovered(data: Path, acked: dict[str, list[int]]) -> None:
    async with open_engine(EngineConfig(data_dir=data, fsync="off", shard_count=4)) as engine:

        def get(command: str, *args: object) -> object:
            return engine.submit(command, list(args))[0]

        if acked.get("PUT"):
            assert int(str(get("GET", "s"))) >= max(acked["PUT"])
        if acked.get("INCR"):
            assert int(str(get("GET", "n"))) >= max(acked["INCR"])
        if acked.get("RPUSH"):
            pushed = [int(str(v)) for v in get("LRANGE", "l", 0, -1)]  # type: ignore[attr-defined]
            assert pushed == list(range(1, len(pushed) + 1))  # in order, no gap, no dup
            assert len(pushed) >= max(acked["RPUSH"])
        if acked.get("SADD"):
            members = {int(str(m)) for m in get("SMEMBERS", "t")}  # type: ignore[attr-defined]
            assert set(acked["SADD"]) <= members
        if acked.get("CINCR"):
            assert int(str(get("CGET", "c"))) >= max(acked["CINCR"])
        batches = [get("GET", f"m{k}") for k in range(3)]
        if acked.get("MSET"):
            assert batches[0] == batches[1] == batches[2], batches  # all or nothing
            assert int(str(batches[0])) >= max(acked["MSET"])
        else:
            assert len(set(batches)) == 1
        for number in acked.get("DEL", []):
            assert get("EXISTS", f"d{number}") is False
        assert_memory_exact(engine.keyspace)


@pytest.mark.parametrize("fsync", ["always", "batch", "off"])
@pytest.mark.parametrize("attempt", range(3))
def test_sigkill_loses_no_acknowledged_write(tmp_path: Path, fsync: str, attempt: int) -> None:
    rnd = random.Random(f"{fsync}-{attempt}")
    script = tmp_path / "writer.py"
    script.write_text(CHILD)
    data = tmp_path / "data"
    kill_after = 0.3 + rnd.random() * 1.2
    lines = _run_and_kill(data, fsync, kill_after, script)
    acked = _acknowledged(lines)
    assert len(lines) > 10, f"too few writes before the kill: {lines}"
    trio.run(_check_recovered, data, acked)
