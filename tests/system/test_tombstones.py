"""Tombstones with real processes: kept while a node is cut off, collected once stable.

Three real daemons behind fault proxies. A key is deleted, a set member
removed and a list element popped on one node while another is partitioned
(and writes the key there, with an older HLC). While the partition lasts the
tombstones stay; after the heal the key stays deleted everywhere, and then
every node collects them (``CLUSTER`` tombstones, the metrics, STATS memory).
Finally a late replay of every old write -- a node re-ships its whole log
after its acknowledged offsets are lost -- against a node restarted from a
snapshot taken after collection brings nothing back: those events' dots are
in the version vector, so ``Engine.ingest`` skips them.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bolt import limits
from bolt.testing import LocalCluster

ROUND_SECONDS = limits.tombstone_gc_interval_ms / 1000


def _wait(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.1)


def _status(cluster: LocalCluster, i: int) -> dict[str, Any]:
    with cluster.node(i).client() as client:
        status: dict[str, Any] = client.cluster_status()
        return status


def _tombstones(cluster: LocalCluster, i: int) -> dict[str, int]:
    return _status(cluster, i)["tombstones"]


def _memory(cluster: LocalCluster, i: int) -> int:
    with cluster.node(i).client() as client:
        used: int = client.stats()["memory"]["used"]
        return used


def _metric(cluster: LocalCluster, i: int, name: str) -> float:
    with urllib.request.urlopen(cluster.node(i).metrics_url + "/metrics", timeout=5) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


def _deleted_everywhere(cluster: LocalCluster) -> None:
    for client in cluster.clients():
        with client:
            assert client.get("doomed") is None
            assert client.exists("doomed") == 0
            assert client.smembers("s") == ["b"]
            assert client.lrange("l") == ["y"]


def test_tombstones_stay_while_partitioned_then_go_and_nothing_comes_back(tmp_path: Path) -> None:
    with LocalCluster(tmp_path, 3) as cluster:
        with cluster.node(0).client() as first:
            first.put("doomed", "v0")
            first.sadd("s", "a", "b")
            first.rpush("l", "x", "y")
        cluster.wait_converged(timeout=30)

        cluster.isolate(2)
        with cluster.node(2).client() as cut_off:
            cut_off.put("doomed", "late and old")  # an older HLC than the delete below
        time.sleep(0.05)
        with cluster.node(0).client() as first:
            first.delete("doomed")
            first.srem("s", "a")
            assert first.lpop("l") == "x"
        # Not collected while node 3 cannot say what it holds: wait several rounds.
        time.sleep(4 * ROUND_SECONDS)
        during = _tombstones(cluster, 0)
        assert during["live"] == 3 and during["collected"] == 0, during
        assert during["rounds"] >= 1
        memory_with_tombstones = _memory(cluster, 0)

        cluster.heal()
        cluster.wait_converged(timeout=30)
        _deleted_everywhere(cluster)

        def collected_everywhere() -> bool:
            return all(
                (t := _tombstones(cluster, i))["live"] == 0 and t["collected"] >= 3
                for i in range(3)
            )

        _wait(collected_everywhere, what="every node to collect its tombstones")
        _deleted_everywhere(cluster)
        after = _tombstones(cluster, 0)
        assert after["bytes_collected"] > 0
        assert _memory(cluster, 0) < memory_with_tombstones
        assert _metric(cluster, 0, "bolt_tombstones_collected_total") >= 3
        assert _metric(cluster, 0, "bolt_tombstones") == 0
        status = _status(cluster, 0)
        assert status["stable_hlc"] > 0
        assert status["stable_vector"] == status["version_vector"]  # quiet: all hold all

        # Touch every shard, so the snapshot written at a clean stop holds the
        # collected state; restart node 1 from it.
        with cluster.node(0).client() as first:
            for n in range(1000):  # every one of the 64 shards, all but surely
                first.put(f"filler{n}", "x")
        cluster.wait_converged(timeout=30)
        assert cluster.node(0).terminate() == 0
        cluster.start_node(0)
        cluster.wait_converged(timeout=30)

        # Node 2 loses its acknowledged offsets and re-ships its whole log: a
        # late replay of every old write (both PUTs of "doomed" included).
        received_before = _peer(cluster, 0, "n2")["batches_received"]
        cluster.kill(1)
        (cluster.data_dir(1) / "cluster" / "acked.json").unlink()
        cluster.start_node(1)
        _wait(
            lambda: _peer(cluster, 0, "n2")["batches_received"] > received_before,
            what="node 2 to re-ship its log to node 1",
        )
        _wait(lambda: _status(cluster, 1)["pending_replication"] == 0, what="the replay to end")
        _deleted_everywhere(cluster)
        time.sleep(2 * ROUND_SECONDS)
        restarted = _tombstones(cluster, 0)
        # Nothing to collect: the snapshot held no tombstone, the replay made none.
        assert restarted["rounds"] >= 1
        assert restarted["collected"] == 0 and restarted["live"] == 0, restarted
        cluster.wait_converged(timeout=30)


def _peer(cluster: LocalCluster, i: int, peer_id: str) -> dict[str, Any]:
    for peer in _status(cluster, i)["peers"]:
        if peer["id"] == peer_id:
            return dict(peer)
    raise AssertionError(f"no peer {peer_id}")
