"""A manual wall clock for tests: time moves only when the test says so.

Theory of operation
-------------------
Bolt never reads the wall clock directly: the engine and the hybrid logical
clock take a ``now_ms`` callable. :class:`ManualClock` is such a callable
whose value changes only through :meth:`ManualClock.advance` and
:meth:`ManualClock.set`, so expiry, TTLs and HLC readings are deterministic::

    clock = ManualClock(1_700_000_000_000)
    engine_config = EngineConfig(now_ms=clock)
    clock.advance(1500)

It may be moved backwards with :meth:`set` (to test that the HLC never goes
backwards when the wall clock does).
"""

from __future__ import annotations

__all__ = ["ManualClock"]


class ManualClock:
    """A callable returning integer milliseconds, moved by hand.

    Args:
        start_ms: the initial reading, in milliseconds since the Unix epoch.
            Defaults to a fixed, realistic instant (2023-11-14).

    Raises:
        TypeError: ``start_ms`` is not an integer (bools refused).
        ValueError: ``start_ms`` is negative.
    """

    __slots__ = ("_now_ms",)

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now_ms = _checked_ms(start_ms, "start_ms")

    def __call__(self) -> int:
        """The current reading in milliseconds."""
        return self._now_ms

    @property
    def now_ms(self) -> int:
        """The current reading in milliseconds (same as calling the clock)."""
        return self._now_ms

    def advance(self, ms: int) -> int:
        """Move the clock forward by ``ms`` milliseconds; return the new reading.

        Raises:
            TypeError: ``ms`` is not an integer.
            ValueError: ``ms`` is negative (use :meth:`set` to go back).
        """
        self._now_ms += _checked_ms(ms, "ms")
        return self._now_ms

    def set(self, now_ms: int) -> None:
        """Put the clock at ``now_ms`` (backwards too: a wall clock can jump).

        Raises:
            TypeError: ``now_ms`` is not an integer.
            ValueError: ``now_ms`` is negative.
        """
        self._now_ms = _checked_ms(now_ms, "now_ms")

    def __repr__(self) -> str:
        return f"ManualClock({self._now_ms})"


def _checked_ms(value: object, what: str) -> int:
    if type(value) is not int:
        raise TypeError(f"{what} must be an integer number of milliseconds")
    if value < 0:
        raise ValueError(f"{what} must not be negative")
    return value
