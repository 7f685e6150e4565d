"""Hybrid logical clock.

Theory of operation
-------------------
An HLC reading is one integer: the physical part (milliseconds since the Unix
epoch) shifted left by ``limits.hlc_logical_bits`` (16), plus a logical counter
in the low bits. Integers compare in the right order, pack small in msgpack,
and are cheap to copy.

Rules (Kulkarni et al., "Logical Physical Clocks"):

* ``tick()`` for a local event: the new reading is ``max(last + 1, now << 16)``.
  It is strictly greater than every reading this clock has produced or
  observed, so events of one node are totally ordered and causality is kept.
* ``observe(remote)`` when an event from another node arrives: the clock moves
  to at least ``remote``, so everything this node does afterwards is ordered
  after it. A remote reading whose physical part is more than
  ``max_offset_ms`` ahead of the local wall clock is refused with
  :class:`~bolt.errors.ClockSkewError` and does not move the clock: one node
  with a broken clock must not drag the whole cluster into the future.
* The clock never goes backwards, across restarts too: the engine persists
  the high-water mark (the largest reading issued) and passes it back as
  ``last`` when it reopens.

The wall clock is injected (``now_ms``), so tests control time.
"""

from __future__ import annotations

from collections.abc import Callable

from bolt import limits
from bolt.errors import ClockSkewError

LOGICAL_BITS = limits.hlc_logical_bits
LOGICAL_MASK = (1 << LOGICAL_BITS) - 1


def hlc_from_ms(ms: int, logical: int = 0) -> int:
    """Build an HLC reading from milliseconds and a logical counter."""
    return (ms << LOGICAL_BITS) | logical


def hlc_ms(hlc: int) -> int:
    """The physical (wall-clock milliseconds) part of an HLC reading."""
    return hlc >> LOGICAL_BITS


def hlc_logical(hlc: int) -> int:
    """The logical counter of an HLC reading."""
    return hlc & LOGICAL_MASK


class HybridClock:
    """A hybrid logical clock for one node.

    Args:
        now_ms: returns the wall clock in integer milliseconds.
        max_offset_ms: remote readings further ahead than this are refused.
        last: the high-water mark to resume from (0 for a new node).
    """

    __slots__ = ("_last", "_now_ms", "max_offset_ms", "rejected_total")

    def __init__(
        self,
        now_ms: Callable[[], int],
        max_offset_ms: int = limits.max_clock_offset_ms_default,
        last: int = 0,
    ) -> None:
        self._now_ms = now_ms
        self._last = last
        self.max_offset_ms = max_offset_ms
        self.rejected_total = 0

    @property
    def last(self) -> int:
        """The largest reading this clock has issued or observed."""
        return self._last

    def tick(self) -> int:
        """Return a new reading for a local event, greater than any before."""
        wall = self._now_ms() << LOGICAL_BITS
        last = self._last + 1
        self._last = reading = wall if wall > last else last
        return reading

    def tick_many(self, count: int) -> int:
        """Reserve ``count`` consecutive readings for a batch of local events.

        Returns the first; the batch's events take ``first``, ``first + 1``,
        ... ``first + count - 1``, and the clock continues after the last. One
        wall-clock read for the whole batch (a 100-key MSET reads it once).
        """
        wall = self._now_ms() << LOGICAL_BITS
        first = self._last + 1
        first = max(first, wall)
        self._last = first + count - 1
        return first

    def observe(self, remote: int) -> int:
        """Merge a remote reading into the clock.

        Args:
            remote: the HLC of an event received from another node.

        Returns:
            The clock's reading after the merge (at least ``remote``).

        Raises:
            ClockSkewError: ``remote`` is more than ``max_offset_ms`` ahead of
                the local wall clock; the clock is left unchanged.
        """
        now = self._now_ms()
        ahead_ms = (remote >> LOGICAL_BITS) - now
        if ahead_ms > self.max_offset_ms:
            self.rejected_total += 1
            raise ClockSkewError(
                f"remote clock is {ahead_ms} ms ahead of this node "
                f"(limit {self.max_offset_ms} ms, BOLT_MAX_CLOCK_OFFSET_MS)"
            )
        self._last = max(self._last, remote)
        return self._last

    def offset_ms(self, remote: int) -> int:
        """How far ``remote`` is ahead (+) or behind (-) the local wall clock."""
        return (remote >> LOGICAL_BITS) - self._now_ms()
