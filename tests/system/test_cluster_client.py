"""``BoltClient.cluster``: learns the peers, fails over, refuses a foreign cluster."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bolt.client import BoltClient
from bolt.errors import ClusterMismatchError
from bolt.testing import LocalCluster

LONE_PEER = "x:127.0.0.1:1"  # a one-node cluster: its peer never answers


def test_learns_the_peers_and_fails_over_to_them(tmp_path: Path) -> None:
    with LocalCluster(tmp_path, 3) as cluster:
        first = cluster.node(0)
        # wait until the first node has heard its peers (it reports their client ports)
        with first.client() as probe:
            deadline = time.monotonic() + 15
            while not all(p["state"] == "Healthy" for p in probe.cluster_status()["peers"]):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        client = BoltClient.cluster([f"{first.host}:{first.port}"], timeout=5)
        with client:
            client.put("k", "v")
            known = {port for _, port in client._settings.ring.nodes}
            assert known == {cluster.node(i).port for i in range(3)}
            cluster.wait_converged(timeout=20)
            cluster.kill(0)
            assert client.get("k") == "v"  # served by a learned node
            assert client.server_info["node_id"] in ("n2", "n3")


def test_refuses_nodes_of_another_cluster(tmp_path: Path) -> None:
    with (
        LocalCluster(tmp_path / "a", 2, name="a") as one,
        LocalCluster(
            tmp_path / "b", 1, name="b", env={"BOLT_CLUSTER_PEERS": "x:127.0.0.1:1"}
        ) as other,
    ):
        nodes = [f"127.0.0.1:{one.node(0).port}", f"127.0.0.1:{other.node(0).port}"]
        client = BoltClient.cluster(nodes, timeout=5)
        with client:
            assert client.server_info["node_id"] == "a1"
            one.kill(0)
            one.kill(1)
            with pytest.raises(ClusterMismatchError, match="not a member"):
                client.ping()


def test_the_trio_client_learns_the_peers_too(tmp_path: Path) -> None:
    import trio

    from bolt.client import AsyncBoltClient

    with LocalCluster(tmp_path, 2) as cluster:
        first = cluster.node(0)
        with first.client() as probe:
            deadline = time.monotonic() + 15
            while probe.cluster_status()["peers"][0]["client_port"] <= 0:
                assert time.monotonic() < deadline
                time.sleep(0.05)

        async def main() -> set[int]:
            async with AsyncBoltClient.cluster([f"{first.host}:{first.port}"]) as client:
                await client.ping()
                return {port for _, port in client._settings.ring.nodes}

        assert trio.run(main) == {cluster.node(0).port, cluster.node(1).port}
