"""The change feed: committed records announced in order, slow subscribers dropped.

Local writes and ingested events reach subscribers the same way; a subscriber
that falls behind is dropped (memory back at once), told where to resume, and
``read_changes``/``follow`` fill the gap from the log, so nothing is missed.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing

from bolt.errors import BadRequestError, FeedDroppedError, LogTrimmedError
from bolt.events import KeyDeleted, KeyPut, ListPushed
from bolt.node import ChangeFeed, Engine, open_engine
from bolt.testing._clock import ManualClock
from tests.node._support import START, config


@pytest.mark.trio
async def test_subscribers_get_every_committed_record_in_order(tmp_path: Path) -> None:
    async with open_engine(config(tmp_path / "d", ManualClock(START))) as engine:
        engine.submit("PUT", ["before", "x"])
        with engine.feed.subscribe(name="t") as sub:
            assert sub.start_offset == engine.last_offset + 1
            engine.submit("PUT", ["a", "1"])
            engine.submit("GET", ["a"])  # a read commits nothing
            engine.submit("MSET", ["b", "2", "c", "3"])
            engine.submit("RPUSH", ["l", "x"], "other")
            engine.ingest([KeyPut("peer", 1, START << 16, "", "p", "v", 0)])
            engine.submit("DEL", ["a"])
            changes = [await sub.receive() for _ in range(5)]
            assert sub.pending() == 0
        offsets = [c.offset for c in changes]
        assert offsets == list(range(sub.start_offset, sub.start_offset + 5))
        kinds = [[type(e) for e in c.events] for c in changes]
        assert kinds == [[KeyPut], [KeyPut, KeyPut], [ListPushed], [KeyPut], [KeyDeleted]]
        assert changes[2].events[0].db == "other"
        assert changes[3].events[0].origin == "peer"
        # The feed's records are the log's records.
        await engine.wait_durable(engine.last_offset)
        assert engine.read_changes(sub.start_offset) == changes
        assert engine.feed.statistics().subscribers == 0


@pytest.mark.trio
async def test_a_slow_subscriber_is_dropped_without_slowing_writers(tmp_path: Path) -> None:
    async with open_engine(config(tmp_path / "d", ManualClock(START))) as engine:
        slow = engine.feed.subscribe(capacity=3, name="slow")
        fast = engine.feed.subscribe(capacity=1000)
        for i in range(10):
            engine.submit("PUT", [f"k{i}", "v"])  # never waits for anyone
        # The fourth record found the queue full: the queue went (memory back
        # at once) and the subscriber resumes from the first record it lost.
        assert slow.dropped and slow.pending() == 0
        with pytest.raises(FeedDroppedError) as caught:
            await slow.receive()
        assert caught.value.resume_offset == slow.start_offset
        assert engine.feed.statistics().dropped_total == 1
        assert fast.pending() == 10 and not fast.dropped
        await engine.wait_durable(engine.last_offset)
        gap = engine.read_changes(caught.value.resume_offset)
        assert [c.events[0].key for c in gap] == [f"k{i}" for i in range(10)]
        fast.close()


@pytest.mark.trio
async def test_receive_waits_for_the_next_commit_and_close_wakes_it(tmp_path: Path) -> None:
    async with open_engine(config(None, ManualClock(START))) as engine:
        sub = engine.feed.subscribe()
        got: list[int] = []

        async def reader() -> None:
            got.append((await sub.receive()).offset)
            with pytest.raises(FeedDroppedError):
                await sub.receive()
            got.append(-1)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            await trio.testing.wait_all_tasks_blocked()
            assert got == []
            engine.submit("PUT", ["k", "v"])
            await trio.testing.wait_all_tasks_blocked()
            assert got == [0]
            sub.close()
        assert got == [0, -1]


@pytest.mark.trio
async def test_follow_reads_the_log_then_the_feed_and_survives_drops(tmp_path: Path) -> None:
    async with open_engine(config(tmp_path / "d", ManualClock(START))) as engine:
        for i in range(25):
            engine.submit("PUT", [f"old{i}", "v"])
        seen: list[int] = []

        async def consumer() -> None:
            async with contextlib.aclosing(engine.follow(5, capacity=4)) as changes:
                async for change in changes:
                    seen.append(change.offset)
                    if len(seen) % 7 == 0:
                        await trio.sleep(0.01)  # fall behind now and then
                    if len(seen) == 20 + 60:
                        return

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consumer)
            for i in range(60):
                engine.submit("PUT", [f"new{i}", "v"])
                if i % 10 == 0:
                    await trio.lowlevel.checkpoint()
        assert seen == list(range(5, 85))
        assert engine.feed.dropped_total >= 1  # the drops really happened


@pytest.mark.trio
async def test_without_a_log_old_offsets_cannot_be_read(tmp_path: Path) -> None:
    async with open_engine(config(None, ManualClock(START))) as engine:
        engine.submit("PUT", ["k", "v"])
        with pytest.raises(LogTrimmedError):
            engine.read_changes(0)
        assert engine.read_changes(engine.last_offset + 1) == []


def test_a_capacity_must_be_positive() -> None:
    engine = Engine(config(None, ManualClock(START)))
    for bad in (0, -1, 1.5, "3"):
        with pytest.raises(BadRequestError):
            engine.feed.subscribe(capacity=bad)  # type: ignore[arg-type]
    assert engine.feed.statistics().subscribers == 0


@pytest.mark.trio
async def test_a_drop_while_a_woken_receiver_yields_raises_feed_dropped() -> None:
    # The receiver is woken by a record, then the feed drops it (a burst over
    # capacity) before it takes the record: receive() must raise
    # FeedDroppedError, not fail on an empty queue (it once crashed the daemon).
    for _ in range(20):
        feed = ChangeFeed(lambda: 0)
        subscription = feed.subscribe(1, name="woken")
        outcome: list[BaseException] = []

        async def receive(subscription: Any = subscription, outcome: Any = outcome) -> None:
            try:
                await subscription.receive()
            except BaseException as exc:
                outcome.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive)
            await trio.testing.wait_all_tasks_blocked()
            feed.publish(0, ())
            await trio.lowlevel.checkpoint()
            feed.publish(1, ())
        assert outcome == [] or isinstance(outcome[0], FeedDroppedError), outcome
