"""Token budgets and rate limits for agents, on CRDT counters.

A :class:`Budget` allows ``per_minute`` units (tokens of an LLM API, or task
claims for a rate limit) in each wall-clock minute. What was spent in a
minute is the CRDT counter ``bolt:budget:NAME:MINUTE`` (``CINCRBY``), so
every agent -- on every node, once nodes replicate -- counts against the
same total without coordination; a concurrent overshoot is bounded by what
the agents spend between two looks (documented, not prevented).

A worker subscribed with ``budget=`` waits before each claim while the
minute's budget is spent (a timed sleep to the next minute, checking
``stop()``, never a busy loop), and a budget with ``cost_per_task`` (a rate
limit) is charged that much for every task claimed. The callback charges
what it really used with :meth:`Budget.spend`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bolt.agents._coordinator import TaskCoordinator

_WINDOW_SECONDS = 60


class Budget:
    """``per_minute`` units per wall-clock minute, shared by every agent (see the module)."""

    def __init__(
        self,
        coordinator: TaskCoordinator,
        name: str,
        per_minute: int,
        *,
        cost_per_task: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(per_minute, int) or per_minute < 1:
            raise ValueError("per_minute must be a positive int")
        self.coordinator = coordinator
        self.name = name
        self.per_minute = per_minute
        self.cost_per_task = cost_per_task
        self._clock = clock

    def _window(self) -> int:
        return int(self._clock() // _WINDOW_SECONDS)

    def _key(self, window: int) -> str:
        return f"bolt:budget:{self.name}:{window}"

    def spent(self) -> int:
        """Units spent in the current minute (by every agent)."""
        spent: int = self.coordinator.client.cget(self._key(self._window()))
        return spent

    def remaining(self) -> int:
        """Units left in the current minute (0 when spent or overspent)."""
        return max(0, self.per_minute - self.spent())

    def spend(self, units: int) -> int:
        """Charge ``units`` to the current minute; returns the minute's total."""
        window = self._window()
        total: int = self.coordinator.client.cincrby(self._key(window), units)
        return total

    def wait(self, stop: threading.Event | None = None, timeout: float | None = None) -> bool:
        """Block while the current minute's budget is spent.

        Returns:
            True when units are available; False if ``stop`` was set or
            ``timeout`` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.remaining() <= 0:
            until_next = _WINDOW_SECONDS - self._clock() % _WINDOW_SECONDS
            pause = min(until_next + 0.01, 1.0)  # look at stop() at least once a second
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                pause = min(pause, left)
            if stop is not None:
                if stop.wait(pause):
                    return False
            else:
                time.sleep(pause)
        return True
