#!/usr/bin/env python3
"""Benchmark of the replay tool (issue 5's numbers): how fast it reads a big log.

Generates a log of at least ``--events`` events (default 550,000) by driving a
real Engine with a mixed workload — single-event commands (PUT, INCR, SADD,
RPUSH, LPOP, DEL, CINCR) and MSETs of 10 keys — then measures, on a copy of
the data directory:

* ``state``: rebuild of the whole state from offset 0 (read + CRC + decode +
  the engine's ``apply``) — the replay speed, in events per wall second and
  per CPU second (the stable figure on a shared machine);
* ``info``: the full-log description (segments, counts, version vector);
* ``dump``: streaming every event through a key filter, and rendering every
  event as a JSON line (to /dev/null), with the peak RSS growth of the
  streaming dump (memory must stay bounded);
* ``history``: the history of one hot key (whole log scanned).

Usage::

    python scripts/bench_replay.py                 # 550k events
    python scripts/bench_replay.py --events 1000000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bolt.node import Engine, EngineConfig, open_engine
from bolt.replay import EventFilter, describe, dump, history, open_data_dir, rebuild
from bolt.replay._render import event_json, write_json_line

MSET_KEYS = 10


async def _generate(work: Path, copy: Path, events: int) -> tuple[int, int]:
    """Write at least ``events`` events; copy the directory before close trims the log."""
    config = EngineConfig(
        data_dir=work,
        node_id="bench",
        fsync="off",
        segment_bytes_max=16 * 1024 * 1024,
        snapshot_interval_events=10**12,
        snapshot_interval_ms=10**9,
    )
    commands = 0
    async with open_engine(config) as engine:
        while engine.events_total < events:
            _round(engine, commands)
            commands += 1
            if commands % 2000 == 0:
                await trio.lowlevel.checkpoint()
        await engine.execute("PUT", ["last", "one"])
        shutil.copytree(work, copy)
        return engine.events_total, commands + 1


def _round(engine: Engine, index: int) -> None:
    """One command of the mixed workload (some log nothing: LPOP of an empty list)."""
    choice = index % 20
    key = f"key:{index % 100_000}"
    if choice < 10:
        engine.submit("PUT", [key, f"value-{index}"])
    elif choice == 10:
        engine.submit("INCR", [f"counter:{index % 1000}"])
    elif choice == 11:
        engine.submit("SADD", [f"set:{index % 1000}", f"m{index % 50}", f"n{index % 7}"])
    elif choice == 12:
        engine.submit("RPUSH", [f"list:{index % 100}", f"e{index}"])
    elif choice == 13:
        engine.submit("LPOP", [f"list:{(index + 50) % 100}"])
    elif choice == 14:
        engine.submit("DEL", [f"key:{(index * 7) % 100_000}"])
    elif choice == 15:
        engine.submit("CINCR", [f"crdt:{index % 100}"])
    else:
        pairs: list[str] = []
        for offset in range(MSET_KEYS):
            pairs += [f"mkey:{(index * MSET_KEYS + offset) % 200_000}", "v"]
        engine.submit("MSET", pairs)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _timed(function: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def _cpu_timed(function: Any) -> tuple[Any, float, float]:
    """Wall and CPU seconds: on a shared machine the CPU rate is the stable one."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def measure(copy: Path) -> dict[str, Any]:
    """Run every measurement on the data directory ``copy``."""
    data_dir = open_data_dir(copy)
    results: dict[str, Any] = {"log_bytes": data_dir.log_bytes()}

    rss_before = _rss_bytes()
    rss_peak = rss_before
    with open(os.devnull, "w") as sink:

        def json_dump() -> int:
            nonlocal rss_peak
            count = 0
            for found in dump(data_dir):
                write_json_line(sink, event_json(found.offset, found.index, found.event))
                count += 1
                if count % 50_000 == 0:
                    rss_peak = max(rss_peak, _rss_bytes())
            return count

        dumped, seconds = _timed(json_dump)
    results["dump_json_events_per_second"] = round(dumped / seconds)
    results["dump_rss_growth_bytes"] = rss_peak - rss_before

    matched, seconds = _timed(
        lambda: sum(1 for _ in dump(data_dir, EventFilter(key_glob="counter:1??")))
    )
    results["dump_filtered_events_per_second"] = round(dumped / seconds)
    results["dump_filtered_matches"] = matched

    info, seconds = _timed(lambda: describe(data_dir))
    results["info_events_per_second"] = round(info.events / seconds)

    steps, seconds = _timed(lambda: sum(1 for _ in history(data_dir, "", "counter:10")))
    results["history_events_scanned_per_second"] = round(dumped / seconds)
    results["history_key_events"] = steps

    state, seconds, cpu = _cpu_timed(lambda: rebuild(data_dir))
    results["events"] = state.events
    results["records"] = state.records
    results["state_seconds"] = round(seconds, 3)
    results["replay_events_per_second"] = round(state.events / seconds)
    results["replay_events_per_cpu_second"] = round(state.events / cpu)
    results["replay_records_per_second"] = round(state.records / seconds)
    results["keys"] = state.keyspace.key_count()
    results["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return results


def main() -> None:
    """Command line: generate, measure, print."""
    parser = argparse.ArgumentParser(description="benchmark the replay tool")
    parser.add_argument("--events", type=int, default=550_000, help="at least this many events")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bolt-bench-replay-"))
    try:
        started = time.perf_counter()
        written, commands = trio.run(_generate, root / "work", root / "copy", args.events)
        generated = time.perf_counter() - started
        results: dict[str, Any] = {"events_written": written, "commands": commands}
        results["generate_seconds"] = round(generated, 2)
        results.update(measure(root / "copy"))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(results))
    else:
        for name, value in results.items():
            print(f"{name:36} {value:>14,}" if isinstance(value, int) else f"{name:36} {value}")


if __name__ == "__main__":
    main()
