"""``replay history``: every event of one key, in order, with the value after each."""

from __future__ import annotations

from typing import Any

from bolt.replay import history, open_data_dir

from .conftest import run_cli


def test_delete_then_resurrecting_write_in_order(fixtures: Any) -> None:
    result = run_cli("history", fixtures.full, fixtures.live_states["history_key"], "--json")
    assert result.code == 0, result.err
    lines = result.json_lines()
    assert [line["type"] for line in lines] == ["KeyPut", "KeyPut", "KeyDeleted", "KeyPut"]
    assert [line["offset"] for line in lines] == sorted(line["offset"] for line in lines)
    after = [line["after"]["value"] if line["after"] else None for line in lines]
    assert after == ["v1", "v2", None, "v3"]
    assert all(line["effect"] == "changed" for line in lines)
    assert all(
        line["origin"] == "node-a" and line["time"].startswith("2024-05-01T14:00:00.")
        for line in lines
    )
    assert lines[2]["hlc"] < lines[3]["hlc"]


def test_human_history_names_who_and_when(fixtures: Any) -> None:
    result = run_cli("history", fixtures.full, "profile")
    assert result.code == 0
    rows = [line for line in result.out.splitlines() if "node-a:" in line]
    assert len(rows) == 4
    assert "KeyDeleted" in rows[2] and "(absent)" in rows[2]
    assert '"v3"' in rows[3] and "2024-05-01T14:00:00.240Z" in rows[3]


def test_history_in_a_database_and_of_a_type_change(fixtures: Any) -> None:
    app = run_cli("history", fixtures.full, "greeting", "--db", "app", "--json").json_lines()
    assert [line["after"]["value"] for line in app] == ["hello from app"]
    conv = run_cli("history", fixtures.full, "conv", "--json").json_lines()
    assert [line["type"] for line in conv] == ["CrdtCounterChanged", "KeyDeleted", "KeyPut"]
    assert conv[0]["after"]["type"] == "crdt_counter"
    assert conv[1]["counter_base"] == {"node-a": [1, 0]}
    assert conv[2]["after"] == {
        "db": "",
        "key": "conv",
        "type": "string",
        "value": "now a string",
        "ttl_seconds": -1,
        "expires_at_ms": 0,
    }


def test_an_unknown_key_exits_1(fixtures: Any) -> None:
    result = run_cli("history", fixtures.full, "no-such-key")
    assert result.code == 1
    assert "no event in the retained log touched key 'no-such-key'" in result.err
    assert run_cli("history", fixtures.full, "config").code == 1  # it lives in db "app"


def test_history_starts_from_the_snapshot_when_the_log_was_trimmed(fixtures: Any) -> None:
    lines = run_cli("history", fixtures.snapshotted, "profile", "--json").json_lines()
    assert lines[0]["source"] == "snapshot"
    assert lines[0]["after"]["value"] == "v3"
    assert [line["type"] for line in lines[1:]] == ["KeyDeleted"]
    assert lines[1]["after"] is None


def test_history_of_expiry_and_lists(fixtures: Any) -> None:
    found = history(open_data_dir(fixtures.full), "", "queue")
    entries = list(found)
    assert [e.after.value if e.after else None for e in entries] == [
        ["j1", "j2", "j3"],
        ["j0", "j1", "j2", "j3"],
        ["j1", "j2", "j3"],
        ["j1", "j2"],
        ["j1", "j2", "j9"],
    ]
    assert found.count == 5 and found.damage is None


def test_history_says_what_the_snapshot_covers(fixtures: Any) -> None:
    result = run_cli("history", fixtures.snapshotted, "bulk:290")
    assert result.code == 0
    assert "1 event of the key before offset 339 is covered by the snapshot of node node-a" in (
        " ".join(result.out.split())
    )
    assert 'its value there was string "payload-290' in " ".join(result.out.split())


def test_relative_since_after_a_space_is_a_value() -> None:
    from bolt.cli.replay import attach_relative_times

    assert attach_relative_times(["replay", "dump", "D", "--since", "-5m"]) == [
        "replay", "dump", "D", "--since=-5m",
    ]  # fmt: skip
    assert attach_relative_times(["dump", "--until", "-x"]) == ["dump", "--until", "-x"]
