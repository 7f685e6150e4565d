"""``replay diff`` on the real logs of a real 2-node cluster: the first event
the two logs disagree on (by dot, as two nodes append in different orders)."""

from __future__ import annotations

from pathlib import Path

from bolt.client import BoltClient
from bolt.testing import LocalCluster

from .conftest import run_cli


def write_everything(client: BoltClient, prefix: str) -> None:
    """A few writes of every type (each node gets its own keys and a shared counter)."""
    client.put(f"{prefix}:name", "value")
    client.incrby(f"{prefix}:hits", 5)
    client.sadd(f"{prefix}:tags", "a", "b")
    client.rpush(f"{prefix}:queue", "x", "y")
    client.cincr("shared:counter")
    client.mset({f"{prefix}:m{index}": "v" for index in range(5)})


def test_converged_nodes_agree_and_a_partition_is_named(tmp_path: Path) -> None:
    with LocalCluster(tmp_path, 2) as cluster:
        first, second = cluster.node(0).client(), cluster.node(1).client()
        try:
            write_everything(first, "one")
            write_everything(second, "two")
            cluster.wait_converged()
            dir_a, dir_b = cluster.data_dir(0), cluster.data_dir(1)
            # Both nodes live: the logs hold the same events in different orders.
            agreed = run_cli("diff", dir_a, dir_b, "--json")
            document = agreed.json()
            assert document["first_disagreement"] is None, document["first_disagreement"]
            assert (document["events_only_in_a"], document["events_only_in_b"]) == (0, 0)
            assert agreed.code == 0 and document["same"] is True
            cluster.kill(1)  # node n2 is gone: what n1 takes now, n2 never sees
            before = first.cluster_status()["last_offset"]
            first.put("after:partition", "only on n1")
            first.mset({f"after:{index}": "v" for index in range(3)})
            assert first.cluster_status()["last_offset"] == before + 2
        finally:
            first.close()
            second.close()
        split = run_cli("diff", dir_a, dir_b, "--json")
        assert split.code == 1
        document = split.json()
        named = document["first_disagreement"]
        assert named["side"] == "a"
        assert (named["key"], named["origin"], named["type"]) == ("after:partition", "n1", "KeyPut")
        assert (named["offset"], named["index"]) == (before + 1, 0)
        assert (document["events_only_in_a"], document["events_only_in_b"]) == (4, 0)
        swapped = run_cli("diff", dir_b, dir_a, "--json").json()["first_disagreement"]
        assert (swapped["side"], swapped["key"]) == ("b", "after:partition")
        human = run_cli("diff", dir_a, dir_b)
        assert "first event the logs disagree on" in human.out
        assert "'after:partition'" in human.out and "B lacks it" in human.out
        assert "events only in A: 4" in human.out
