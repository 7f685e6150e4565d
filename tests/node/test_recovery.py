"""Recovery: newest snapshot + log replay gives back exactly the live state.

Every data type survives close/reopen in all three fsync modes; a snapshot
followed by more writes recovers to the live state (checked on a crash image:
the data directory copied as it was, snapshot older than the log); a changed
shard count is handled, and keeps being handled on later restarts; the HLC
never goes backwards and the node's seq continues; and the log alone, replayed
into a fresh keyspace, gives the same answers as the live engine.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from bolt.errors import OutOfMemoryError, RequestError
from bolt.events import decode_record
from bolt.log import LogReader
from bolt.node import Engine, open_engine
from bolt.testing._clock import ManualClock
from tests.node._support import START, all_names, config, crash_image, engine_view, replay_log
from tests.state._support import assert_memory_exact, view

KEYS = [("", k) for k in ("s", "b", "n", "l", "t", "c", "e", "gone", "k\0nul")] + [
    ("db1", "s"),
    ("db1", "l"),
]


async def _write_every_type(engine: Engine) -> None:
    writes: list[tuple[str, list[Any], str | None]] = [
        ("PUT", ["s", "text"], None),
        ("PUT", ["b", b"\x00\xff"], None),
        ("INCRBY", ["n", -41], None),
        ("INCR", ["n"], None),
        ("RPUSH", ["l", "x", "y", "z"], None),
        ("LPUSH", ["l", "w"], None),
        ("RPOP", ["l"], None),
        ("SADD", ["t", "m1", "m2", "m3"], None),
        ("SREM", ["t", "m2"], None),
        ("CINCRBY", ["c", 10], None),
        ("CDECR", ["c"], None),
        ("SETEX", ["e", "soon", 100], None),
        ("PUT", ["gone", "v"], None),
        ("DEL", ["gone"], None),
        ("PUT", ["k\0nul", "nul"], None),
        ("PUT", ["s", "other db"], "db1"),
        ("RPUSH", ["l", "db1 list"], "db1"),
    ]
    for command, args, db in writes:
        await engine.execute(command, args, db)


@pytest.mark.trio
@pytest.mark.parametrize("fsync", ["always", "batch", "off"])
async def test_every_type_survives_close_and_reopen(tmp_path: Path, fsync: str) -> None:
    clock = ManualClock(START)
    cfg = config(tmp_path / "d", clock, fsync=fsync)
    async with open_engine(cfg) as engine:
        await _write_every_type(engine)
        live = engine_view(engine, KEYS)
        assert live[("", "l")][3] == ["w", "x", "y"]
        assert live[("", "c")][5] == 9
    async with open_engine(cfg) as engine:
        assert engine_view(engine, KEYS) == live
        assert_memory_exact(engine.keyspace)
        assert engine.submit("TTL", ["e"])[0] == 100


@pytest.mark.trio
async def test_snapshot_then_more_writes_recovers_the_live_state(tmp_path: Path) -> None:
    clock = ManualClock(START)
    data = tmp_path / "d"
    cfg = config(data, clock, fsync="always")
    async with open_engine(cfg) as engine:
        await _write_every_type(engine)
        await engine.snapshot_now()
        await engine.execute("PUT", ["s", "after the snapshot"])
        await engine.execute("RPUSH", ["l", "late"])
        await engine.execute("SREM", ["t", "m1"])
        await engine.execute("CINCRBY", ["c", 5])
        await engine.execute("DEL", ["b"])
        await engine.execute("PUT", ["gone", "back"])
        live = engine_view(engine, KEYS)
        stats = engine.statistics()
        image = crash_image(data, tmp_path / "image")
    # The crash image has the old snapshot and a longer log.
    async with open_engine(config(image, clock)) as recovered:
        assert recovered.recovery is not None
        assert recovered.recovery.replayed_records > 0
        assert engine_view(recovered, KEYS) == live
        assert recovered.statistics().seq == stats.seq
        assert recovered.origin == stats.node_id
        assert_memory_exact(recovered.keyspace)
    # And the cleanly closed directory too.
    async with open_engine(cfg) as reopened:
        assert engine_view(reopened, KEYS) == live


@pytest.mark.trio
async def test_a_changed_shard_count_keeps_working_on_later_restarts(tmp_path: Path) -> None:
    clock = ManualClock(START)
    data = tmp_path / "d"
    keys = [("", f"k{i}") for i in range(30)]
    async with open_engine(config(data, clock, shard_count=8)) as engine:
        for _, key in keys:
            await engine.execute("RPUSH", [key, "x"])
        live = engine_view(engine, keys)
    async with open_engine(config(data, clock, shard_count=3)) as engine:
        assert engine_view(engine, keys) == live
        assert_memory_exact(engine.keyspace)
        for _, key in keys[::2]:
            await engine.execute("DEL", [key])
        live = engine_view(engine, keys)
    for count in (3, 3, 8):
        async with open_engine(config(data, clock, shard_count=count)) as engine:
            assert engine_view(engine, keys) == live, f"shard_count={count}"
            assert_memory_exact(engine.keyspace)


@pytest.mark.trio
async def test_the_hlc_never_goes_backwards_and_the_seq_continues(tmp_path: Path) -> None:
    clock = ManualClock(START)
    data = tmp_path / "d"
    cfg = config(data, clock)
    async with open_engine(cfg) as engine:
        for index in range(5):
            await engine.execute("PUT", [f"k{index}", "v"])
        before = engine.statistics()
    clock.set(START - 3_600_000)  # the wall clock jumped an hour back
    async with open_engine(cfg) as engine:
        assert engine.statistics().seq == before.seq
        assert engine.clock.last >= before.hlc
        await engine.execute("PUT", ["after", "v"])
    events = [e for _, p in LogReader(data / "log").read(0) for e in decode_record(p)]
    hlcs = [e.hlc for e in events]
    assert hlcs == sorted(hlcs) and len(set(hlcs)) == len(hlcs)
    assert events[-1].hlc > before.hlc
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


@pytest.mark.trio
async def test_the_hlc_survives_a_restart_with_only_a_snapshot(tmp_path: Path) -> None:
    # After a snapshot the log may be trimmed: the HLC must come back anyway.
    clock = ManualClock(START)
    cfg = config(tmp_path / "d", clock, segment_bytes_max=512)
    async with open_engine(cfg) as engine:
        for index in range(40):
            await engine.execute("PUT", [f"k{index}", "v" * 40])
        await engine.snapshot_now()
        last = engine.clock.last
    clock.set(START - 10_000)
    async with open_engine(cfg) as engine:
        assert engine.clock.last >= last
        await engine.execute("PUT", ["x", "y"])
        assert engine.clock.last > last
        assert engine.submit("GET", ["k39"])[0] == "v" * 40


def _random_workload(rnd: random.Random) -> tuple[str, list[object]]:
    key = rnd.choice(["a", "b", "c", "d", "e"])
    command = rnd.choice(
        [
            "PUT",
            "SETEX",
            "DEL",
            "INCR",
            "CINCR",
            "CDECR",
            "RPUSH",
            "LPUSH",
            "LPOP",
            "RPOP",
            "SADD",
            "SREM",
            "MSET",
            "MDEL",
        ]
    )
    if command in ("PUT",):
        return command, [key, "v" * rnd.randint(0, 60)]
    if command == "SETEX":
        return command, [key, "t", rnd.randint(1, 3)]
    if command in ("RPUSH", "LPUSH"):
        return command, [key, "x" * rnd.randint(0, 30), "y"]
    if command in ("SADD", "SREM"):
        return command, [key, rnd.choice(["m", "n"])]
    if command == "MSET":
        return command, [key, "1", rnd.choice("abcde"), "2"]
    if command == "MDEL":
        return command, [key, rnd.choice("abcde")]
    return command, [key]


@pytest.mark.trio
@pytest.mark.parametrize("policy", ["noeviction", "allkeys-lru", "allkeys-random"])
@pytest.mark.parametrize("seed", range(4))
async def test_the_log_alone_rebuilds_the_live_state(
    tmp_path: Path, policy: str, seed: int
) -> None:
    # The log is also the replication stream: replayed into a fresh keyspace
    # (what a peer or a snapshot-less recovery does) it must give the same
    # answers as the live engine -- evictions included.
    rnd = random.Random(seed)
    clock = ManualClock(START)
    data = tmp_path / "d"
    cfg = config(data, clock, max_memory_bytes=2_500, eviction_policy=policy)
    async with open_engine(cfg) as engine:
        for _ in range(150):
            clock.advance(rnd.choice([0, 5, 900]))
            command, args = _random_workload(rnd)
            try:
                await engine.execute(command, args)
            except (RequestError, OutOfMemoryError):
                pass
        keys = [("", k) for k in "abcde"]
        live = engine_view(engine, keys)
        await engine._log.flush()  # type: ignore[union-attr]
        replayed = replay_log(data)
        assert view(replayed, keys, clock()) == live
        assert_memory_exact(engine.keyspace)
        # Recovery reclaims expired keys at once; so does the live sweep, in time.
        engine._reclaim_expired(clock(), None)
        names = all_names(engine)
        image = crash_image(data, tmp_path / "image")
    async with open_engine(config(image, clock)) as recovered:
        assert engine_view(recovered, keys) == live
        # Invisible entries too (a deleted CRDT counter keeps its observed base): none
        # appears or vanishes.
        assert all_names(recovered) == names


@pytest.mark.trio
async def test_expired_keys_are_gone_after_a_restart(tmp_path: Path) -> None:
    clock = ManualClock(START)
    cfg = config(tmp_path / "d", clock)
    async with open_engine(cfg) as engine:
        await engine.execute("SETEX", ["e", "v", 5])
        await engine.execute("PUT", ["p", "v"])
    clock.advance(6_000)
    async with open_engine(cfg) as engine:
        assert engine.submit("GET", ["e"])[0] is None
        assert engine.submit("KEYS", [])[0] == ["p"]
        assert engine.keyspace.get("e") is None  # reclaimed at open
        assert_memory_exact(engine.keyspace)


@pytest.mark.trio
async def test_the_collection_horizon_survives_a_restart(tmp_path: Path) -> None:
    """``Keyspace.collected_hlc`` is what stops a full sync's older state from
    bringing back what was collected here; a restart must not lose it (a
    wiped data directory has none)."""
    clock = ManualClock(START)
    data = tmp_path / "d"
    async with open_engine(config(data, clock, fsync="always")) as engine:
        await _write_every_type(engine)
        assert engine.keyspace.collected_hlc == 0
        engine.keyspace.collected_hlc = horizon = engine.clock.last
        await engine.snapshot_now()
        image = crash_image(data, tmp_path / "image")
    async with open_engine(config(image, clock)) as recovered:
        assert recovered.keyspace.collected_hlc == horizon
    async with open_engine(config(data, clock, shard_count=8)) as resharded:
        assert resharded.keyspace.collected_hlc == horizon
    async with open_engine(config(tmp_path / "wiped", clock)) as fresh:
        assert fresh.keyspace.collected_hlc == 0
