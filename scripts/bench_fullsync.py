#!/usr/bin/env python3
"""Full sync and retention numbers with real processes (not a timed test).

Two measurements, each on a fresh two-node cluster on loopback (no proxies):

* ``sync``: node 1 is loaded with ``--keys`` keys (MSET pipelines, default
  1,000,000) while node 2 is not running; then node 2 starts with an empty
  data directory and gets a full sync. Reported: the time from node 2's
  start to its acknowledgement of the sync (and the sender's and
  receiver's own timings from their logs), the bytes the sender sent, and
  the GET latency (p50/p99/max) a client of each node sees before and
  during the sync (ratios in the same run, as the other benchmarks do).
* ``retention``: node 2 is killed and ``--writes`` writes (default
  1,000,000, over a working set of ``--working-set`` keys) go to node 1.
  Reported: node 1's log bytes, snapshot bytes and RSS, sampled every
  10% of the writes, with ``BOLT_PEER_LOG_RETENTION_BYTES`` (``--retention``)
  and ``BOLT_WAL_SEGMENT_BYTES`` (``--segment``).

Usage: ``python scripts/bench_fullsync.py [sync|retention|both] [--keys N]
[--writes N] [--working-set N] [--retention 16mb] [--segment 4mb] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

try:
    import bolt  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bolt.log import list_segment_files
from bolt.testing import LocalCluster

BASE_ENV = {"BOLT_WAL_FSYNC": "batch", "BOLT_AUTH": "false"}


def _mset_load(client: Any, prefix: str, count: int, batch: int = 1000) -> None:
    for start in range(0, count, batch * 10):
        pipe = client.pipeline()
        for first in range(start, min(count, start + batch * 10), batch):
            last = min(count, first + batch)
            pipe.mset({f"{prefix}{n}": f"value-{n:08d}" for n in range(first, last)})
        pipe.execute()


def _percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"count": 0, "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "count": len(ordered),
        "p50_ms": round(pick(0.50) * 1000, 3),
        "p99_ms": round(pick(0.99) * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


class GetProbe(threading.Thread):
    """GETs in a loop on one node, latencies recorded per phase."""

    def __init__(self, client: Any, key: str) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.key = key
        self.phase = "before"
        self.samples: dict[str, list[float]] = {"before": [], "during": [], "after": []}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                self.client.get(self.key)
            except Exception:  # the node is starting: not a latency sample
                time.sleep(0.01)
                continue
            self.samples[self.phase].append(time.perf_counter() - started)
            time.sleep(0.001)


def _peer(client: Any, peer_id: str) -> dict[str, Any]:
    return next(p for p in client.cluster_status()["peers"] if p["id"] == peer_id)


def _seconds_in(text: str, pattern: str) -> float | None:
    match = re.search(pattern, text)
    return float(match.group(1)) if match else None


def bench_sync(keys: int, base: Path) -> dict[str, Any]:
    """Full sync of ``keys`` keys to an empty node (see the module docstring)."""
    cluster = LocalCluster(base, 2, proxies=False, env=BASE_ENV)
    try:
        cluster.start_node(0)
        with cluster.node(0).client() as client:
            loaded = time.perf_counter()
            _mset_load(client, "key:", keys)
            load_seconds = time.perf_counter() - loaded
            bytes_before = _peer(client, "n2")["bytes_out"]
        sender = GetProbe(cluster.node(0).client(), "key:1")
        sender.start()
        time.sleep(2)
        sender.phase = "during"
        started = time.perf_counter()
        cluster.start_node(1)
        receiver = GetProbe(cluster.node(1).client(), "key:1")
        receiver.phase = "during"
        receiver.start()
        with cluster.node(1).client() as client:
            while _peer(client, "n1")["full_syncs_received"] < 1:
                if time.perf_counter() - started > 600:
                    raise TimeoutError("no full sync within 600 s")
                time.sleep(0.05)
            total = time.perf_counter() - started
        sender.phase = receiver.phase = "after"
        time.sleep(2)
        for probe in (sender, receiver):
            probe.stop.set()
            probe.join()
            probe.client.close()
        with cluster.node(0).client() as client:
            sent = _peer(client, "n2")["bytes_out"] - bytes_before
        converged = cluster.wait_converged(timeout=120)
        sender_log = cluster.node(0).stderr_text()
        receiver_log = cluster.node(1).stderr_text()
        return {
            "keys": keys,
            "load_seconds": round(load_seconds, 2),
            "sync_seconds": round(total, 2),
            "sender_stream_seconds": _seconds_in(
                sender_log, r"full sync to peer n2 sent: .*, ([\d.]+)s"
            ),
            "receiver_merge_seconds": _seconds_in(
                receiver_log, r"full sync from peer n1 merged: .* in ([\d.]+)s"
            ),
            "bytes_sent": sent,
            "converged_after_seconds": round(converged, 2),
            "sender_get": {phase: _percentiles(s) for phase, s in sender.samples.items()},
            "receiver_get": {phase: _percentiles(s) for phase, s in receiver.samples.items()},
        }
    finally:
        cluster.stop()


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _sample(cluster: LocalCluster, writes: int, phase: str) -> dict[str, Any]:
    segments = list_segment_files(cluster.data_dir(0) / "log")
    return {
        "writes": writes,
        "phase": phase,
        "log_bytes": sum(p.stat().st_size for _, p in segments),
        "log_first_offset": segments[0][0],
        "snapshot_bytes": _dir_bytes(cluster.data_dir(0) / "snapshot"),
        "rss_bytes": _rss_bytes(cluster.node(0).process.pid),
    }


def bench_retention(
    writes: int, working_set: int, retention: str, segment: str, base: Path
) -> dict[str, Any]:
    """Disk and memory of node 1 with node 2 down for ``writes`` writes."""
    env = {
        **BASE_ENV,
        "BOLT_PEER_LOG_RETENTION_BYTES": retention,
        "BOLT_WAL_SEGMENT_BYTES": segment,
    }
    cluster = LocalCluster(base, 2, proxies=False, env=env)
    try:
        cluster.start()
        cluster.wait_converged(timeout=30)
        cluster.kill(1)
        node = cluster.node(0)
        samples: list[dict[str, Any]] = []
        step = max(1000, writes // 10)
        with node.client() as client:
            done = 0
            while done < writes:
                count = min(step, writes - done)
                pipe = client.pipeline()
                for first in range(done, done + count, 1000):
                    last = min(done + count, first + 1000)
                    pipe.mset(
                        {f"w:{n % working_set}": f"value-{n:08d}" for n in range(first, last)}
                    )
                pipe.execute()
                done += count
                samples.append(_sample(cluster, done, "writing"))
            # Then the writer pauses: snapshot rounds catch up (under a
            # saturating writer they lag, and the log holds what was written
            # since the last completed round).
            for second in range(2, 31, 2):
                time.sleep(2)
                samples.append(_sample(cluster, done, f"+{second}s idle"))
            marked = _peer(client, "n2")["needs_full_sync"]
        return {
            "writes": writes,
            "working_set": working_set,
            "retention": retention,
            "segment": segment,
            "peer_marked_for_full_sync": marked,
            "max_log_bytes": max(s["log_bytes"] for s in samples),
            "max_rss_bytes": max(s["rss_bytes"] for s in samples),
            "samples": samples,
        }
    finally:
        cluster.stop()


def _print_sync(result: dict[str, Any]) -> None:
    print(f"full sync of {result['keys']:,} keys (loaded in {result['load_seconds']} s)")
    print(
        f"  node start -> sync acknowledged: {result['sync_seconds']} s "
        f"(sender streamed in {result['sender_stream_seconds']} s, receiver merged in "
        f"{result['receiver_merge_seconds']} s); {result['bytes_sent']:,} bytes sent"
    )
    for side in ("sender_get", "receiver_get"):
        phases = result[side]
        cells = ", ".join(
            f"{phase} p50 {p['p50_ms']} p99 {p['p99_ms']} max {p['max_ms']} ms (n={p['count']})"
            for phase, p in phases.items()
            if p["count"]
        )
        print(f"  GET on the {side.split('_')[0]}: {cells}")


def _print_retention(result: dict[str, Any]) -> None:
    print(
        f"one peer down for {result['writes']:,} writes ({result['working_set']:,} keys), "
        f"BOLT_PEER_LOG_RETENTION_BYTES={result['retention']} "
        f"BOLT_WAL_SEGMENT_BYTES={result['segment']}: "
        f"peer marked for a full sync: {result['peer_marked_for_full_sync']}"
    )
    print("  writes     phase        log MiB   first offset   snapshot MiB   RSS MiB")
    for s in result["samples"]:
        print(
            f"  {s['writes']:>9,}  {s['phase']:<11} {s['log_bytes'] / 2**20:8.1f}"
            f"   {s['log_first_offset']:>12,}   {s['snapshot_bytes'] / 2**20:12.1f}"
            f"   {s['rss_bytes'] / 2**20:7.1f}"
        )


def main() -> None:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", nargs="?", default="both", choices=("sync", "retention", "both"))
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--writes", type=int, default=1_000_000)
    parser.add_argument("--working-set", type=int, default=100_000)
    parser.add_argument("--retention", default="16mb")
    parser.add_argument("--segment", default="4mb")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bolt-bench-fullsync-") as tmp:
        if args.what in ("sync", "both"):
            results["sync"] = bench_sync(args.keys, Path(tmp) / "sync")
            if not args.json:
                _print_sync(results["sync"])
        if args.what in ("retention", "both"):
            results["retention"] = bench_retention(
                args.writes, args.working_set, args.retention, args.segment, Path(tmp) / "ret"
            )
            if not args.json:
                _print_retention(results["retention"])
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
