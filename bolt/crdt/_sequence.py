"""List sequence CRDT.

Theory of operation
-------------------
Each pushed element gets a unique **position** ``(signed_hlc, origin, index)``
and the list is the elements sorted by position. RPUSH uses ``+hlc`` and the
value's index in the command, LPUSH uses ``-hlc`` and ``-index``. Because a
node's HLC only grows, sequential use matches Redis exactly: every RPUSH lands
after everything before it, every LPUSH before it, and ``LPUSH k a b c`` gives
``[c, b, a]``. Concurrent pushes on two nodes both survive, in the one order
the positions define.

A pop is logged as the position it removed (a fact), so replay and
replication remove that element and no other. Concurrent pops of the same
element on two nodes both return it (at-least-once, documented). Removed
positions are tombstones (``pending_removals``): with ``keep_tombstones``
(the default; cluster nodes) they are kept, so the state is the same in any
delivery order; a standalone node keeps one only until its insert arrives. A
key reset at HLC ``h`` drops every element and tombstone at or below ``h``.

Storage is a deque of positions (sorted) and a dict position → value: pushes
and pops at either end, the queue pattern agents use, are O(1).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice

Position = tuple[int, str, int]
Element = str | bytes


def position_hlc(position: Position) -> int:
    """The HLC at which the element at ``position`` was pushed."""
    return abs(position[0])


class Sequence:
    """Elements ordered by position."""

    __slots__ = ("floor", "order", "pending_removals", "values")

    def __init__(self) -> None:
        self.floor = 0  # the newest key reset seen: elements at or below it are dead
        self.order: deque[Position] = deque()
        self.values: dict[Position, Element] = {}
        self.pending_removals: set[Position] = set()

    def insert(
        self,
        position: Position,
        value: Element,
        floor_hlc: int = 0,
        keep_tombstones: bool = True,
    ) -> bool:
        """Insert ``value`` at ``position``; False if dead, removed or present."""
        if position_hlc(position) <= max(floor_hlc, self.floor) or position in self.values:
            return False
        if self.pending_removals and position in self.pending_removals:
            if not keep_tombstones:
                self.pending_removals.discard(position)
            return False
        order = self.order
        if not order or position > order[-1]:
            order.append(position)
        elif position < order[0]:
            order.appendleft(position)
        else:
            order.insert(bisect_left(order, position), position)
        self.values[position] = value
        return True

    def remove(
        self, position: Position, floor_hlc: int = 0, keep_tombstones: bool = True
    ) -> Element | None:
        """Remove the element at ``position``; its value, or None if absent."""
        if position_hlc(position) <= max(floor_hlc, self.floor):
            return None  # already dead by the key's reset
        value = self.values.pop(position, None)
        if value is None or keep_tombstones:
            self.pending_removals.add(position)
        if value is None:
            return None
        order = self.order
        if order[0] == position:
            order.popleft()
        elif order[-1] == position:
            order.pop()
        else:
            order.remove(position)
        return value

    def first(self) -> Position | None:
        return self.order[0] if self.order else None

    def last(self) -> Position | None:
        return self.order[-1] if self.order else None

    def prune(self, floor_hlc: int) -> None:
        """Drop every element pushed at or below ``floor_hlc`` (a key reset)."""
        self.floor = max(self.floor, floor_hlc)
        keep = [p for p in self.order if position_hlc(p) > floor_hlc]
        if len(keep) != len(self.order):
            self.values = {p: self.values[p] for p in keep}
            self.order = deque(keep)
        self.pending_removals = {p for p in self.pending_removals if position_hlc(p) > floor_hlc}

    def range(self, start: int, stop: int) -> list[Element]:
        """Elements ``start..stop`` inclusive, with Redis index rules."""
        length = len(self.order)
        if start < 0:
            start = max(length + start, 0)
        if stop < 0:
            stop = length + stop
        stop = min(stop, length - 1)
        if start > stop or start >= length:
            return []
        values = self.values
        return [values[p] for p in islice(self.order, start, stop + 1)]

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self) -> Iterator[Element]:
        values = self.values
        return (values[p] for p in self.order)

    def items(self) -> Iterable[tuple[Position, Element]]:
        values = self.values
        return ((p, values[p]) for p in self.order)

    def forget_seen(self, seen_hlc: int, held: Sequence | None) -> None:
        """Drop the elements pushed at or below ``seen_hlc`` that ``held`` lacks.

        ``held`` is the list of a node that has applied every event at or
        below ``seen_hlc``: an element that old which it does not hold was
        removed there, and the tombstone that said so may since have been
        collected (causal stability), so joining this state into it must not
        bring the element back. Tombstones are kept (a pop may be newer than
        ``seen_hlc`` though its element is older). In place.
        """
        kept = held.values if held is not None else {}
        gone = [p for p in self.order if position_hlc(p) <= seen_hlc and p not in kept]
        if gone:
            for position in gone:
                del self.values[position]
            self.order = deque(p for p in self.order if p in self.values)

    def merge(self, other: Sequence) -> None:
        """Join ``other``'s whole state into this list, in place (a full sync).

        Like :meth:`ORSet.merge`: the elements are those inserted on either
        side, removed on neither and newer than the higher ``floor``, in
        position order; the tombstones are the union, cut by that floor.
        A position names one push everywhere, so both sides hold the same
        value under it. ``other`` is not changed.
        """
        floor = max(self.floor, other.floor)
        tombstones = self.pending_removals | other.pending_removals
        values = {
            p: v
            for source in (self, other)
            for p, v in source.values.items()
            if position_hlc(p) > floor and p not in tombstones
        }
        self.floor = floor
        self.values = values
        self.order = deque(sorted(values))
        self.pending_removals = {p for p in tombstones if position_hlc(p) > floor}

    def newest_live_hlc(self) -> int:
        return max((position_hlc(p) for p in self.order), default=0)

    def to_wire(self) -> list[object]:
        return [
            [[list(p), v] for p, v in self.items()],
            [list(p) for p in sorted(self.pending_removals)],
            self.floor,
        ]

    @classmethod
    def from_wire(cls, data: list[object]) -> Sequence:
        items, pending, floor = data
        result = cls()
        assert isinstance(items, list) and isinstance(pending, list) and isinstance(floor, int)
        result.floor = floor
        for p, v in items:
            position = (p[0], p[1], p[2])
            result.order.append(position)
            result.values[position] = v
        result.pending_removals = {(p[0], p[1], p[2]) for p in pending}
        return result
