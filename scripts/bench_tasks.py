#!/usr/bin/env python3
"""End-to-end benchmark of task coordination (issue 13's numbers).

For each agent count (default 1, 10, 50) a fresh daemon is started and the
agents subscribe from separate processes (``--procs``, so the creator and
the agents do not share one GIL); then:

1. **throughput**: ``--tasks`` tasks are created in pipelines of 500 and the
   clock stops when the last one is completed (created → claimed →
   callback → completed): tasks/s end to end;
2. **dispatch latency** at moderate load: ``--latency-tasks`` tasks created
   one at a time at ``--rate`` per second; the latency is from just before
   ``create_task`` to the start of the callback in the agent process
   (same machine, same clock): p50 and p99.

``--engine`` measures the engine alone instead, in process (no network, no
clients): ``TASK.CREATE`` per second, then ``TASK.CLAIM`` + ``TASK.COMPLETE``
pairs per second, with ``BOLT_WAL_FSYNC=off`` -- what the task commands
themselves cost.

With ``--celery`` the same workload also runs on Celery with a Redis broker
(``scripts/bench_tasks_celery.py``; ``pip install -e '.[bench]'`` and the OS
package ``redis-server``) right after each Bolt run, and the ratio is printed.

Usage::

    python scripts/bench_tasks.py                     # 1, 10, 50 agents, 10,000 tasks
    python scripts/bench_tasks.py --agents 10 --tasks 2000 --json
    python scripts/bench_tasks.py --agents 10 --celery
    python scripts/bench_tasks.py --engine --tasks 20000
    python scripts/bench_tasks.py --agents 10 --compare-next   # TASK.NEXT against two requests

Agents complete a task and claim the next in one request (``TASK.NEXT``);
``--compare-next`` first runs the same count the old way (``TASK.COMPLETE``,
then ``TASK.CLAIMWAIT``) on its own fresh daemon, in the same run.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bolt.agents import Task, TaskCoordinator  # noqa: E402
from bolt.client import BoltClient  # noqa: E402
from bolt.testing import BoltDaemon, clean_environment  # noqa: E402

TASK_TYPE = "bench"


def agent_process(host: str, port: int, agents: int, prefix: str, combined: bool = True) -> None:
    """Run ``agents`` subscribed agents until SIGTERM; print dispatch latencies (JSON)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def handle(task: Task) -> None:
        started = time.time()
        if task.data.get("measure"):
            with lock:
                latencies.append(started - task.data["t"])

    clients = [BoltClient(host=host, port=port, username="admin", password="secret")]
    clients += [
        BoltClient(host=host, port=port, username="admin", password="secret")
        for _ in range(agents - 1)
    ]
    coordinators = [TaskCoordinator(c) for c in clients]
    for index, coord in enumerate(coordinators):
        coord.next_with_completion = combined  # TASK.NEXT, or COMPLETE then CLAIMWAIT
        coord.subscribe(TASK_TYPE, agent_id=f"{prefix}-{index}", callback=handle)
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    for coord in coordinators:
        for worker in coord._workers.values():
            worker.stop()
    for coord in coordinators:
        coord.stop()
    print(json.dumps(latencies), flush=True)


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _start_agents(
    daemon: BoltDaemon, agents: int, procs: int, combined: bool = True
) -> list[subprocess.Popen[str]]:
    processes = []
    share = [agents // procs + (1 if i < agents % procs else 0) for i in range(procs)]
    for index, count in enumerate(c for c in share if c):
        processes.append(
            subprocess.Popen(
                [sys.executable, __file__, "--agent-proc", daemon.host, str(daemon.port),
                 str(count), f"p{index}", "1" if combined else "0"],
                env=clean_environment({"PYTHONPATH": str(ROOT)}),
                stdout=subprocess.PIPE,
                text=True,
            )
        )  # fmt: skip
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    return processes


def _throughput(coord: TaskCoordinator, count: int) -> float:
    started = time.perf_counter()
    tasks: list[Task] = []
    for first in range(0, count, 500):
        batch = [(TASK_TYPE, {"i": i}) for i in range(first, min(count, first + 500))]
        tasks += coord.create_tasks(batch)
    coord.wait_for_all(tasks[-1:], timeout=600)
    while coord.stats()["types"][TASK_TYPE]["completed"] < count:
        time.sleep(0.01)
    return count / (time.perf_counter() - started)


def _latency_phase(coord: TaskCoordinator, count: int, rate: float) -> Task:
    interval = 1 / rate
    next_at = time.perf_counter()
    last: Task | None = None
    for _ in range(count):
        last = coord.create_task(TASK_TYPE, {"measure": True, "t": time.time()})
        next_at += interval
        time.sleep(max(0.0, next_at - time.perf_counter()))
    assert last is not None
    return last


def run_one(
    agents: int, tasks: int, latency_tasks: int, rate: float, procs: int, combined: bool = True
) -> dict[str, Any]:
    """One agent count on a fresh daemon: throughput and dispatch latency.

    ``combined``: agents complete and claim in one request (``TASK.NEXT``), else two."""
    with tempfile.TemporaryDirectory() as directory:
        daemon = BoltDaemon.start(Path(directory) / "data", env={"BOLT_ADMIN_PASSWORD": "secret"})
        with daemon:
            # Log in before the agents do: their burst of parallel logins is spaced out
            # by the server's login back-off, and a login queued too far is refused.
            creator = daemon.client(timeout=60)
            processes = _start_agents(daemon, agents, min(procs, agents), combined)
            try:
                with creator as client:
                    coord = TaskCoordinator(client)
                    tasks_per_second = _throughput(coord, tasks)
                    last = _latency_phase(coord, latency_tasks, rate)
                    coord.wait_for_task(last.id, timeout=60)
                    coord.stop()
            except BaseException:
                time.sleep(1)  # let the daemon's last log lines arrive
                print(
                    f"--- bolt (exit {daemon.process.poll()}) stderr ---\n{daemon.stderr_text()}",
                    file=sys.stderr,
                )
                raise
            finally:
                latencies: list[float] = []
                for process in processes:
                    process.send_signal(signal.SIGTERM)
                for process in processes:
                    out, _ = process.communicate(timeout=60)
                    latencies += json.loads(out.strip().splitlines()[-1])
    return {
        "agents": agents,
        "tasks": tasks,
        "tasks_per_second": round(tasks_per_second),
        "dispatch_rate_per_second": rate,
        "dispatch_samples": len(latencies),
        "dispatch_p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "dispatch_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
    }


def engine_only(count: int) -> dict[str, int]:
    """Task commands straight on an engine (see the module docstring)."""
    import trio

    from bolt.node import EngineConfig, open_engine

    async def run() -> dict[str, int]:
        with tempfile.TemporaryDirectory() as directory:
            config = EngineConfig(data_dir=Path(directory), fsync="off")
            async with open_engine(config) as engine:
                started = time.perf_counter()
                for i in range(count):
                    engine.submit("TASK.CREATE", ["", TASK_TYPE, {"i": i}, None])
                created = time.perf_counter()
                for _ in range(count):
                    task, _ = engine.submit("TASK.CLAIM", [TASK_TYPE, "agent", 30_000])
                    engine.submit("TASK.COMPLETE", [task["id"], task["attempt"], None])
                done = time.perf_counter()
        return {
            "tasks": count,
            "creates_per_second": round(count / (created - started)),
            "claim_complete_pairs_per_second": round(count / (done - created)),
        }

    return trio.run(run)


def main() -> None:
    """Parse the flags, run every agent count, print a table (or JSON)."""
    if len(sys.argv) > 1 and sys.argv[1] == "--agent-proc":
        host, port, count, prefix, combined = sys.argv[2:7]
        agent_process(host, int(port), int(count), prefix, combined == "1")
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", default="1,10,50", help="comma-separated agent counts")
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks of the throughput run")
    parser.add_argument("--latency-tasks", type=int, default=500)
    parser.add_argument("--rate", type=float, default=200.0, help="tasks/s of the latency run")
    parser.add_argument("--procs", type=int, default=2, help="agent processes")
    parser.add_argument("--celery", action="store_true", help="also run it on Celery + Redis")
    parser.add_argument("--engine", action="store_true", help="the engine alone, in process")
    parser.add_argument(
        "--compare-next",
        action="store_true",
        help="also run each count with two requests per task (COMPLETE, then CLAIMWAIT) "
        "right before, and print the ratio",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.engine:
        print(json.dumps(engine_only(args.tasks)))
        return
    results = []
    for n in args.agents.split(","):
        before = None
        if args.compare_next:
            before = run_one(int(n), args.tasks, args.latency_tasks, args.rate, args.procs, False)
        result = run_one(int(n), args.tasks, args.latency_tasks, args.rate, args.procs)
        if before is not None:
            result["two_requests"] = before
            result["ratio_vs_two_requests"] = round(
                result["tasks_per_second"] / max(1, before["tasks_per_second"]), 2
            )
        if args.celery:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from bench_tasks_celery import run_celery

            celery = run_celery(int(n), args.tasks, args.latency_tasks, args.rate)
            result["celery"] = celery
            result["ratio_vs_celery"] = round(
                result["tasks_per_second"] / max(1, celery["tasks_per_second"]), 2
            )
        results.append(result)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    header = f"{'agents':>6} {'tasks':>7} {'tasks/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
    print(f"{header}  (dispatch at {args.rate:g} tasks/s)")
    for r in results:
        print(
            f"{r['agents']:>6} {r['tasks']:>7} {r['tasks_per_second']:>9} "
            f"{r['dispatch_p50_ms']:>8} {r['dispatch_p99_ms']:>8}"
        )
        before = r.get("two_requests")
        if before:
            print(
                f"{'2 req':>6} {before['tasks']:>7} {before['tasks_per_second']:>9} "
                f"{before['dispatch_p50_ms']:>8} {before['dispatch_p99_ms']:>8}"
                f"  (one request / two requests per task: {r['ratio_vs_two_requests']}x)"
            )
        celery = r.get("celery")
        if celery:
            print(
                f"{'celery':>6} {celery['tasks']:>7} {celery['tasks_per_second']:>9} "
                f"{celery['dispatch_p50_ms']:>8} {celery['dispatch_p99_ms']:>8}"
                f"  (Bolt/Celery tasks/s: {r['ratio_vs_celery']}x)"
            )


if __name__ == "__main__":
    main()
