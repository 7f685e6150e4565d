"""``Engine.submit_large``: a long batch lets other tasks run, and is all-or-nothing on refusal.

A 100k-key MSET used to hold the event loop for ~400 ms. Split into chunks
of ``limits.batch_chunk_keys`` keys, other tasks run between chunks; every
argument is checked (and the memory limit applied) for the whole request
before the first chunk is written, so a refusal writes nothing.
"""

from __future__ import annotations

import pytest
import trio

from bolt import limits
from bolt.errors import BadRequestError, OutOfMemoryError, TooLargeError
from bolt.node import open_engine
from bolt.testing._clock import ManualClock
from tests.node._support import START, config

KEYS = 20 * limits.batch_chunk_keys + 17  # 21 chunks


def _pairs(prefix: str, count: int = KEYS) -> list[str]:
    pairs: list[str] = []
    for i in range(count):
        pairs += [f"{prefix}{i}", f"v{i}"]
    return pairs


@pytest.mark.trio
async def test_a_long_mset_mget_mdel_give_what_one_call_gives_and_let_others_run() -> None:
    async with open_engine(config(None, ManualClock(START))) as engine:
        turns = 0
        done = trio.Event()

        async def other_client() -> None:
            nonlocal turns
            while not done.is_set():
                turns += 1
                await trio.lowlevel.checkpoint()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(other_client)
            await trio.lowlevel.checkpoint()
            start = turns
            reply, offset = await engine.submit_large("MSET", _pairs("k"), "db")
            ran_during_mset = turns - start
            got, _ = await engine.submit_large("MGET", [f"k{i}" for i in range(KEYS)], "db")
            deleted, _ = await engine.submit_large(
                "MDEL", [f"k{i}" for i in range(0, KEYS, 2)], "db"
            )
            done.set()
        assert reply == KEYS
        # trio may run the other task before or after us in each round, so not
        # every one of the 20 gaps need show it; without chunks it would be 0.
        assert ran_during_mset >= 5
        assert offset == 20  # MSET: 21 records (offsets 0..20)
        assert engine.last_offset == 20 + 11  # MDEL of 10,009 keys: 11 more
        assert got == [f"v{i}" for i in range(KEYS)]
        assert deleted == (KEYS + 1) // 2
        assert engine.submit("GET", ["k1"], "db")[0] == "v1"
        assert engine.submit("GET", ["k0"], "db")[0] is None


@pytest.mark.trio
async def test_a_refused_long_batch_writes_nothing() -> None:
    async with open_engine(config(None, ManualClock(START))) as engine:
        bad = _pairs("k")
        bad[-1] = 7  # the very last value is not a string: refused, chunk 1 included
        with pytest.raises(BadRequestError):
            await engine.submit_large("MSET", bad)
        with pytest.raises(BadRequestError):
            await engine.submit_large("MSET", _pairs("k")[:-1])  # odd: no value for the last key
        with pytest.raises(TooLargeError):
            await engine.submit_large("MGET", ["k"] * (limits.batch_keys_max + 1))
        assert engine.last_offset == -1
        assert engine.submit("GET", ["k0"])[0] is None


@pytest.mark.trio
async def test_the_memory_limit_counts_the_whole_long_batch() -> None:
    small = config(None, ManualClock(START), max_memory_bytes=200_000, eviction_policy="noeviction")
    async with open_engine(small) as engine:
        with pytest.raises(OutOfMemoryError):
            await engine.submit_large("MSET", _pairs("k"))  # each chunk fits, the whole does not
        assert engine.last_offset == -1


@pytest.mark.trio
async def test_a_short_batch_is_one_record_as_before() -> None:
    async with open_engine(config(None, ManualClock(START))) as engine:
        assert await engine.submit_large("MSET", _pairs("k", 10)) == (10, 0)
        assert await engine.submit_large("GET", ["k1"]) == ("v1", -1)
