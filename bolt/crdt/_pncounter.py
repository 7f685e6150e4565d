"""PN-counter with observed resets.

Theory of operation
-------------------
Each node keeps its own running totals ``P`` (increments) and ``N``
(decrements). An event carries the origin's *new totals* (a fact), so merge is
the per-node maximum: commutative, associative, idempotent, and every
increment counts exactly once however often it is delivered.

Deleting (or overwriting) a counter must not be undone by replaying old
increments, and must not swallow increments it never saw. A reset therefore
records the totals it *observed* (``base``); the value is
``sum(P - base.P) - sum(N - base.N)``. Bases merge by per-node maximum too, so
concurrent resets and increments converge: increments the reset observed are
gone, increments concurrent with it survive (like an add-wins set).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping


class PNCounter:
    """Per-node ``[P, N, hlc]`` totals plus the observed reset base."""

    __slots__ = ("base", "nodes")

    def __init__(self) -> None:
        self.nodes: dict[str, list[int]] = {}
        self.base: dict[str, tuple[int, int]] = {}

    def update(self, origin: str, positive: int, negative: int, hlc: int) -> None:
        """Merge ``origin``'s totals (per-node maximum)."""
        entry = self.nodes.get(origin)
        if entry is None:
            self.nodes[origin] = [positive, negative, hlc]
            return
        entry[0] = max(entry[0], positive)
        entry[1] = max(entry[1], negative)
        entry[2] = max(entry[2], hlc)

    def reset(self, observed: Mapping[str, tuple[int, int]]) -> None:
        """Merge a reset's observed totals into the base (per-node maximum)."""
        for origin, (positive, negative) in observed.items():
            old = self.base.get(origin, (0, 0))
            self.base[origin] = (max(old[0], positive), max(old[1], negative))

    def merge(self, other: PNCounter) -> None:
        """Join ``other``'s whole state into this counter, in place (a full sync).

        Per-node maximum of the totals (and their HLC) and of the reset
        base: the same rule as :meth:`update` and :meth:`reset`, for every
        node at once. ``other`` is not changed.
        """
        for origin, (positive, negative, hlc) in other.nodes.items():
            self.update(origin, positive, negative, hlc)
        self.reset(other.base)

    def totals(self, origin: str) -> tuple[int, int]:
        """``origin``'s current ``(P, N)`` totals (0, 0 if none)."""
        entry = self.nodes.get(origin)
        return (entry[0], entry[1]) if entry else (0, 0)

    def observed(self) -> dict[str, tuple[int, int]]:
        """Every node's totals: what a reset issued now would observe."""
        return {origin: (e[0], e[1]) for origin, e in self.nodes.items()}

    def _live(self) -> Iterator[tuple[str, list[int], tuple[int, int]]]:
        for origin, entry in self.nodes.items():
            b = self.base.get(origin, (0, 0))
            if entry[0] > b[0] or entry[1] > b[1]:
                yield origin, entry, b

    def value(self) -> int:
        """The counter's value: increments minus decrements since the resets."""
        total = 0
        for _, entry, b in self._live():
            total += max(entry[0] - b[0], 0) - max(entry[1] - b[1], 0)
        return total

    def live(self) -> bool:
        """True if any increment or decrement is not covered by a reset."""
        return any(True for _ in self._live())

    def newest_live_hlc(self) -> int:
        """The HLC of the newest change not covered by a reset (0 if none)."""
        return max((entry[2] for _, entry, _ in self._live()), default=0)

    def to_wire(self) -> list[object]:
        return [
            {o: list(e) for o, e in self.nodes.items()},
            {o: list(b) for o, b in self.base.items()},
        ]

    @classmethod
    def from_wire(cls, data: list[object]) -> PNCounter:
        nodes, base = data
        counter = cls()
        assert isinstance(nodes, dict) and isinstance(base, dict)
        counter.nodes = {o: list(e) for o, e in nodes.items()}
        counter.base = {o: (b[0], b[1]) for o, b in base.items()}
        return counter
