#!/usr/bin/env python3
"""The workload of ``scripts/bench_tasks.py`` on Celery with a Redis broker.

Starts ``redis-server`` (from the OS packages) on a free port and a Celery
worker (``--pool threads --concurrency N``: N agents) in a temporary
directory, then measures the same two numbers: tasks/s end to end for
``--tasks`` no-op tasks sent at once and waited for (results in Redis), and
dispatch latency (send to task start) at ``--rate`` tasks/s. Imported by
``bench_tasks.py --celery`` so both run in one invocation and are quoted as a
ratio; runnable alone too::

    python scripts/bench_tasks_celery.py --agents 10 --tasks 10000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

APP = """
import time
from celery import Celery

app = Celery("bench", broker="{url}", backend="{url}")
app.conf.worker_prefetch_multiplier = 1
app.conf.task_acks_late = True


@app.task
def noop(sent):
    return time.time() - sent if sent else 0.0
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_celery(agents: int, tasks: int, latency_tasks: int, rate: float) -> dict[str, Any]:
    """One agent count on a fresh redis-server and Celery worker."""
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    directory = Path(tempfile.mkdtemp(prefix="bench-celery-"))
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    (directory / "bench_app.py").write_text(APP.format(url=url))
    redis = subprocess.Popen(
        [redis_server, "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(directory)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bench_app", "worker", "--pool", "threads",
         "--concurrency", str(agents), "--loglevel", "WARNING", "--without-heartbeat",
         "--without-gossip", "--without-mingle"],
        cwd=directory, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # its shutdown must not signal our process group
    )  # fmt: skip
    sys.path.insert(0, str(directory))
    try:
        import bench_app  # type: ignore[import-not-found]

        bench_app.noop.delay(0).get(timeout=60)  # the worker is up
        started = time.perf_counter()
        results = [bench_app.noop.delay(0) for _ in range(tasks)]
        for result in results:
            result.get(timeout=600)
        tasks_per_second = tasks / (time.perf_counter() - started)
        interval = 1 / rate
        next_at = time.perf_counter()
        pending = []
        for _ in range(latency_tasks):
            pending.append(bench_app.noop.delay(time.time()))
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
        latencies = [r.get(timeout=60) for r in pending]
    finally:
        sys.path.remove(str(directory))
        sys.modules.pop("bench_app", None)
        worker.terminate()
        worker.wait(30)
        redis.terminate()
        redis.wait(30)
        shutil.rmtree(directory, ignore_errors=True)
    return {
        "agents": agents,
        "tasks": tasks,
        "tasks_per_second": round(tasks_per_second),
        "dispatch_p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
        "dispatch_p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
    }


def main() -> None:
    """Run alone: one agent count, printed as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--latency-tasks", type=int, default=500)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    print(json.dumps(run_celery(args.agents, args.tasks, args.latency_tasks, args.rate)))


if __name__ == "__main__":
    main()
