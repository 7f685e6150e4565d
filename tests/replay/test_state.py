"""``replay state``: the rebuilt state equals what the live engine answered."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path
from typing import Any

import lmdb

from bolt.replay import Point, open_data_dir, rebuild

from .conftest import comparable, run_cli


def _state(*args: str | Path) -> dict[str, Any]:
    result = run_cli("state", *args, "--json")
    assert result.code == 0, result.err
    document: dict[str, Any] = result.json()
    return document


def test_state_at_an_offset_equals_the_live_engine_at_that_offset(fixtures: Any) -> None:
    for phase in ("phase1", "phase2"):
        live = fixtures.live_states[phase]
        document = _state(fixtures.full, "--at", str(live["offset"]))
        assert document["last_offset"] == live["offset"]
        assert document["moment_ms"] == live["now_ms"]
        assert comparable(document["keys"]) == comparable(live["keys"])
        assert document["users"] == live["users"]


def test_state_at_a_time_equals_the_live_engine_then(fixtures: Any) -> None:
    live = fixtures.live_states["phase1"]
    for at in (f"ms:{live['now_ms']}", "2024-05-01T14:00:00.350Z", "2024-05-01T16:00:00.350+02:00"):
        document = _state(fixtures.full, "--at", at)
        assert document["moment_ms"] == live["now_ms"], at
        assert document["last_offset"] == live["offset"], at
        assert comparable(document["keys"]) == comparable(live["keys"]), at


def test_expiry_is_judged_at_the_point(fixtures: Any) -> None:
    phase1 = _state(fixtures.full, "--at", str(fixtures.live_states["phase1"]["offset"]))
    flash = [k for k in phase1["keys"] if k["key"] == "flash"]
    assert flash and flash[0]["ttl_seconds"] == 2
    assert flash[0]["expires_at_ms"] == 1_714_572_002_040
    phase2 = _state(fixtures.full, "--at", str(fixtures.live_states["phase2"]["offset"]))
    assert not [k for k in phase2["keys"] if k["key"] == "flash"]


def test_state_from_a_snapshot_and_the_log_after_it(fixtures: Any) -> None:
    live = fixtures.live_states["phase3"]
    document = _state(fixtures.snapshotted, "--now", f"ms:{live['now_ms']}")
    assert document["from_snapshot"] is True
    assert document["last_offset"] == live["offset"]
    assert comparable(document["keys"]) == comparable(live["keys"])
    assert document["users"] == live["users"]
    at_end = _state(fixtures.snapshotted, "--at", str(live["offset"]))
    assert comparable(at_end["keys"]) == comparable(live["keys"])


def test_a_point_older_than_the_retained_log_is_refused(fixtures: Any) -> None:
    result = run_cli("state", fixtures.snapshotted, "--at", "100")
    assert result.code == 2
    assert "older than the oldest retained log segment" in result.err
    assert "first offset 302" in result.err
    result = run_cli("state", fixtures.snapshotted, "--at", "2024-05-01T14:00:01Z")
    assert result.code == 2


def test_an_offset_past_the_end_is_refused(fixtures: Any) -> None:
    result = run_cli("state", fixtures.full, "--at", "99999")
    assert result.code == 2
    assert "past the end of the log" in result.err
    assert run_cli("state", fixtures.full, "--at", "-3").code == 2
    assert run_cli("state", fixtures.full, "--at", "yesterday-ish").code == 2


def test_state_before_and_past_damage(fixtures: Any) -> None:
    damaged = fixtures.live_states["corrupt"]["offset"]
    before = _state(fixtures.corrupt, "--at", str(damaged - 1))
    clean = _state(fixtures.full, "--at", str(damaged - 1))
    assert before["keys"] == clean["keys"]
    result = run_cli("state", fixtures.corrupt, "--at", str(damaged + 5))
    assert result.code == 2
    assert f"the last offset that can be rebuilt is {damaged - 1}" in result.err
    whole = run_cli("state", fixtures.corrupt, "--json")
    assert whole.code == 1
    assert whole.json()["damaged_at_offset"] == damaged
    assert "00000000000000000187.seg" in whole.err


def test_key_and_db_filters(fixtures: Any) -> None:
    document = _state(fixtures.full, "--key", "bulk:01?")
    assert [k["key"] for k in document["keys"]] == [f"bulk:{i:03d}" for i in range(10, 20)]
    document = _state(fixtures.full, "--db", "app")
    assert {k["key"] for k in document["keys"]} == {"config", "members", "greeting"}
    assert {k["db"] for k in document["keys"]} == {"app"}


def test_human_output_and_output_file(fixtures: Any, tmp_path: Path) -> None:
    result = run_cli("state", fixtures.full, "--at", str(fixtures.live_states["phase1"]["offset"]))
    assert result.code == 0
    assert "[bold]odd key" in result.out
    assert '"value with\\nnewline"' in result.out
    assert "14 keys" in result.out
    target = tmp_path / "state.json"
    assert run_cli("state", fixtures.full, "--output", target).code == 0
    assert '"keys":[' in target.read_text()
    inside = run_cli("state", fixtures.full, "--output", fixtures.full / "state.json")
    assert inside.code == 2
    assert not (fixtures.full / "state.json").exists()


def test_library_rebuild_reports_how(fixtures: Any) -> None:
    data_dir = open_data_dir(fixtures.full)
    state = rebuild(data_dir, Point(offset=20))
    assert state.last_offset == 20
    assert state.records == 21
    assert state.snapshot is None
    snap = rebuild(open_data_dir(fixtures.snapshotted))
    assert snap.snapshot is not None
    assert snap.snapshot.covered_max == fixtures.live_states["snapshot_covered"]
    assert "snapshot" in snap.describe()


def test_a_partial_snapshot_behind_a_trimmed_log_is_refused(fixtures: Any, tmp_path: Path) -> None:
    """A shard the snapshot never wrote (a crash in its first round) covers
    nothing, as in recovery: with the log trimmed, its keys cannot be rebuilt,
    so state and history refuse rather than leave them out silently."""
    data_dir = tmp_path / "partial"
    shutil.copytree(fixtures.snapshotted, data_dir)
    env = lmdb.open(str(data_dir / "snapshot"), max_dbs=16, subdir=True)
    with env.begin(write=True) as txn:
        shards = env.open_db(b"shards", txn=txn)
        assert txn.delete(struct.pack("<I", 0), db=shards)
    env.close()
    for args in (("state", data_dir), ("history", data_dir, "greeting")):
        result = run_cli(*args)
        assert result.code == 2, (args, result.err)
        assert "the snapshot covers offsets up to -1 but the log starts at offset 302" in result.err
