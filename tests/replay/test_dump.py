"""``replay dump``: events in order, filters, JSON lines, damage, laziness."""

from __future__ import annotations

from typing import Any

from bolt.events import EVENT_NAMES
from bolt.replay import EventFilter, dump, open_data_dir

from .conftest import run_cli


def _events(*args: Any) -> list[dict[str, Any]]:
    result = run_cli("dump", *args, "--json")
    assert result.code == 0, result.err
    return result.json_lines()


def test_every_event_in_log_order(fixtures: Any) -> None:
    events = _events(fixtures.full)
    assert len(events) == 343
    # The fixture's workload predates the task events (bolt.state._tasks), which
    # tests/system/test_tasks_persistence.py replays instead.
    # Nor the hash events (tests/replay/test_hash_replay.py renders those).
    key_events = {n for n in EVENT_NAMES if not n.startswith(("Task", "Hash"))}
    assert {e["type"] for e in events} == key_events
    positions = [(e["offset"], e["index"]) for e in events]
    assert positions == sorted(positions)
    assert events[-1]["offset"] == fixtures.live_states["phase2"]["offset"]
    assert [e["seq"] for e in events] == list(range(1, 344))
    users = [e for e in events if e["type"] == "UserPut"]
    assert users and all(e["password_hash"] == "<redacted>" for e in users)
    binary = next(e for e in events if e["key"] == "doc:1")
    assert binary["value"] == {"bytes": "00ff62696e617279"}


def test_offset_bounds_are_inclusive(fixtures: Any) -> None:
    events = _events(fixtures.full, "--from", "4", "--to", "6")
    assert [(e["offset"], e["key"]) for e in events] == [
        (4, "a"),
        (4, "b"),
        (4, "c"),
        (5, "hits"),
        (6, "hits"),
    ]
    assert run_cli("dump", fixtures.full, "--from", "9", "--to", "3").code == 2


def test_time_filters(fixtures: Any) -> None:
    events = _events(
        fixtures.full, "--since", "2024-05-01T14:00:05Z", "--until", "2024-05-01T14:00:05.390Z"
    )
    assert [e["offset"] for e in events] == [35, 36, 37, 38]
    hlc = events[1]["hlc"]
    assert [
        e["offset"]
        for e in _events(fixtures.full, "--since", f"hlc:{hlc}", "--until", f"hlc:{hlc}")
    ] == [36]
    bad = run_cli("dump", fixtures.full, "--since", "1714572000")
    assert bad.code == 2 and "bare number" in bad.err


def test_key_db_type_and_origin_filters(fixtures: Any) -> None:
    assert len(_events(fixtures.full, "--key", "bulk:00?")) == 10
    assert {e["key"] for e in _events(fixtures.full, "--db", "app")} == {
        "config",
        "members",
        "greeting",
    }
    deleted = _events(fixtures.full, "--type", "keydeleted,UserDeleted")
    assert {e["type"] for e in deleted} == {"KeyDeleted", "UserDeleted"}
    assert len(deleted) == 7
    assert len(_events(fixtures.full, "--origin", "node-a", "--key", "profile")) == 4
    assert _events(fixtures.full, "--origin", "node-z") == []
    bad = run_cli("dump", fixtures.full, "--type", "KeyExploded")
    assert bad.code == 2 and "KeyPut" in bad.err


def test_human_table_and_limit(fixtures: Any) -> None:
    result = run_cli("dump", fixtures.full, "--limit", "40")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split()[:3] == ["offset", "time", "(UTC)"]
    assert "[bold]odd key" in result.out
    assert "expires 2024-05-01T14:00:02.040Z" in result.out
    assert len([line for line in lines if "node-a:" in line]) == 40


def test_dump_of_a_corrupt_log_stops_at_the_damage(fixtures: Any) -> None:
    damaged = fixtures.live_states["corrupt"]
    result = run_cli("dump", fixtures.corrupt, "--json")
    assert result.code == 1
    offsets = [e["offset"] for e in result.json_lines()]
    assert offsets[-1] == damaged["offset"] - 1
    assert sorted(set(offsets)) == list(range(damaged["offset"]))
    assert f"before offset {damaged['offset']}" in result.err
    assert damaged["segment"] in result.err and f"at byte {damaged['position']}" in result.err


def test_dump_of_a_torn_log_reads_everything_before_the_tail(fixtures: Any) -> None:
    result = run_cli("dump", fixtures.torn, "--json")
    assert result.code == 0
    assert len(result.json_lines()) == 343


def test_dump_of_a_trimmed_log_says_where_it_starts(fixtures: Any) -> None:
    result = run_cli("dump", fixtures.snapshotted, "--json")
    assert result.code == 0
    assert result.json_lines()[0]["offset"] == 302
    assert "offsets before 302 were removed" in result.err


def test_dump_streams_lazily(fixtures: Any) -> None:
    stream = dump(open_data_dir(fixtures.full), EventFilter(key_glob="bulk:*"))
    events = iter(stream)
    first = next(events)
    assert first.event.key == "bulk:000"
    assert stream.next_offset == first.offset + 1  # nothing after it was read yet
