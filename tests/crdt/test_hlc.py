"""Hybrid logical clock: monotonic ticks, bounded observe, restart resume.

The laws come from ``bolt/crdt/_hlc.py``: ``tick`` is strictly greater than
every reading issued or observed, even when the wall clock jumps back;
``observe`` moves the clock to at least the remote reading unless that reading
is more than ``max_offset_ms`` ahead, in which case it raises ClockSkewError
and leaves the clock untouched; a clock built with ``last`` never issues a
reading at or below it.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bolt import limits
from bolt.crdt import HybridClock, hlc_from_ms, hlc_logical, hlc_ms
from bolt.errors import ClockSkewError, ServerError
from bolt.testing._clock import ManualClock

START_MS = 1_700_000_000_000

# A step of the wall clock: forwards or backwards by up to 10 s, or staying put.
wall_steps = st.lists(st.integers(min_value=-10_000, max_value=10_000), max_size=60)


def test_reading_layout_round_trips() -> None:
    reading = hlc_from_ms(START_MS, 7)
    assert hlc_ms(reading) == START_MS
    assert hlc_logical(reading) == 7
    assert hlc_from_ms(START_MS + 1) > hlc_from_ms(START_MS, (1 << limits.hlc_logical_bits) - 1)


@given(st.integers(0, 2**40), st.integers(0, (1 << limits.hlc_logical_bits) - 1))
def test_reading_parts_property(ms: int, logical: int) -> None:
    reading = hlc_from_ms(ms, logical)
    assert (hlc_ms(reading), hlc_logical(reading)) == (ms, logical)


def test_tick_follows_the_wall_clock() -> None:
    clock = ManualClock(START_MS)
    hlc = HybridClock(clock)
    first = hlc.tick()
    assert first == hlc_from_ms(START_MS)
    second = hlc.tick()
    assert second == first + 1  # same millisecond: the logical part counts
    clock.advance(5)
    assert hlc.tick() == hlc_from_ms(START_MS + 5)
    assert hlc.last == hlc_from_ms(START_MS + 5)


@settings(max_examples=150, deadline=None)
@given(wall_steps, st.lists(st.booleans(), max_size=60))
def test_tick_strictly_increases_even_when_the_wall_clock_goes_back(
    steps: list[int], observe_flags: list[bool]
) -> None:
    clock = ManualClock(START_MS)
    hlc = HybridClock(clock)
    previous = hlc.tick()
    for index, step in enumerate(steps):
        clock.set(max(0, clock() + step))
        if index < len(observe_flags) and observe_flags[index]:
            # A remote reading from a node a little ahead of us (within limits).
            remote = hlc_from_ms(clock() + 100, 3)
            assert hlc.observe(remote) >= remote
            previous = max(previous, remote)
        reading = hlc.tick()
        assert reading > previous
        assert reading >= hlc_from_ms(clock())
        previous = reading


def test_observe_moves_the_clock_forward_and_ticks_stay_after_it() -> None:
    clock = ManualClock(START_MS)
    hlc = HybridClock(clock, max_offset_ms=500)
    local = hlc.tick()
    remote = hlc_from_ms(START_MS + 400, 9)
    assert hlc.observe(remote) == remote
    assert hlc.last == remote
    assert hlc.tick() > remote > local


def test_observe_of_an_older_reading_keeps_the_clock() -> None:
    clock = ManualClock(START_MS)
    hlc = HybridClock(clock)
    hlc.tick()
    current = hlc.tick()
    assert hlc.observe(hlc_from_ms(START_MS - 10_000)) == current
    assert hlc.last == current


@pytest.mark.parametrize("ahead_ms", [501, 10_000, 10**9])
def test_observe_too_far_ahead_raises_and_leaves_the_clock_unchanged(ahead_ms: int) -> None:
    clock = ManualClock(START_MS)
    hlc = HybridClock(clock, max_offset_ms=500)
    hlc.tick()
    before = hlc.last
    with pytest.raises(ClockSkewError) as info:
        hlc.observe(hlc_from_ms(START_MS + ahead_ms))
    assert isinstance(info.value, ServerError)
    assert info.value.code == ClockSkewError.code
    assert hlc.last == before
    assert hlc.rejected_total == 1
    assert hlc.tick() == before + 1  # nothing of the refused reading leaked in


def test_observe_exactly_at_the_limit_is_accepted() -> None:
    clock = ManualClock(START_MS)
    hlc = HybridClock(clock, max_offset_ms=500)
    remote = hlc_from_ms(START_MS + 500, 65535)
    assert hlc.observe(remote) == remote
    assert hlc.rejected_total == 0


@settings(max_examples=100, deadline=None)
@given(st.integers(-5_000, 5_000), st.integers(1, 5_000))
def test_observe_accepts_iff_within_offset(ahead_ms: int, max_offset: int) -> None:
    clock = ManualClock(START_MS)
    hlc = HybridClock(clock, max_offset_ms=max_offset)
    before = hlc.tick()
    remote = hlc_from_ms(START_MS + ahead_ms)
    if ahead_ms > max_offset:
        with pytest.raises(ClockSkewError):
            hlc.observe(remote)
        assert hlc.last == before
    else:
        assert hlc.observe(remote) == max(before, remote)


def test_offset_ms_is_signed_distance() -> None:
    clock = ManualClock(START_MS)
    hlc = HybridClock(clock)
    assert hlc.offset_ms(hlc_from_ms(START_MS + 250)) == 250
    assert hlc.offset_ms(hlc_from_ms(START_MS - 250)) == -250


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 1 << 50), st.integers(-100_000, 100_000))
def test_restart_with_last_never_goes_backwards(last_offset: int, wall_delta: int) -> None:
    # The previous run issued readings up to `last`; the wall clock at restart
    # may be anywhere (even far behind).
    last = hlc_from_ms(START_MS) + last_offset
    clock = ManualClock(max(0, START_MS + wall_delta))
    hlc = HybridClock(clock, last=last)
    assert hlc.last == last
    first = hlc.tick()
    assert first > last
    assert hlc.tick() > first


def test_logical_counter_overflow_still_increases() -> None:
    clock = ManualClock(START_MS)
    hlc = HybridClock(clock, last=hlc_from_ms(START_MS, (1 << limits.hlc_logical_bits) - 1))
    reading = hlc.tick()
    assert reading > hlc_from_ms(START_MS, (1 << limits.hlc_logical_bits) - 1)
    assert hlc_ms(reading) == START_MS + 1
