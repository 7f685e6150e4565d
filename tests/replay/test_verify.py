"""``replay verify``: clean, torn tail, corruption, and exit codes."""

from __future__ import annotations

from typing import Any

from bolt.replay import open_data_dir, verify

from .conftest import run_cli


def test_a_clean_directory_exits_0(fixtures: Any) -> None:
    for directory in (fixtures.full, fixtures.snapshotted, fixtures.node_a):
        result = run_cli("verify", directory)
        assert result.code == 0, result.out
        assert result.out.strip().endswith("clean")
    document = run_cli("verify", fixtures.full, "--json").json()
    assert document["clean"] is True and document["records"] == 339 and document["events"] == 343


def test_a_torn_tail_is_named_and_not_clean(fixtures: Any) -> None:
    torn = fixtures.live_states["torn"]
    result = run_cli("verify", fixtures.torn)
    assert result.code == 1
    assert "TORN TAIL" in result.out
    assert torn["segment"] in result.out and f"at byte {torn['position']}" in result.out
    assert "CORRUPT" not in result.out
    assert run_cli("verify", fixtures.torn, "--allow-torn-tail").code == 0


def test_corruption_is_named_by_file_and_byte(fixtures: Any) -> None:
    damaged = fixtures.live_states["corrupt"]
    result = run_cli("verify", fixtures.corrupt, "--json")
    assert result.code == 1
    document = result.json()
    assert document["clean"] is False
    first = document["problems"][0]
    assert damaged["segment"] in first
    assert f"at byte {damaged['position']}" in first
    assert "checksum" in first


def test_library_result_and_snapshot_check(fixtures: Any) -> None:
    result = verify(open_data_dir(fixtures.snapshotted))
    assert result.clean()
    assert result.first_offset == 302
    assert "covering offsets 338 to 338" in result.snapshot
