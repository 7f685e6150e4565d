"""Add-wins observed-remove map of last-writer-wins fields (Redis hashes).

Theory of operation
-------------------
A hash maps **fields** to values. Each write of a field (HSET, HINCRBY)
creates a unique **tag** ``(hlc, origin)`` that carries the value written, and
names the tags of that field it observed (a fact, like an OR-set remove):
those are superseded. A field delete (HDEL) names the tags it observed and
removes exactly those. So:

* a field is present while it has at least one live tag; its value is the
  value of its largest live tag (last writer wins by ``(hlc, origin)``);
* two concurrent writes of one field both stay live until a later write
  observes them; the later HLC is the value everywhere;
* a write concurrent with a delete of the field carries a tag the delete
  never saw, so it survives: add wins;
* writes to different fields never interact.

Removed ``(field, tag)`` pairs are **tombstones**, kept as in
:class:`~bolt.crdt.ORSet`: with ``keep_tombstones`` (a cluster node) for good,
so the state is the same whatever the delivery order, duplicates included, and
a remove that arrives before its write cancels it; without (a standalone node
applying its own log in order) only while the write has not been seen.

A key reset (delete, overwrite by another type) at HLC ``h`` drops every tag
at or below ``h``.

Sequential use keeps exactly one live tag per field, stored as a bare
``(tag, value)`` pair; a dict of tags appears only under concurrent writes.

:func:`merge` joins two whole states (full sync): live tags and tombstones
are unions, the floor is the maximum, and a tag dead in either state is dead
in the result. It is commutative, associative and idempotent for states kept
with ``keep_tombstones`` (what a cluster node holds).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

Tag = tuple[int, str]
FieldValue = str | bytes
Live = tuple[Tag, FieldValue] | dict[Tag, FieldValue]


def _as_dict(live: Live) -> dict[Tag, FieldValue]:
    if isinstance(live, dict):
        return dict(live)
    return {live[0]: live[1]}


def _compact(tags: dict[Tag, FieldValue]) -> Live | None:
    if not tags:
        return None
    if len(tags) == 1:
        return next(iter(tags.items()))
    return tags


class ORMap:
    """Fields mapped to their live tags and values (see the module docstring)."""

    __slots__ = ("fields", "floor", "pending_removals")

    def __init__(self) -> None:
        self.floor = 0  # the newest key reset seen: tags at or below it are dead
        self.fields: dict[FieldValue, Live] = {}
        self.pending_removals: set[tuple[FieldValue, Tag]] = set()  # tombstones

    # --- writing ------------------------------------------------------------

    def put(
        self,
        field: FieldValue,
        value: FieldValue,
        tag: Tag,
        observed: Iterable[Tag] = (),
        floor_hlc: int = 0,
        keep_tombstones: bool = True,
    ) -> bool:
        """Write ``field = value`` under ``tag``, superseding the ``observed`` tags.

        ``floor_hlc`` is the key's reset HLC: tags at or below it are dead.

        Returns:
            True if the field became present (it was absent before).
        """
        current = self.fields.get(field)
        live = {} if current is None else _as_dict(current)
        floor_hlc = max(floor_hlc, self.floor)
        pending = self.pending_removals
        for old in observed:
            old = (old[0], old[1])
            if old[0] <= floor_hlc:
                continue  # already dead by the key's reset
            if old in live:
                del live[old]
                if keep_tombstones:
                    pending.add((field, old))
            else:
                pending.add((field, old))
        if tag[0] > floor_hlc:
            if (field, tag) in pending:
                if not keep_tombstones:
                    pending.discard((field, tag))
            else:
                live[tag] = value
        # Assigning in place keeps the field's position (Redis keeps a
        # rewritten field where it was).
        compact = _compact(live)
        if compact is None:
            if current is not None:
                del self.fields[field]
            return False
        self.fields[field] = compact
        return current is None

    def remove(
        self,
        field: FieldValue,
        tags: Iterable[Tag],
        floor_hlc: int = 0,
        keep_tombstones: bool = True,
    ) -> bool:
        """Remove the observed ``tags`` of ``field``; True if the field disappeared."""
        current = self.fields.get(field)
        live = {} if current is None else _as_dict(current)
        floor_hlc = max(floor_hlc, self.floor)
        changed = False
        for tag in tags:
            tag = (tag[0], tag[1])
            if tag[0] <= floor_hlc:
                continue  # already dead by the key's reset
            if tag in live:
                del live[tag]
                changed = True
                if keep_tombstones:
                    self.pending_removals.add((field, tag))
            else:
                self.pending_removals.add((field, tag))
        if current is None or not changed:
            return False
        compact = _compact(live)
        if compact is None:
            del self.fields[field]
            return True
        self.fields[field] = compact
        return False

    def prune(self, floor_hlc: int) -> None:
        """Drop every tag at or below ``floor_hlc`` (a key reset)."""
        self.floor = max(self.floor, floor_hlc)
        for field in list(self.fields):
            live = {t: v for t, v in _as_dict(self.fields[field]).items() if t[0] > floor_hlc}
            compact = _compact(live)
            if compact is None:
                del self.fields[field]
            else:
                self.fields[field] = compact
        self.pending_removals = {p for p in self.pending_removals if p[1][0] > floor_hlc}

    # --- reading ------------------------------------------------------------

    def tags(self, field: FieldValue) -> list[Tag]:
        """The live tags of ``field`` (what a write or delete issued now observes)."""
        current = self.fields.get(field)
        if current is None:
            return []
        if isinstance(current, dict):
            return sorted(current)
        return [current[0]]

    def get(self, field: FieldValue) -> FieldValue | None:
        """The value of ``field`` (its largest live tag's), or None if absent."""
        current = self.fields.get(field)
        if current is None:
            return None
        if isinstance(current, dict):
            return current[max(current)]
        return current[1]

    def items(self) -> Iterator[tuple[FieldValue, FieldValue]]:
        """``(field, value)`` for every present field, in insertion order."""
        for field, current in self.fields.items():
            if isinstance(current, dict):
                yield field, current[max(current)]
            else:
                yield field, current[1]

    def __contains__(self, field: object) -> bool:
        return field in self.fields

    def __len__(self) -> int:
        return len(self.fields)

    def __iter__(self) -> Iterator[FieldValue]:
        return iter(self.fields)

    def newest_live_hlc(self) -> int:
        """The largest live tag HLC (0 if empty)."""
        return max((t[0] for f in self.fields for t in self.tags(f)), default=0)

    def state(self) -> tuple[Any, ...]:
        """A canonical, comparable form of the whole state (for tests and checks)."""
        live = sorted(
            ((repr(f), t, repr(v)) for f, c in self.fields.items() for t, v in _as_dict(c).items()),
        )
        return (self.floor, tuple(live), tuple(sorted(self.pending_removals, key=repr)))

    # --- encoding -----------------------------------------------------------

    def to_wire(self) -> list[object]:
        """``[fields, tombstones, floor]``: ``fields`` is ``[[field, [[hlc, origin,
        value], ...]], ...]``, ``tombstones`` is ``[[field, [hlc, origin]], ...]``."""
        return [
            [
                [f, [[t[0], t[1], v] for t, v in sorted(_as_dict(c).items())]]
                for f, c in self.fields.items()
            ],
            [[f, list(t)] for f, t in sorted(self.pending_removals, key=repr)],
            self.floor,
        ]

    @classmethod
    def from_wire(cls, data: list[object]) -> ORMap:
        """Rebuild a map from :meth:`to_wire`'s form."""
        fields, pending, floor = data
        assert isinstance(fields, list) and isinstance(pending, list) and isinstance(floor, int)
        result = cls()
        result.floor = floor
        for field, tags in fields:
            compact = _compact({(t[0], t[1]): t[2] for t in tags})
            if compact is not None:
                result.fields[field] = compact
        result.pending_removals = {(f, (t[0], t[1])) for f, t in pending}
        return result

    def copy(self) -> ORMap:
        """An independent copy."""
        return ORMap.from_wire(self.to_wire())

    def forget_seen(self, seen_hlc: int, held: ORMap | None) -> None:
        """Drop the field writes tagged at or below ``seen_hlc`` that ``held`` lacks.

        ``held`` is the map of a node that has applied every event at or
        below ``seen_hlc``: such a write missing there was removed or
        overwritten there (its tombstone may since have been collected), so
        joining this state into it must not bring it back. In place.
        """
        for field in list(self.fields):
            tags = _as_dict(self.fields[field])
            theirs = held.fields.get(field) if held is not None else None
            kept = _as_dict(theirs) if theirs is not None else {}
            live = {t: v for t, v in tags.items() if t[0] > seen_hlc or t in kept}
            if len(live) == len(tags):
                continue
            compact = _compact(live)
            if compact is None:
                del self.fields[field]
            else:
                self.fields[field] = compact

    def merge(self, other: ORMap) -> ORMap:
        """The join of this state and ``other`` (a new map; see :func:`merge`)."""
        return merge(self, other)


def merge(a: ORMap, b: ORMap) -> ORMap:
    """Join two whole hash states (full sync): commutative, associative, idempotent.

    The floor is the larger one; tombstones are the union; a field's live
    tags are the union of both sides' minus every tombstone and every tag at
    or below the floor. Neither argument is changed.
    """
    result = ORMap()
    result.floor = floor = max(a.floor, b.floor)
    dead = {p for p in a.pending_removals | b.pending_removals if p[1][0] > floor}
    result.pending_removals = dead
    for side in (a, b):
        for field, current in side.fields.items():
            for tag, value in _as_dict(current).items():
                if tag[0] <= floor or (field, tag) in dead:
                    continue
                existing = result.fields.get(field)
                tags = {} if existing is None else _as_dict(existing)
                tags[tag] = value
                compact = _compact(tags)
                assert compact is not None
                result.fields[field] = compact
    return result
