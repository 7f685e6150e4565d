"""``Engine.ingest``: events stamped elsewhere join through the one write path.

Two or three simulated nodes make a random history; its events reach a third
engine in random batches, reordered and duplicated. The engine must end in
the state that applying every event once gives, keep what it ingested across
a restart, skip what it already has, and refuse a clock too far ahead without
applying anything.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import trio
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from bolt.errors import BadRequestError, ClockSkewError
from bolt.events import KeyPut
from bolt.node import Engine, open_engine
from bolt.state import Keyspace, apply
from bolt.testing._clock import ManualClock
from tests.node._support import START, config
from tests.state._support import HISTORY_DBS, HISTORY_KEYS, random_history, view

KEYS = [(db, key) for db in HISTORY_DBS for key in HISTORY_KEYS]
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


def _batches(rnd: random.Random, events: list, duplicates: int) -> list[list]:
    order = list(events) + rnd.choices(events, k=duplicates) if events else []
    rnd.shuffle(order)
    batches = []
    while order:
        size = rnd.randint(1, 5)
        batches.append(order[:size])
        order = order[size:]
    return batches


@settings(max_examples=40, deadline=None, phases=NO_SHRINK)
@given(st.integers(0, 2**32), st.integers(2, 3), st.integers(5, 50))
def test_any_interleaving_with_duplicates_gives_the_state_of_applying_all(
    seed: int, node_count: int, steps: int
) -> None:
    _nodes, events, clock = random_history(seed, node_count, steps)
    expected = Keyspace(4)
    for event in events:
        apply(expected, event)
    rnd = random.Random(seed ^ 0x1A6E)
    batches = _batches(rnd, events, duplicates=min(len(events), 6))

    async def main() -> None:
        engine = await Engine.open(config(None, clock, node_id="third", keep_tombstones=True))
        before = engine.last_offset
        written = 0
        for batch in batches:
            offset = engine.ingest(batch)
            if offset > before:
                written += 1
                before = offset
        for now in (clock(), clock() + 120_000):
            assert view(engine.keyspace, KEYS, now) == view(expected, KEYS, now), f"seed={seed}"
        assert engine.version_vector() == expected.dots.vector.to_dict()
        assert engine.keyspace.memory_used == expected.memory_used
        assert engine.ingested_events_total == len({(e.origin, e.seq) for e in events})
        assert engine.last_offset == written - 1  # one record per batch that had news
        # Everything again, in one batch: nothing new, nothing written.
        assert engine.ingest(events) == engine.last_offset
        assert engine.last_offset == written - 1

    trio.run(main)


@pytest.mark.trio
async def test_ingested_events_survive_a_restart_and_are_not_taken_twice(tmp_path: Path) -> None:
    _nodes, events, clock = random_history(7, 2, 40)
    expected = Keyspace(4)
    for event in events:
        apply(expected, event)
    data = tmp_path / "d"
    async with open_engine(config(data, clock, keep_tombstones=True)) as engine:
        offset = engine.ingest(events[: len(events) // 2])
        offset = engine.ingest(events[len(events) // 3 :])
        await engine.wait_durable(offset)
        engine.submit("PUT", ["local", "x"], "elsewhere")
        seq_before = engine.statistics().seq
    async with open_engine(config(data, clock, keep_tombstones=True)) as engine:
        for now in (clock(), clock() + 120_000):
            assert view(engine.keyspace, KEYS, now) == view(expected, KEYS, now)
        assert engine.submit("GET", ["local"], "elsewhere")[0] == "x"
        last = engine.last_offset
        assert engine.ingest(events) == last  # all known after recovery: nothing written
        assert engine.statistics().seq == seq_before


@pytest.mark.trio
async def test_a_clock_too_far_ahead_is_refused_counted_and_nothing_applied(
    tmp_path: Path,
) -> None:
    clock = ManualClock(START)
    async with open_engine(config(tmp_path / "d", clock, max_clock_offset_ms=500)) as engine:
        ok = KeyPut("peer", 1, (START + 400) << 16, "", "near", "v", 0)
        far = KeyPut("peer", 2, (START + 2_000) << 16, "", "far", "v", 0)
        offset = engine.ingest([ok])
        assert engine.submit("GET", ["near"])[0] == "v"
        with pytest.raises(ClockSkewError):
            engine.ingest([KeyPut("peer", 3, START << 16, "", "with-far", "v", 0), far])
        assert engine.last_offset == offset
        assert engine.submit("GET", ["with-far"])[0] is None
        assert engine.submit("GET", ["far"])[0] is None
        assert engine.clock.rejected_total == 1
        assert engine.version_vector() == {"peer": 1}
        # The clock moved to the accepted reading, and no further.
        assert engine.clock.last == max(engine.clock.last, ok[2])
        assert engine.clock.last < far[2]
        clock.advance(2_000)  # the peer's clock is within bounds now
        engine.ingest([far])
        assert engine.submit("GET", ["far"])[0] == "v"


@pytest.mark.trio
async def test_our_own_events_coming_back_move_the_seq_past_them(tmp_path: Path) -> None:
    clock = ManualClock(START)
    async with open_engine(config(None, clock, node_id="me")) as engine:
        engine.ingest([KeyPut("me", 41, START << 16, "", "k", "old", 0)])
        engine.submit("PUT", ["k2", "new"])
        assert engine.statistics().seq == 42


@pytest.mark.trio
async def test_what_is_not_an_event_is_refused(tmp_path: Path) -> None:
    async with open_engine(config(None, ManualClock(START))) as engine:
        with pytest.raises(BadRequestError):
            engine.ingest([("peer", 1, 0, "", "k", "v", 0)])  # type: ignore[list-item]
        assert engine.last_offset == -1
