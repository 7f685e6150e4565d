#!/usr/bin/env python3
"""Replication numbers of issue 12, measured with real processes on loopback.

Measures, in one run on this machine (a benchmark, not a timed test):

1. **Write throughput with two peers**, as a ratio to the same node
   standalone: pipelined SETs (``--pipeline`` per round trip) from one client
   to node 1, first with no peers configured, then as one node of a 3-node
   cluster (its log is shipped to both peers while it takes the writes).
2. **Replication lag** at a steady total rate (``--rate``, default 5,000
   writes/s) spread over the 3 nodes: background writers pace their writes;
   a prober writes a fresh key on one node every 10 ms and polls another
   node for it (1 ms apart), so a sample is "acknowledged on A" to "readable
   on B". Reports p50/p99 of the samples.
3. **Catch-up rate** of a peer that was down during ``--catch-up`` writes
   (default 100,000): node 3 is killed, the writes go to node 1, node 3 is
   restarted; the time from its restart to node 1 reporting nothing pending
   for it, as events per second.

Usage: ``python scripts/bench_cluster.py [--writes 20000] [--rate 5000]
[--seconds 5] [--catch-up 100000] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bolt.testing import BoltDaemon, LocalCluster


def pipelined_puts(client: Any, count: int, pipeline: int, prefix: str) -> float:
    """Write ``count`` keys in pipelines of ``pipeline``; writes per second."""
    started = time.perf_counter()
    sent = 0
    while sent < count:
        batch = client.pipeline()
        for n in range(sent, min(count, sent + pipeline)):
            batch.put(f"{prefix}{n}", "v" * 16)
        batch.execute()
        sent += pipeline
    return count / (time.perf_counter() - started)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measured(daemon: BoltDaemon, writes: int, pipeline: int) -> tuple[float, float]:
    """(writes/s, CPU microseconds per write of the node itself)."""
    with daemon.client() as client:
        pipelined_puts(client, writes // 10, pipeline, "warm:")
        before = cpu_seconds(daemon.pid)
        rate = pipelined_puts(client, writes, pipeline, "k:")
        used = cpu_seconds(daemon.pid) - before
    return rate, used / writes * 1e6


def throughput_ratio(base: Path, writes: int, pipeline: int) -> dict[str, float]:
    """Item 1: standalone vs with two peers, same load, same run.

    Besides writes/s (which on a small machine also measures the peers
    taking CPU from the writing node), the writing node's own CPU time per
    write says what shipping the log costs it.
    """
    solo = BoltDaemon.start(base / "standalone", env={"BOLT_NODE_ID": "solo"})
    with solo:
        standalone, solo_cpu_us = _measured(solo, writes, pipeline)
    with LocalCluster(base / "cluster", 3, proxies=False) as cluster:
        cluster.wait_converged(timeout=30)
        clustered, cluster_cpu_us = _measured(cluster.node(0), writes, pipeline)
        seconds = cluster.wait_converged(timeout=120)
    return {
        "standalone_writes_per_s": round(standalone),
        "with_two_peers_writes_per_s": round(clustered),
        "ratio": round(clustered / standalone, 3),
        "standalone_cpu_us_per_write": round(solo_cpu_us, 2),
        "with_two_peers_cpu_us_per_write": round(cluster_cpu_us, 2),
        "cpu_ratio": round(solo_cpu_us / cluster_cpu_us, 3),
        "cores": os.cpu_count() or 0,
        "converged_after_s": round(seconds, 3),
    }


def _paced_writer(client: Any, rate: float, stop: threading.Event, prefix: str) -> None:
    interval = 1.0 / rate
    next_at = time.perf_counter()
    n = 0
    while not stop.is_set():
        burst = client.pipeline()
        now = time.perf_counter()
        due = 0
        while next_at <= now and due < 200:
            burst.put(f"{prefix}{n % 10000}", "x" * 16)
            n += 1
            due += 1
            next_at += interval
        if due:
            burst.execute()
        else:
            time.sleep(min(0.002, next_at - now))


def replication_lag(base: Path, rate: int, seconds: float) -> dict[str, float]:
    """Item 2: lag samples at a steady rate spread over 3 nodes."""
    samples: list[float] = []
    with LocalCluster(base / "lag", 3, proxies=False) as cluster:
        cluster.wait_converged(timeout=30)
        stop = threading.Event()
        writers = []
        for i in range(3):
            client = cluster.node(i).client()
            thread = threading.Thread(
                target=_paced_writer, args=(client, rate / 3, stop, f"bg{i}:"), daemon=True
            )
            writers.append((thread, client))
            thread.start()
        clients = [cluster.node(i).client() for i in range(3)]
        deadline = time.perf_counter() + seconds
        n = 0
        try:
            while time.perf_counter() < deadline:
                source, target = clients[n % 3], clients[(n + 1) % 3]
                key = f"probe:{n}"
                source.put(key, "1")
                written = time.perf_counter()
                while target.get(key) is None:
                    if time.perf_counter() - written > 5:
                        break
                    time.sleep(0.001)
                samples.append((time.perf_counter() - written) * 1000)
                n += 1
                time.sleep(0.01)
        finally:
            stop.set()
            for thread, client in writers:
                thread.join(5)
                client.close()
            for client in clients:
                client.close()
    samples.sort()
    return {
        "rate_writes_per_s": rate,
        "samples": len(samples),
        "lag_p50_ms": round(statistics.median(samples), 2),
        "lag_p99_ms": round(samples[max(0, int(len(samples) * 0.99) - 1)], 2),
    }


def catch_up_rate(base: Path, writes: int, pipeline: int) -> dict[str, float]:
    """Item 3: a peer down during ``writes`` writes catches up; events/s."""
    with LocalCluster(base / "catchup", 3, proxies=False) as cluster:
        cluster.wait_converged(timeout=30)
        cluster.kill(2)
        with cluster.node(0).client() as client:
            pipelined_puts(client, writes, pipeline, "missed:")
            restarted = time.perf_counter()
            cluster.start_node(2)
            ready = time.perf_counter()
            while True:
                peers = {p["id"]: p for p in client.cluster_status()["peers"]}
                if peers["n3"]["pending"] == 0:
                    break
                time.sleep(0.02)
            done = time.perf_counter()
        converged = cluster.wait_converged(timeout=120)
    return {
        "writes_missed": writes,
        "restart_s": round(ready - restarted, 3),
        "catch_up_s": round(done - ready, 3),
        "catch_up_events_per_s": round(writes / (done - ready)),
        "digests_equal_after_s": round(converged, 3),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the three measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=20_000)
    parser.add_argument("--pipeline", type=int, default=100)
    parser.add_argument("--rate", type=int, default=5_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--catch-up", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bolt-bench-cluster-") as directory:
        base = Path(directory)
        results = {
            "throughput": throughput_ratio(base, args.writes, args.pipeline),
            "lag": replication_lag(base, args.rate, args.seconds),
            "catch_up": catch_up_rate(base, args.catch_up, args.pipeline),
        }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for section, values in results.items():
            print(section)
            for name, value in values.items():
                print(f"  {name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
