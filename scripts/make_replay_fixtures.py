#!/usr/bin/env python3
"""Generate the data directories the replay tool is tested on, by driving a real Engine.

Everything is deterministic: a manual wall clock starts at 2024-05-01T14:00:00Z
and moves 10 ms per command, node ids are fixed. Into ``OUT_DIR`` it writes:

* ``full/`` — node ``node-a``: every event type (strings, bytes, TTLs, MSET,
  counters, CRDT counters, lists, sets, a second database, a type change that
  logs a counter-observing delete, users), a key deleted and later written
  again, and enough bulk writes to roll several small segments. The log is
  complete from offset 0 and there is no snapshot.
* ``snapshotted/`` — the same node after a snapshot trimmed its log, with a
  few writes after it (state must come from snapshot + log).
* ``torn/`` — ``full`` with half a record appended to the last segment.
* ``corrupt/`` — ``full`` with one byte flipped inside a record of a middle
  segment (valid records follow it).
* ``node-a/`` and ``node-b/`` — two nodes that share history (``node-b`` began
  as a copy of ``node-a``) and then took different writes.
* ``live_states.json`` — what the engine itself answered (through its public
  read commands) at known offsets while the fixtures were made, plus the
  facts the tests need (the damaged offset, the torn position ...).

Usage::

    python scripts/make_replay_fixtures.py OUT_DIR
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bolt.log import SEGMENT_HEADER_BYTES, scan_records
from bolt.node import Engine, EngineConfig, open_engine

START_MS = 1_714_572_000_000
"""2024-05-01T14:00:00Z, the manual clock's first reading."""
STEP_MS = 10
SEGMENT_BYTES = 4096
DATABASES = ("", "app")
HISTORY_KEY = "profile"
FAKE_HASH = "scrypt$fixture$not-a-real-hash"


class ManualClock:
    """A wall clock that only moves when told to."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, ms: int) -> None:
        self.ms += ms


@dataclass(frozen=True)
class ReplayFixtures:
    """Where the generated fixtures are, and the facts recorded while making them."""

    root: Path
    full: Path
    snapshotted: Path
    torn: Path
    corrupt: Path
    node_a: Path
    node_b: Path
    live_states: dict[str, Any]


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def live_state(engine: Engine, clock: ManualClock) -> dict[str, Any]:
    """What the engine answers now, read through its public commands only."""
    keys: list[dict[str, Any]] = []
    for db in DATABASES:
        for key in engine.submit("KEYS", ["*"], db)[0]:
            kind = engine.submit("TYPE", [key], db)[0]
            if kind in ("string", "counter"):
                value = engine.submit("GET", [key], db)[0]
                value = int(value) if kind == "counter" else value
            elif kind == "list":
                value = engine.submit("LRANGE", [key, 0, -1], db)[0]
            elif kind == "set":
                members = engine.submit("SMEMBERS", [key], db)[0]
                value = sorted(members, key=lambda m: (isinstance(m, bytes), m))
            else:
                value = engine.submit("CGET", [key], db)[0]
            ttl = engine.submit("TTL", [key], db)[0]
            keys.append(
                {"db": db, "key": key, "type": kind, "value": _plain(value), "ttl_seconds": ttl}
            )
    return {
        "offset": engine.statistics().last_offset,
        "now_ms": clock(),
        "keys": keys,
        "users": [{"name": u.name, "role": u.role} for u in engine.users()],
    }


async def _run(engine: Engine, clock: ManualClock, command: str, *args: Any, db: str = "") -> Any:
    clock.advance(STEP_MS)
    return await engine.execute(command, list(args), db or None)


async def _phase_one(engine: Engine, clock: ManualClock) -> None:
    """Every event type, a delete and a resurrecting write, a second database, users."""
    run = _run
    await run(engine, clock, "PUT", "greeting", "hello")
    await run(engine, clock, "PUT", "doc:1", b"\x00\xffbinary")
    await run(engine, clock, "SETEX", "session:1", "token", 3600)
    await run(engine, clock, "SETEX", "flash", "gone soon", 2)
    await run(engine, clock, "MSET", "a", "1", "b", "2", "c", "3")
    for _ in range(3):
        await run(engine, clock, "INCR", "hits")
    await run(engine, clock, "DECR", "hits")
    await run(engine, clock, "INCRBY", "hits", 10)
    await run(engine, clock, "CINCR", "likes")
    await run(engine, clock, "CINCR", "likes")
    await run(engine, clock, "CDECR", "likes")
    await run(engine, clock, "CINCRBY", "likes", 5)
    await run(engine, clock, "RPUSH", "queue", "j1", "j2", "j3")
    await run(engine, clock, "LPUSH", "queue", "j0")
    await run(engine, clock, "LPOP", "queue")
    await run(engine, clock, "RPOP", "queue")
    await run(engine, clock, "SADD", "tags", "red", "green", "blue")
    await run(engine, clock, "SREM", "tags", "green")
    await run(engine, clock, "PUT", HISTORY_KEY, "v1")
    await run(engine, clock, "PUT", HISTORY_KEY, "v2")
    await run(engine, clock, "DEL", HISTORY_KEY)
    await run(engine, clock, "PUT", HISTORY_KEY, "v3")
    await run(engine, clock, "DEL", "b")
    await run(engine, clock, "MDEL", "a", "c", "never-existed")
    await run(engine, clock, "PUT", "config", "on", db="app")
    await run(engine, clock, "SADD", "members", "ann", "bo", db="app")
    await run(engine, clock, "PUT", "greeting", "hello from app", db="app")
    await run(engine, clock, "CINCR", "conv")
    await run(engine, clock, "PUT", "conv", "now a string")  # logs a counter-observing delete
    await run(engine, clock, "PUT", "[bold]odd key", "value with\nnewline")
    clock.advance(STEP_MS)
    await engine.wait_durable(engine.put_user("alice", FAKE_HASH, "readwrite"))
    clock.advance(STEP_MS)
    await engine.wait_durable(engine.put_user("bob", FAKE_HASH, "readonly"))
    clock.advance(STEP_MS)
    await engine.wait_durable(engine.delete_user("bob")[1])


async def _phase_two(engine: Engine, clock: ManualClock) -> None:
    """Changes to phase-one keys after 5 s (``flash`` expires), then bulk writes."""
    clock.advance(5000)
    await _run(engine, clock, "PUT", "greeting", "hello again")
    await _run(engine, clock, "DEL", "tags")
    await _run(engine, clock, "RPUSH", "queue", "j9")
    await _run(engine, clock, "INCR", "hits")
    for index in range(300):
        await _run(engine, clock, "PUT", f"bulk:{index:03d}", f"payload-{index:03d}-" + "x" * 16)


def _config(path: Path, node_id: str, clock: ManualClock) -> EngineConfig:
    return EngineConfig(
        data_dir=path,
        node_id=node_id,
        fsync="off",
        segment_bytes_max=SEGMENT_BYTES,
        snapshot_interval_events=10**12,
        snapshot_interval_ms=10**9,
        now_ms=clock,
    )


def _copy(source: Path, target: Path) -> None:
    """Copy a data directory (the daemon's LOCK file is only a file here)."""
    shutil.copytree(source, target)


async def _make_main(root: Path, states: dict[str, Any]) -> None:
    clock = ManualClock(START_MS)
    work = root / "work-node-a"
    async with open_engine(_config(work, "node-a", clock)) as engine:
        await _phase_one(engine, clock)
        states["phase1"] = live_state(engine, clock)
        await _phase_two(engine, clock)
        states["phase2"] = live_state(engine, clock)
        _copy(work, root / "full")
        await engine.snapshot_now()
        states["snapshot_covered"] = engine.statistics().last_offset
        await _run(engine, clock, "PUT", "greeting", "after the snapshot")
        await _run(engine, clock, "SADD", "tags", "fresh")
        await _run(engine, clock, "DEL", HISTORY_KEY)
        states["phase3"] = live_state(engine, clock)
        _copy(work, root / "snapshotted")
    shutil.rmtree(work)


async def _make_nodes(root: Path, states: dict[str, Any]) -> None:
    clock = ManualClock(START_MS + 3_600_000)
    node_a, node_b = root / "node-a", root / "node-b"
    async with open_engine(_config(node_a, "node-a", clock)) as engine:
        for index in range(40):
            await _run(engine, clock, "PUT", f"item:{index:02d}", f"value-{index}")
        await _run(engine, clock, "SADD", "team", "ann", "bo")
        await _run(engine, clock, "CINCRBY", "votes", 7)
        clock.advance(STEP_MS)
        await engine.wait_durable(engine.put_user("alice", FAKE_HASH, "readwrite"))
    _copy(node_a, node_b)
    (node_b / "NODE_ID").write_text("node-b\n")
    async with open_engine(_config(node_a, "node-a", clock)) as engine:
        await _run(engine, clock, "PUT", "item:03", "changed on a")
        await _run(engine, clock, "PUT", "only-on-a", "a")
        states["node_a"] = live_state(engine, clock)
    async with open_engine(_config(node_b, "node-b", clock)) as engine:
        await _run(engine, clock, "PUT", "item:03", "changed on b")
        await _run(engine, clock, "DEL", "item:07")
        await _run(engine, clock, "PUT", "only-on-b", "b")
        await _run(engine, clock, "SADD", "team", "cy")
        states["node_b"] = live_state(engine, clock)
    states["diff_keys"] = sorted(["item:03", "item:07", "only-on-a", "only-on-b", "team"])


def _tear(full: Path, target: Path) -> dict[str, Any]:
    """Copy ``full`` and append half a record to its last segment."""
    _copy(full, target)
    last = sorted((target / "log").glob("*.seg"))[-1]
    size = last.stat().st_size
    with last.open("ab") as file:
        file.write(struct.pack("<II", 100, 0) + b"half a rec")
    return {"segment": last.name, "position": size}


def _corrupt(full: Path, target: Path) -> dict[str, Any]:
    """Copy ``full`` and flip one payload byte of a record in a middle segment."""
    _copy(full, target)
    segments = sorted((target / "log").glob("*.seg"))
    if len(segments) < 3:
        raise RuntimeError("the fixture log needs at least 3 segments")
    victim = segments[len(segments) // 2]
    data = bytearray(victim.read_bytes())
    records, _end = scan_records(data, SEGMENT_HEADER_BYTES)
    index = len(records) // 2
    position = records[index][0]
    data[position + 8 + 1] ^= 0xFF
    victim.write_bytes(bytes(data))
    return {
        "segment": victim.name,
        "position": position,
        "offset": int(victim.name.split(".")[0]) + index,
    }


def generate(root: Path) -> ReplayFixtures:
    """Generate every fixture into ``root`` (created if missing) and describe them."""
    root.mkdir(parents=True, exist_ok=True)
    states: dict[str, Any] = {"start_ms": START_MS, "history_key": HISTORY_KEY}
    trio.run(_make_main, root, states)
    trio.run(_make_nodes, root, states)
    states["torn"] = _tear(root / "full", root / "torn")
    states["corrupt"] = _corrupt(root / "full", root / "corrupt")
    (root / "live_states.json").write_text(json.dumps(states, indent=1, ensure_ascii=False))
    return ReplayFixtures(
        root=root,
        full=root / "full",
        snapshotted=root / "snapshotted",
        torn=root / "torn",
        corrupt=root / "corrupt",
        node_a=root / "node-a",
        node_b=root / "node-b",
        live_states=states,
    )


def main() -> None:
    """Command line: generate into OUT_DIR."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path, help="where to write (must not exist yet)")
    args = parser.parse_args()
    if args.out_dir.exists() and any(args.out_dir.iterdir()):
        parser.error(f"{args.out_dir} is not empty")
    fixtures = generate(args.out_dir)
    print(f"fixtures written to {fixtures.root}")


if __name__ == "__main__":
    main()
