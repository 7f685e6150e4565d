"""``replay info``: segments, snapshot, node id, version vector, counts."""

from __future__ import annotations

import itertools
from typing import Any

from bolt.events import EVENT_NAMES

from .conftest import run_cli


def test_info_of_a_full_log(fixtures: Any) -> None:
    result = run_cli("info", fixtures.full, "--json")
    assert result.code == 0
    info = result.json()
    assert info["node_id"] == "node-a"
    assert info["first_offset"] == 0 and info["last_offset"] == 338
    assert info["records"] == 339 and info["events"] == 343
    assert set(info["event_counts"]) == set(EVENT_NAMES)
    # The fixture's workload predates the task and hash events: those count zero here.
    assert all(
        count > 0
        for name, count in info["event_counts"].items()
        if not name.startswith(("Task", "Hash"))
    )
    assert info["event_counts"]["UserDeleted"] == 1
    assert info["version_vector"] == {"node-a": 343}
    assert info["snapshot"] is None
    segments = info["segments"]
    assert len(segments) == 6
    for before, after in itertools.pairwise(segments):
        assert before["last_offset"] + 1 == after["first_offset"]
        assert before["time_max"] <= after["time_min"]
    assert segments[0]["time_min"] == "2024-05-01T14:00:00.010Z"
    assert all(s["status"] == "clean" for s in segments)


def test_info_of_a_snapshotted_node(fixtures: Any) -> None:
    info = run_cli("info", fixtures.snapshotted, "--json").json()
    assert info["first_offset"] == 302
    snapshot = info["snapshot"]
    assert snapshot["covered_offset_min"] == snapshot["covered_offset_max"] == 338
    assert snapshot["shard_count"] == 64 and snapshot["node_id"] == "node-a"
    assert info["version_vector"] == {"node-a": 346}


def test_info_of_two_origins_and_human_output(fixtures: Any) -> None:
    info = run_cli("info", fixtures.node_b, "--json").json()
    assert info["node_id"] == "node-b"
    assert info["origin_counts"] == {"node-a": 43, "node-b": 4}
    result = run_cli("info", fixtures.node_b)
    assert result.code == 0
    assert "node id         node-b" in result.out
    assert "00000000000000000000.seg" in result.out


def test_info_of_damaged_logs(fixtures: Any) -> None:
    torn = run_cli("info", fixtures.torn, "--json")
    assert torn.code == 0
    assert torn.json()["segments"][-1]["status"] == "torn"
    corrupt = run_cli("info", fixtures.corrupt, "--json")
    assert corrupt.code == 1
    assert corrupt.json()["damage"]["offset"] == fixtures.live_states["corrupt"]["offset"]
