"""Dots, version vectors and dot sets.

Theory of operation
-------------------
Every event has a **dot**: ``(origin, seq)``, the node that made it and that
node's own counter (1, 2, 3, ...). A dot names one event everywhere.

A :class:`VersionVector` maps origin → highest seq such that *every* event of
that origin up to it has been seen. Merge is the per-origin maximum.

A :class:`DotSet` is what a node has applied: a version vector plus the
"exceptions" — dots seen out of order above the contiguous prefix. Replication
streams each origin's events in log order, so the exceptions are normally
empty; they exist so that ``apply`` stays correct when events arrive in any
order, with duplicates (the property tests feed exactly that). ``add`` tells
whether a dot is new, which is how duplicates are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

Dot = tuple[str, int]


class VersionVector:
    """Per-origin highest contiguous seq; merge is the per-origin max."""

    __slots__ = ("_counters",)

    def __init__(self, counters: Mapping[str, int] | None = None) -> None:
        self._counters: dict[str, int] = dict(counters or {})

    def get(self, origin: str) -> int:
        """The highest seq of ``origin`` covered (0 if none)."""
        return self._counters.get(origin, 0)

    def covers(self, dot: Dot) -> bool:
        """True if the event ``dot`` is included."""
        return dot[1] <= self._counters.get(dot[0], 0)

    def advance(self, origin: str, seq: int) -> None:
        """Raise ``origin``'s entry to ``seq`` (never lowers it)."""
        if seq > self._counters.get(origin, 0):
            self._counters[origin] = seq

    def merge(self, other: VersionVector) -> None:
        """Per-origin maximum with ``other``, in place."""
        for origin, seq in other._counters.items():
            self.advance(origin, seq)

    def dominates(self, other: VersionVector) -> bool:
        """True if every entry of ``other`` is covered by this vector."""
        return all(self.get(o) >= s for o, s in other._counters.items())

    def to_dict(self) -> dict[str, int]:
        """A plain copy, for encoding."""
        return dict(self._counters)

    def items(self) -> Iterator[tuple[str, int]]:
        return iter(self._counters.items())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VersionVector):
            return NotImplemented
        return {k: v for k, v in self._counters.items() if v} == {
            k: v for k, v in other._counters.items() if v
        }

    def __hash__(self) -> int:  # pragma: no cover - mutable, not hashable
        raise TypeError("VersionVector is mutable")

    def __repr__(self) -> str:
        return f"VersionVector({self._counters!r})"


class DotSet:
    """The set of dots a node has applied: a version vector plus exceptions."""

    __slots__ = ("_exceptions", "vector")

    def __init__(
        self,
        vector: VersionVector | None = None,
        exceptions: Iterable[Dot] = (),
    ) -> None:
        self.vector = vector or VersionVector()
        self._exceptions: dict[str, set[int]] = {}
        for dot in exceptions:
            self.add(dot)

    def __contains__(self, dot: Dot) -> bool:
        origin, seq = dot
        if seq <= self.vector.get(origin):
            return True
        extra = self._exceptions.get(origin)
        return extra is not None and seq in extra

    def add(self, dot: Dot) -> bool:
        """Record ``dot``; return False if it was already present."""
        origin, seq = dot
        counters = self.vector._counters
        top = counters.get(origin, 0)
        if seq <= top:
            return False
        if seq == top + 1:
            extra = self._exceptions.get(origin)
            if not extra:
                counters[origin] = seq
                return True
            if seq in extra:
                return False
            # Fold any exceptions that are now contiguous into the vector.
            while seq + 1 in extra:
                seq += 1
                extra.discard(seq)
            counters[origin] = seq
            if not extra:
                del self._exceptions[origin]
            return True
        extra = self._exceptions.setdefault(origin, set())
        if seq in extra:
            return False
        extra.add(seq)
        return True

    def highest(self, origin: str) -> int:
        """The highest seq of ``origin`` seen at all (gaps included)."""
        extra = self._exceptions.get(origin)
        top = self.vector.get(origin)
        return max(top, *extra) if extra else top

    def exceptions(self) -> list[Dot]:
        """Dots held above the contiguous prefix, sorted."""
        return sorted((o, s) for o, seqs in self._exceptions.items() for s in seqs)

    def merge(self, other: DotSet) -> None:
        """Add every dot of ``other`` (a union), in place; ``other`` is not changed.

        Exceptions that the merged vector now covers are dropped and those
        that became contiguous are folded into it, as :meth:`add` does.
        """
        exceptions = sorted(self.exceptions() + other.exceptions())
        self.vector.merge(other.vector)
        self._exceptions = {}
        for dot in exceptions:
            self.add(dot)

    def copy(self) -> DotSet:
        return DotSet(VersionVector(self.vector.to_dict()), self.exceptions())

    def to_wire(self) -> list[object]:
        """``[vector_dict, [[origin, seq], ...]]`` for snapshots."""
        return [self.vector.to_dict(), [list(d) for d in self.exceptions()]]

    @classmethod
    def from_wire(cls, data: list[object]) -> DotSet:
        vector, exceptions = data
        assert isinstance(vector, dict) and isinstance(exceptions, list)
        return cls(VersionVector(vector), [(o, s) for o, s in exceptions])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DotSet):
            return NotImplemented
        return self.vector == other.vector and self.exceptions() == other.exceptions()

    def __hash__(self) -> int:  # pragma: no cover - mutable, not hashable
        raise TypeError("DotSet is mutable")
