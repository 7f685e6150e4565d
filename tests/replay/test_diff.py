"""``replay diff``: shard digests first, then the differing keys with both sides."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from bolt.events import UserDeleted, UserPut
from bolt.replay import diff, dump, open_data_dir, rebuild, shard_digests

from .conftest import run_cli


def _value(view: dict[str, Any] | None) -> Any:
    return None if view is None else view["value"]


def test_two_nodes_that_disagree(fixtures: Any) -> None:
    result = run_cli("diff", fixtures.node_a, fixtures.node_b, "--json")
    assert result.code == 1
    document = result.json()
    assert document["same"] is False
    keys = [d["key"] for d in document["differences"]]
    assert keys == fixtures.live_states["diff_keys"]
    assert document["total_differences"] == len(keys)
    assert 1 <= len(document["differing_shards"]) <= len(keys)
    live_a = {k["key"]: k["value"] for k in fixtures.live_states["node_a"]["keys"]}
    live_b = {k["key"]: k["value"] for k in fixtures.live_states["node_b"]["keys"]}
    for found in document["differences"]:
        assert _value(found["a"]) == live_a.get(found["key"])
        assert _value(found["b"]) == live_b.get(found["key"])
    by_key = {d["key"]: d for d in document["differences"]}
    assert by_key["item:07"]["last_event_b"]["type"] == "KeyDeleted"
    assert by_key["item:07"]["last_event_b"]["origin"] == "node-b"
    assert by_key["item:03"]["last_event_a"]["value"] == "changed on a"
    assert by_key["only-on-a"]["last_event_b"] is None


def test_human_diff(fixtures: Any) -> None:
    result = run_cli("diff", fixtures.node_a, fixtures.node_b)
    assert result.code == 1
    assert "shard digests differ" in result.out
    assert '"changed on a"' in result.out and '"changed on b"' in result.out
    assert "DIFFERENT: 5 keys" in result.out


def test_identical_nodes_are_the_same(fixtures: Any, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(fixtures.full, copy)
    result = run_cli("diff", fixtures.full, copy, "--json")
    assert result.code == 0
    assert result.json()["same"] is True
    assert result.json()["differing_shards"] == []
    human = run_cli("diff", fixtures.full, copy)
    assert human.code == 0 and human.out.strip().endswith("same")


def test_a_snapshot_and_a_full_log_of_one_state_agree(fixtures: Any) -> None:
    # The trimmed directory = snapshot + tail; the full one stops before that tail,
    # so only the three keys written after the snapshot differ.
    document = run_cli("diff", fixtures.full, fixtures.snapshotted, "--json").json()
    assert [d["key"] for d in document["differences"]] == ["greeting", "profile", "tags"]


def test_digests_are_stable_and_content_addressed(fixtures: Any) -> None:
    state = rebuild(open_data_dir(fixtures.full))
    first, _ = shard_digests(state.keyspace, state.moment_ms, 16)
    again, _ = shard_digests(state.keyspace, state.moment_ms, 16)
    assert first == again
    assert sum(d.keys for d in first) == sum(1 for _ in state.keyspace.live_names(state.moment_ms))
    other = rebuild(open_data_dir(fixtures.node_a))
    theirs, _ = shard_digests(other.keyspace, state.moment_ms, 16)
    assert [d.digest for d in first] != [d.digest for d in theirs]


def test_bad_diff_arguments(fixtures: Any) -> None:
    assert run_cli("diff", fixtures.node_a, fixtures.node_b, "--shards", "0").code == 2
    assert run_cli("diff", fixtures.node_a, fixtures.root / "missing").code == 2


def test_progress_counts_both_logs_toward_one_total(fixtures: Any) -> None:
    # The CLI shows one bar whose total is both logs' sizes: the second log's
    # bytes must add to the first's, not start again from zero.
    dir_a, dir_b = open_data_dir(fixtures.full), open_data_dir(fixtures.node_b)
    reported: list[int] = []
    diff(dir_a, dir_b, now_ms=lambda: 0, progress=reported.append)
    assert reported == sorted(reported)
    assert dir_a.log_bytes() < reported[-1] <= dir_a.log_bytes() + dir_b.log_bytes()


def test_last_event_names_its_place_in_the_record(fixtures: Any) -> None:
    # In the full log some records hold several events (e.g. keys "b" and "c"
    # at offset 4): the last event of a key must carry its own index.
    document = run_cli("diff", fixtures.full, fixtures.node_b, "--json", "--limit", "1000").json()
    last: dict[str, tuple[int, int]] = {}
    for found in dump(open_data_dir(fixtures.full)):
        if found.event.db == "" and not isinstance(found.event, UserPut | UserDeleted):
            last[found.event.key] = (found.offset, found.index)
    shown = [
        (d["key"], (d["last_event_a"]["offset"], d["last_event_a"]["index"]))
        for d in document["differences"]
        if d["db"] == "" and d["last_event_a"] is not None
    ]
    assert any(index > 0 for _key, (_offset, index) in shown)
    assert shown == [(key, last[key]) for key, _place in shown]
