#!/usr/bin/env python3
"""The Bolt SDK against redis-py (with hiredis) on redis-server: the same load, one run.

Theory of operation
-------------------
``scripts/vs_redis.py`` compares the servers through ``redis-benchmark``;
this compares what an application sees through its client library, so the
SDK's own cost counts (issue 16). It starts a ``redis-server`` (persistence
off) and a ``bolt`` daemon (``BOLT_WAL_FSYNC=batch``, no auth) on free ports,
then runs each test with ``--processes`` worker processes (default 4), each
with its own client: first against redis-server through ``redis.Redis``
(hiredis parser), then against Bolt through :class:`bolt.client.BoltClient`,
test by test and round by round, so both see the same machine.

Tests: sequential ``SET`` and ``GET`` (one round trip each), pipelines of
100 ``SET`` commands (``pipeline()``, one write each), and ``MSET`` of 100
keys. For each it prints both throughputs (commands per second; keys per
second for MSET), their ratio, and each client's own CPU per command (the
worker processes' user+system time: what the library costs the
application, apart from the server). The ratio reported is the median over
``--rounds`` rounds.

Usage::

    python scripts/vs_redis_sdk.py [--requests 20000] [--processes 4] [--rounds 3] [--json]

Needs ``redis-server`` on PATH and the ``redis`` and ``hiredis`` packages
(the ``[test]`` extra).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vs_redis import start_redis  # the same redis-server settings as the RESP comparison

from bolt.testing import BoltDaemon

TESTS = ("set", "get", "pipeline", "mset")
BATCH = 100  # commands per pipeline, keys per MSET
TARGETS = {"set": 0.9, "get": 0.9, "pipeline": 0.8, "mset": 0.5}  # least Bolt/Redis (issue 16)
VALUE = "v" * 16


def _client(kind: str, port: int) -> Any:
    if kind == "redis":
        import redis

        return redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
    from bolt.client import BoltClient

    return BoltClient("127.0.0.1", port)


def _run(kind: str, client: Any, test: str, count: int, worker: int) -> int:
    """Run ``count`` commands of ``test``; returns the keys written or read."""
    prefix = f"sdk:{worker}:"
    put = client.set if kind == "redis" else client.put
    if test == "set":
        for i in range(count):
            put(prefix + str(i % 1000), VALUE)
        return count
    if test == "get":
        get = client.get
        for i in range(count):
            get(prefix + str(i % 1000))
        return count
    if test == "pipeline":
        for start in range(0, count, BATCH):
            pipe = client.pipeline(transaction=False) if kind == "redis" else client.pipeline()
            setter = pipe.set if kind == "redis" else pipe.put
            for i in range(start, start + BATCH):
                setter(prefix + str(i % 1000), VALUE)
            pipe.execute()
        return count
    mapping = {f"{prefix}m{i}": VALUE for i in range(BATCH)}
    for _ in range(count // BATCH):
        client.mset(mapping)
    return count


def _worker(arguments: tuple[str, int, str, int, int, Any]) -> tuple[float, float, int]:
    """One process: ``(wall seconds, client CPU seconds, keys)`` of one test."""
    kind, port, test, count, worker, barrier = arguments
    client = _client(kind, port)
    _run(kind, client, test, min(count, 2 * BATCH), worker)  # warm: connect, keys exist
    barrier.wait()
    cpu_start = os.times()
    start = time.perf_counter()
    keys = _run(kind, client, test, count, worker)
    seconds = time.perf_counter() - start
    cpu_end = os.times()
    client.close()
    cpu = (cpu_end.user - cpu_start.user) + (cpu_end.system - cpu_start.system)
    return seconds, cpu, keys


def measure(kind: str, port: int, test: str, count: int, processes: int) -> dict[str, float]:
    """Run one test with ``processes`` workers; throughput and client CPU per command."""
    manager = multiprocessing.Manager()
    barrier = manager.Barrier(processes)
    with multiprocessing.Pool(processes) as pool:
        results = pool.map(
            _worker, [(kind, port, test, count, index, barrier) for index in range(processes)]
        )
    manager.shutdown()
    seconds = max(result[0] for result in results)
    keys = sum(result[2] for result in results)
    commands = keys // BATCH if test == "mset" else keys
    return {
        "per_second": keys / seconds,
        "client_cpu_us": sum(result[1] for result in results) / commands * 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="commands per process")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("-t", "--tests", default=",".join(TESTS))
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)
    tests = [test for test in options.tests.split(",") if test]
    runs: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = {t: [] for t in tests}
    with tempfile.TemporaryDirectory(prefix="bolt-vs-redis-sdk-") as scratch:
        (Path(scratch) / "redis").mkdir()
        redis_process, redis_port = start_redis(Path(scratch) / "redis")
        env = {"BOLT_WAL_FSYNC": "batch", "BOLT_AUTH": "false", "BOLT_LOG_LEVEL": "warning"}
        try:
            with BoltDaemon.start(Path(scratch) / "bolt", env=env, timeout=20) as daemon:
                for round_number in range(options.rounds):
                    for test in tests:
                        count = options.requests
                        mine = measure("redis", redis_port, test, count, options.processes)
                        bolt = measure("bolt", daemon.port, test, count, options.processes)
                        runs[test].append((mine, bolt))
                        print(
                            f"  round {round_number + 1}/{options.rounds} {test}: redis-py "
                            f"{mine['per_second']:,.0f}/s, Bolt SDK {bolt['per_second']:,.0f}/s",
                            file=sys.stderr,
                            flush=True,
                        )
        finally:
            redis_process.kill()
            redis_process.wait()
    rows = []
    for test in tests:
        pairs = runs[test]
        rows.append(
            {
                "test": test,
                "redis_per_second": statistics.median(r["per_second"] for r, _ in pairs),
                "bolt_per_second": statistics.median(b["per_second"] for _, b in pairs),
                "ratio": statistics.median(b["per_second"] / r["per_second"] for r, b in pairs),
                "redis_client_cpu_us": statistics.median(r["client_cpu_us"] for r, _ in pairs),
                "bolt_client_cpu_us": statistics.median(b["client_cpu_us"] for _, b in pairs),
                "target": TARGETS.get(test),
            }
        )
    if options.json:
        print(json.dumps(rows, indent=2))
        return 0
    unit = {"set": "SET/s", "get": "GET/s", "pipeline": "SET/s", "mset": "keys/s"}
    label = {"set": "SET", "get": "GET", "pipeline": f"{BATCH}-cmd pipeline", "mset": "MSET 100"}
    print(
        f"{'Test':<16} {'redis-py+hiredis':>18} {'Bolt SDK':>14} {'Bolt/Redis':>10} "
        f"{'client us/cmd redis':>20} {'Bolt':>8}  target"
    )
    for row in rows:
        met = "PASS" if row["ratio"] >= (row["target"] or 0) else "MISS"
        print(
            f"{label[row['test']]:<16} {row['redis_per_second']:>11,.0f} {unit[row['test']]:<6} "
            f"{row['bolt_per_second']:>14,.0f} {row['ratio']:>10.2f} "
            f"{row['redis_client_cpu_us']:>20.1f} {row['bolt_client_cpu_us']:>8.1f}  "
            f">= {row['target']} {met}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
