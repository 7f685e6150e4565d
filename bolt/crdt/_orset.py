"""Add-wins observed-remove set.

Theory of operation
-------------------
Each add of a member creates a unique **tag** ``(hlc, origin)``. A remove
carries the tags it observed (a fact) and removes exactly those, so an add
concurrent with a remove (a tag the remover never saw) survives: add wins.

Removed ``(member, tag)`` pairs are **tombstones**. With
``keep_tombstones`` (the default, and what a cluster node uses) they are kept
for good (until causal-stability GC), so the state — live tags and
tombstones — is the same whatever the delivery order, duplicates included,
and a remove that arrives before its add cancels it. Without (a standalone
node, which applies its own log in order), a tombstone is kept only while its
add has not been seen, so queues of pops do not leave garbage behind.

A key reset (delete, overwrite) at HLC ``h`` drops every tag with an HLC at or
below ``h``: writes older than a delete are ignored, newer ones resurrect it.

Sequential use (one node, or a well-connected cluster) keeps exactly one tag
per member, stored bare; a set of tags appears only under concurrent adds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

Tag = tuple[int, str]
MemberValue = str | bytes


class ORSet:
    """Members mapped to their live tags."""

    __slots__ = ("floor", "members", "pending_removals")

    def __init__(self) -> None:
        self.floor = 0  # the newest key reset seen: tags at or below it are dead
        self.members: dict[MemberValue, Tag | set[Tag]] = {}
        self.pending_removals: set[tuple[MemberValue, Tag]] = set()  # tombstones

    def add(
        self, member: MemberValue, tag: Tag, floor_hlc: int = 0, keep_tombstones: bool = True
    ) -> bool:
        """Add ``member`` with ``tag``; return True if the member became present.

        ``floor_hlc`` is the key's reset HLC: tags at or below it are dead.
        """
        if tag[0] <= max(floor_hlc, self.floor):
            return False
        pending = self.pending_removals
        if pending and (member, tag) in pending:
            if not keep_tombstones:
                pending.discard((member, tag))
            return False
        current = self.members.get(member)
        if current is None:
            self.members[member] = tag
            return True
        if isinstance(current, set):
            current.add(tag)
        elif current != tag:
            self.members[member] = {current, tag}
        return False

    def tags(self, member: MemberValue) -> list[Tag]:
        """The live tags of ``member`` (what a remove issued now observes)."""
        current = self.members.get(member)
        if current is None:
            return []
        if isinstance(current, set):
            return sorted(current)
        return [current]

    def remove(
        self,
        member: MemberValue,
        tags: Iterable[Tag],
        floor_hlc: int = 0,
        keep_tombstones: bool = True,
    ) -> bool:
        """Remove the observed ``tags`` of ``member``; True if it disappeared."""
        current = self.members.get(member)
        live = (
            set() if current is None else (set(current) if isinstance(current, set) else {current})
        )
        floor_hlc = max(floor_hlc, self.floor)
        for tag in tags:
            tag = (tag[0], tag[1])
            if tag[0] <= floor_hlc:
                continue  # already dead by the key's reset
            if tag in live:
                live.discard(tag)
                if keep_tombstones:
                    self.pending_removals.add((member, tag))
            else:
                self.pending_removals.add((member, tag))
        if current is None:
            return False
        if not live:
            del self.members[member]
            return True
        self.members[member] = live if len(live) > 1 else next(iter(live))
        return False

    def prune(self, floor_hlc: int) -> None:
        """Drop every tag at or below ``floor_hlc`` (a key reset)."""
        self.floor = max(self.floor, floor_hlc)
        for member in list(self.members):
            live = [t for t in self.tags(member) if t[0] > floor_hlc]
            if not live:
                del self.members[member]
            else:
                self.members[member] = live[0] if len(live) == 1 else set(live)
        self.pending_removals = {p for p in self.pending_removals if p[1][0] > floor_hlc}

    def __contains__(self, member: object) -> bool:
        return member in self.members

    def __len__(self) -> int:
        return len(self.members)

    def __iter__(self) -> Iterator[MemberValue]:
        return iter(self.members)

    def forget_seen(self, seen_hlc: int, held: ORSet | None) -> None:
        """Drop the add tags at or below ``seen_hlc`` that ``held`` does not hold.

        ``held`` is the set of a node that has applied every event at or
        below ``seen_hlc``: such a tag missing there was removed there (its
        tombstone may since have been collected), so joining this state into
        it must not bring the member back. Tombstones are kept. In place.
        """
        for member in list(self.members):
            tags = self.tags(member)
            kept = held.tags(member) if held is not None else []
            live = [t for t in tags if t[0] > seen_hlc or t in kept]
            if len(live) == len(tags):
                continue
            if not live:
                del self.members[member]
            else:
                self.members[member] = live[0] if len(live) == 1 else set(live)

    def merge(self, other: ORSet) -> None:
        """Join ``other``'s whole state into this set, in place (a full sync).

        The state of an OR-set is the set of adds it saw and the set of
        removes (tombstones), cut by the newest reset: live tags are the adds
        of either side that neither side removed and that are newer than the
        higher ``floor``; tombstones are the union, cut the same way. Union
        and cut are commutative, associative and idempotent, and give what
        applying both sides' events would (``tests/crdt/test_merge.py``).
        ``other`` is not changed.
        """
        floor = max(self.floor, other.floor)
        tombstones = self.pending_removals | other.pending_removals
        live: dict[MemberValue, set[Tag]] = {}
        for source in (self, other):
            for member in source.members:
                for tag in source.tags(member):
                    if tag[0] > floor and (member, tag) not in tombstones:
                        live.setdefault(member, set()).add(tag)
        self.floor = floor
        self.members = {m: next(iter(t)) if len(t) == 1 else t for m, t in live.items()}
        self.pending_removals = {p for p in tombstones if p[1][0] > floor}

    def newest_live_hlc(self) -> int:
        """The largest live tag HLC (0 if empty)."""
        return max((t[0] for m in self.members for t in self.tags(m)), default=0)

    def to_wire(self) -> list[object]:
        return [
            [[m, [list(t) for t in self.tags(m)]] for m in self.members],
            [[m, list(t)] for m, t in sorted(self.pending_removals, key=repr)],
            self.floor,
        ]

    @classmethod
    def from_wire(cls, data: list[object]) -> ORSet:
        members, pending, floor = data
        result = cls()
        assert isinstance(members, list) and isinstance(pending, list) and isinstance(floor, int)
        result.floor = floor
        for member, tags in members:
            live = {(t[0], t[1]) for t in tags}
            result.members[member] = live if len(live) > 1 else next(iter(live))
        result.pending_removals = {(m, (t[0], t[1])) for m, t in pending}
        return result
