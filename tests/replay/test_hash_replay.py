"""Hashes through a real Engine's log and snapshot: recovery, ``replay state``,
``replay dump`` and ``replay verify`` read them back as a client would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from bolt.node import EngineConfig, open_engine
from bolt.replay._render import event_details
from bolt.testing._clock import ManualClock

from .conftest import run_cli

START_MS = 1_700_000_000_000


def _config(path: Path, clock: ManualClock) -> EngineConfig:
    return EngineConfig(
        data_dir=path,
        node_id="node-h",
        fsync="off",
        snapshot_interval_events=10**12,
        snapshot_interval_ms=10**9,
        now_ms=clock,
    )


async def _write(path: Path, clock: ManualClock) -> None:
    async with open_engine(_config(path, clock)) as engine:
        await engine.execute("HSET", ["profile", "name", "ada", "age", "36"], None)
        await engine.execute("HINCRBY", ["profile", "age", 1], None)
        await engine.snapshot_now()
        await engine.execute("HSET", ["profile", "raw", b"\xff\x00"], None)
        await engine.execute("HDEL", ["profile", "name"], None)
        await engine.execute("HSET", ["gone", "f", "v"], None)
        await engine.execute("HDEL", ["gone", "f"], None)


async def _read(path: Path, clock: ManualClock) -> Any:
    async with open_engine(_config(path, clock)) as engine:
        return [
            await engine.execute("HGETALL", ["profile"], None),
            await engine.execute("EXISTS", ["gone"], None),
        ]


def test_hashes_survive_recovery_and_replay_reads_them(tmp_path: Path) -> None:
    clock = ManualClock(START_MS)
    data = tmp_path / "data"
    trio.run(_write, data, clock)
    recovered = trio.run(_read, data, clock)
    assert recovered == [{"age": "37", "raw": b"\xff\x00"}, 0]

    state = run_cli("state", data, "--json")
    assert state.code == 0, state.err
    keys = {k["key"]: k for k in state.json()["keys"]}
    assert set(keys) == {"profile"}
    assert keys["profile"]["type"] == "hash"
    assert keys["profile"]["value"] == {"age": "37", "raw": {"bytes": "ff00"}}

    dump = run_cli("dump", data, "--json")
    assert dump.code == 0, dump.err
    types = [e["type"] for e in dump.json_lines()]
    assert types.count("HashFieldsSet") == 4 and types.count("HashFieldsDeleted") == 2

    human = run_cli("dump", data, "--key", "profile")
    assert human.code == 0, human.err
    assert "HSET" in human.out and "HDEL" in human.out

    verify = run_cli("verify", data)
    assert verify.code == 0, verify.out + verify.err


def test_event_details_name_fields_and_values() -> None:
    from bolt.events import HashFieldsDeleted, HashFieldsSet

    put = HashFieldsSet("a", 1, 5, "", "h", (("f", "1", ()), (b"\x01", "x", ((4, "b"),))))
    assert event_details(put) == 'HSET "f"="1", b\'\\x01\'="x"'
    deleted = HashFieldsDeleted("a", 2, 6, "", "h", (("f", ((5, "a"),)),))
    assert event_details(deleted) == 'HDEL ["f"]'
