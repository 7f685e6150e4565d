#!/usr/bin/env python3
"""In-process benchmark of the core engine (issue 2's numbers).

Measures, in one run on this machine:

1. SET throughput with ``BOLT_WAL_FSYNC=batch``: one writer driving
   ``Engine.submit`` (the engine alone, one core), and 50 concurrent trio tasks
   each awaiting durability (``execute``) the way the server does.
2. SET throughput with ``always`` under 50 concurrent writers (group commit):
   ops/s and fsyncs/s.
3. Replay speed and recovery time for N keys without a snapshot (log only)
   and with one.
4. Memory per key for N small string keys: process RSS growth and the
   engine's own estimate, against the raw bytes of keys and values.

With ``--instructions`` it measures instead what does not depend on the
machine's load: **instructions per operation** (SET, GET, INCR, MSET per key,
MGET per key, LPUSH, SADD), counted by ``valgrind --tool=callgrind``. Each
operation runs in a fresh in-process engine twice, with a small and a large
number of repetitions; the difference divided by the difference in
repetitions is the cost of one operation, start-up and interpreter set-up
cancelled out. ``engine`` is the engine alone (``persist=False``); ``+log``
adds the log (a temporary data directory, ``BOLT_WAL_FSYNC=off``): every
record is framed and buffered, and every 16 operations the workload awaits
``wait_durable`` as a server does once per batch, so the write(2) and the
scheduling are counted too, shared by 16. Counts are
instructions, not seconds: the same on an idle and a loaded machine for the
same Python, inputs and code. Needs ``valgrind`` (Debian package).

Usage::

    python scripts/bench_engine.py            # 1M keys for recovery/memory
    python scripts/bench_engine.py --keys 200000 --json
    python scripts/bench_engine.py --instructions            # every operation
    python scripts/bench_engine.py --instructions set incr   # some
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bolt.node import Engine, EngineConfig, open_engine


def rss_bytes() -> int:
    """Resident set size of this process (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def config(path: Path, fsync: str, **extra: Any) -> EngineConfig:
    return EngineConfig(
        data_dir=path,
        node_id="bench",
        fsync=fsync,
        snapshot_interval_events=10**12,
        snapshot_interval_ms=10**9,
        **extra,
    )


async def set_single_writer(path: Path, count: int) -> float:
    """Ops/s of one writer calling submit() back to back (batch mode)."""
    async with open_engine(config(path, "batch")) as engine:
        submit = engine.submit
        value = "v" * 16
        started = time.perf_counter()
        offset = -1
        for i in range(count):
            _, offset = submit("PUT", [f"key:{i}", value])
        await engine.wait_durable(offset)
        return count / (time.perf_counter() - started)


async def set_concurrent(path: Path, fsync: str, writers: int, per_writer: int) -> dict[str, float]:
    """Ops/s (and fsyncs/s) of ``writers`` tasks each awaiting every write."""
    async with open_engine(config(path, fsync)) as engine:
        value = "v" * 16
        before = engine.statistics().log
        assert before is not None

        async def writer(index: int) -> None:
            execute = engine.execute
            for i in range(per_writer):
                await execute("PUT", [f"w{index}:{i}", value])

        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for index in range(writers):
                nursery.start_soon(writer, index)
        elapsed = time.perf_counter() - started
        after = engine.statistics().log
        assert after is not None
        fsyncs = after.fsyncs_total - before.fsyncs_total
        return {
            "ops_per_s": writers * per_writer / elapsed,
            "fsyncs_per_s": fsyncs / elapsed,
            "writes_per_fsync": writers * per_writer / max(fsyncs, 1),
        }


async def load_keys(path: Path, count: int) -> dict[str, float]:
    """Write ``count`` small keys; return raw bytes and memory figures."""
    gc.collect()
    rss_before = rss_bytes()
    async with open_engine(config(path, "off")) as engine:
        submit = engine.submit
        raw = 0
        offset = -1
        for i in range(count):
            key = f"key:{i:08d}"
            value = f"value-{i:08d}"
            raw += len(key) + len(value)
            _, offset = submit("PUT", [key, value])
        await engine.wait_durable(offset)
        gc.collect()
        rss_after = rss_bytes()
        estimate = engine.statistics().memory_used_bytes
        started = time.perf_counter()
        await engine.snapshot_now()
        snapshot_seconds = time.perf_counter() - started
    return {
        "raw_bytes_per_key": raw / count,
        "rss_bytes_per_key": (rss_after - rss_before) / count,
        "estimated_bytes_per_key": estimate / count,
        "snapshot_write_s": snapshot_seconds,
    }


def recover(path: Path) -> dict[str, float]:
    """Open (recover) the engine in ``path`` and report how long it took."""

    async def run() -> dict[str, float]:
        started = time.perf_counter()
        engine = await Engine.open(config(path, "off"))
        elapsed = time.perf_counter() - started
        stats = engine.recovery
        assert stats is not None
        keys = engine.keyspace.key_count()
        await engine.close(final_snapshot=False)
        return {
            "keys": keys,
            "recovery_s": elapsed,
            "replayed_events": stats.replayed_events,
            "replay_events_per_s": stats.replayed_events / stats.replay_seconds
            if stats.replay_seconds
            else 0.0,
            "snapshot_load_s": stats.snapshot_seconds,
        }

    return trio.run(run)


# --- instructions per operation (valgrind) -----------------------------------------

WORKLOAD = """
import sys, tempfile, trio
from pathlib import Path
from bolt.node import Engine, EngineConfig
op, n, with_log = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "log"
pairs = []
for i in range(100):
    pairs += [f"key:{i:06d}", "v" * 16]
async def main(data_dir):
    if with_log:
        config = EngineConfig(data_dir=Path(data_dir), node_id="bench", fsync="off",
                              snapshot_interval_events=10**12, snapshot_interval_ms=10**9)
    else:
        config = EngineConfig(persist=False, data_dir=None)
    engine = await Engine.open(config)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        submit = engine.submit
        offset = -1
        for r in range(n):
            if op == "set":
                offset = submit("SET", [f"k{r % 1000}", "v" * 16])[1]
            elif op == "get":
                submit("GET", [f"k{r % 1000}"])
            elif op == "incr":
                offset = submit("INCR", [f"c{r % 1000}"])[1]
            elif op == "mset-key":
                offset = submit("MSET", list(pairs))[1]
            elif op == "mget-key":
                submit("MGET", pairs[::2])
            elif op == "lpush":
                offset = submit("LPUSH", [f"l{r % 100}", "x"])[1]
            elif op == "sadd":
                offset = submit("SADD", [f"s{r % 100}", f"m{r}"])[1]
            if r % 16 == 15:  # as a server does once per batch of a pipeline of 16
                await engine.wait_durable(offset)
        nursery.cancel_scope.cancel()
    await engine.close(final_snapshot=False)
with tempfile.TemporaryDirectory() as scratch:
    trio.run(main, scratch)
"""

OPERATIONS = {  # name: (small, large, operations per repetition)
    "set": (1_000, 6_000, 1),
    "get": (1_000, 6_000, 1),
    "incr": (1_000, 6_000, 1),
    "lpush": (1_000, 6_000, 1),
    "sadd": (1_000, 6_000, 1),
    "mset-key": (20, 120, 100),
    "mget-key": (20, 120, 100),
}
"""Operations ``--instructions`` counts; ``-key`` ones are per key of a 100-key request."""


def count_instructions(script: Path, operation: str, repetitions: int, mode: str) -> int:
    """Instructions valgrind counts for ``repetitions`` of ``operation`` (mode engine/log)."""
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, str(script), operation, str(repetitions), mode],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent)),
    )  # fmt: skip
    match = re.search(r"refs:\s+([\d,]+)", result.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{result.stderr}")
    return int(match.group(1).replace(",", ""))


def instructions(operations: list[str], *, quiet: bool) -> dict[str, dict[str, int]]:
    """``{operation: {"engine": n, "log": n}}``: instructions per operation."""
    results: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "workload.py"
        script.write_text(WORKLOAD)
        for operation in operations:
            small, large, per = OPERATIONS[operation]
            row: dict[str, int] = {}
            for mode in ("engine", "log"):
                low = count_instructions(script, operation, small, mode)
                high = count_instructions(script, operation, large, mode)
                row[mode] = (high - low) // ((large - small) * per)
            results[operation] = row
            if not quiet:
                print(
                    f"{operation:10} {row['engine']:>9,} instructions per operation (engine), "
                    f"{row['log']:>9,} (+log)",
                    flush=True,
                )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--instructions",
        nargs="*",
        metavar="OP",
        choices=[*OPERATIONS, []],
        help=f"count instructions per operation with valgrind instead ({', '.join(OPERATIONS)})",
    )
    parser.add_argument("--keys", type=int, default=1_000_000, help="keys for recovery/memory")
    parser.add_argument("--ops", type=int, default=300_000, help="SETs for the throughput runs")
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.instructions is not None:
        if shutil.which("valgrind") is None:
            sys.exit("valgrind is not installed (apt-get install valgrind)")
        counted = instructions(args.instructions or list(OPERATIONS), quiet=args.json)
        if args.json:
            print(json.dumps(counted, indent=2))
        return
    gc.set_threshold(50_000, 20, 20)  # what the `bolt` daemon runs with (bolt/cli/daemon.py)
    results: dict[str, Any] = {}
    root = Path(tempfile.mkdtemp(prefix="bolt-bench-"))
    try:
        results["set_batch_single_writer_ops_per_s"] = trio.run(
            set_single_writer, root / "single", args.ops
        )
        per_writer = max(args.ops // args.writers, 1)
        results["set_batch_concurrent"] = trio.run(
            set_concurrent, root / "batch", "batch", args.writers, per_writer
        )
        results["set_always_concurrent"] = trio.run(
            set_concurrent, root / "always", "always", args.writers, max(per_writer // 5, 1)
        )
        data = root / "recovery"
        results["memory"] = trio.run(load_keys, data, args.keys)
        results["recovery_with_snapshot"] = recover(data)
        shutil.rmtree(data / "snapshot")
        results["recovery_log_only"] = recover(data)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        "SET, batch, one writer (submit):     "
        f"{results['set_batch_single_writer_ops_per_s']:>12,.0f} ops/s"
    )
    b = results["set_batch_concurrent"]
    print(f"SET, batch, {args.writers} writers (execute):  {b['ops_per_s']:>12,.0f} ops/s")
    a = results["set_always_concurrent"]
    print(
        f"SET, always, {args.writers} writers:          {a['ops_per_s']:>12,.0f} ops/s, "
        f"{a['fsyncs_per_s']:,.0f} fsyncs/s ({a['writes_per_fsync']:.1f} writes per fsync)"
    )
    lo = results["recovery_log_only"]
    ws = results["recovery_with_snapshot"]
    print(
        f"replay (log only):                   {lo['replay_events_per_s']:>12,.0f} events/s; "
        f"recovery of {lo['keys']:,} keys in {lo['recovery_s']:.2f} s"
    )
    print(
        f"recovery with a snapshot:            {ws['recovery_s']:>12.2f} s "
        f"(snapshot load {ws['snapshot_load_s']:.2f} s)"
    )
    m = results["memory"]
    print(
        f"memory per key:                      {m['rss_bytes_per_key']:>12.0f} B RSS, "
        f"{m['estimated_bytes_per_key']:.0f} B estimated, raw data {m['raw_bytes_per_key']:.0f} B"
    )


if __name__ == "__main__":
    main()
