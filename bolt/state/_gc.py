"""Tombstone collection once causally stable (pure: no clock, no I/O).

Theory of operation
-------------------
A cluster node keeps three kinds of bookkeeping that no reader sees:

* a deleted key's **tombstone**: an entry of kind TOMBSTONE whose stamp
  ``(hlc, origin)`` makes writes older than the delete lose;
* a key's **reset floor**: the HLC of the last delete or overwrite below
  which set members and list elements are dead (the entry's ``hlc`` when it
  is a tombstone, and each container's ``floor``; a container's floor at
  or below the entry's ``hlc`` says nothing the entry does not, and is
  dropped whatever ``S``, since which of the two holds it depends only on
  the order the events arrived in);
* removed set members and list elements (``pending_removals``), kept so a
  remove that arrives before its add still cancels it.

Each exists only to make some *late* event lose: one whose HLC is at or
below the stamp (a tombstone or floor suppresses writes at or below its
HLC; a removed element is a tag or position with that HLC). The cluster
computes a **stable HLC** ``S`` (:mod:`bolt.cluster._stability`): every
configured node has applied every event with an HLC at or below ``S``. Once
a stamp is at or below ``S``, every event it could ever make lose is already
applied on every node -- so its dot is in every node's version vector and
``Engine.ingest``'s dot check skips any replay of it -- and the bookkeeping
has nothing left to do. :func:`collect_entry` drops it; :func:`collect_names`
does so for a slice of a shard's names and settles the memory accounting.

A stamp above ``S`` is never touched, so collection is monotone: what a
reader sees is unchanged (the property tests check it), and collecting,
then applying any event later than ``S``, ends in the same state as
applying, then collecting.

A removed element's tombstone is dropped once its *push* (tag or position)
is stable, although the removal may not be: no late event can need it, but
a state of this node then lacks both the element and its tombstone while a
node that has not applied the removal still holds the element. A full sync
carries the sender's local stable HLC for that (``forget_bodies`` and
``forget_unsent`` in :mod:`bolt.state._merge`).

CRDT counters' observed-reset bases are not tombstones: later totals are
absolute, so a base is needed for as long as the counter exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bolt.crdt import ORMap, ORSet, Sequence, position_hlc
from bolt.state._entry import HASH, LIST, SET, TOMBSTONE, Entry
from bolt.state._keyspace import Keyspace, Shard

NEVER = 1 << 64
"""``oldest_left`` when no tombstone is left (above every HLC)."""


@dataclass
class Collected:
    """What one collection pass found: tombstones dropped and left, bytes freed,
    the names still holding tombstones and the oldest stamp among theirs."""

    collected: int = 0
    remaining: int = 0
    bytes_freed: int = 0
    left: list[str] = field(default_factory=list)
    oldest_left: int = NEVER

    def add(self, other: Collected) -> None:
        """Add ``other``'s findings to these."""
        self.collected += other.collected
        self.remaining += other.remaining
        self.bytes_freed += other.bytes_freed
        self.left += other.left
        self.oldest_left = min(self.oldest_left, other.oldest_left)


def tombstone_count(entry: Entry) -> int:
    """The tombstones ``entry`` holds: its own, its containers' floors and removals."""
    count = 1 if entry.kind == TOMBSTONE and entry.hlc else 0
    bodies = entry.bodies
    if bodies:
        for kind, body in bodies.items():
            if kind in (SET, LIST, HASH):
                count += len(body.pending_removals) + (1 if body.floor else 0)
    return count


def oldest_stamp(entry: Entry) -> int:
    """The oldest HLC among ``entry``'s tombstones (:data:`NEVER` if none)."""
    oldest = entry.hlc if entry.kind == TOMBSTONE and entry.hlc else NEVER
    bodies = entry.bodies
    if bodies:
        for kind, body in bodies.items():
            if kind in (SET, HASH):  # (member or field, tag) removals
                stamps = [tag[0] for _, tag in body.pending_removals]
            elif kind == LIST:
                stamps = [position_hlc(p) for p in body.pending_removals]
            else:
                continue
            if body.floor:
                stamps.append(body.floor)
            oldest = min(oldest, *stamps) if stamps else oldest
    return oldest


def _collect_set(members: ORSet | ORMap, stable_hlc: int, reset_hlc: int) -> int:
    collected = 0
    pending = members.pending_removals
    if pending:
        keep = {p for p in pending if p[1][0] > stable_hlc}
        collected += len(pending) - len(keep)
        members.pending_removals = keep
    if members.floor and (members.floor <= stable_hlc or members.floor <= reset_hlc):
        members.floor = 0
        collected += 1
    return collected


def _collect_list(sequence: Sequence, stable_hlc: int, reset_hlc: int) -> int:
    collected = 0
    pending = sequence.pending_removals
    if pending:
        keep = {p for p in pending if position_hlc(p) > stable_hlc}
        collected += len(pending) - len(keep)
        sequence.pending_removals = keep
    if sequence.floor and (sequence.floor <= stable_hlc or sequence.floor <= reset_hlc):
        sequence.floor = 0
        collected += 1
    return collected


def collect_entry(entry: Entry, stable_hlc: int) -> int:
    """Drop ``entry``'s tombstones stamped at or below ``stable_hlc``.

    The caller settles the entry afterwards (an entry left dead is removed).

    Args:
        entry: one key's state (changed in place).
        stable_hlc: every node has applied every event at or below it.

    Returns:
        How many tombstones were dropped.
    """
    collected = 0
    bodies: dict[int, Any] | None = entry.bodies
    if bodies:
        for kind, body in bodies.items():
            if kind in (SET, HASH):  # an OR-map's removals are shaped like an OR-set's
                collected += _collect_set(body, stable_hlc, entry.hlc)
            elif kind == LIST:
                collected += _collect_list(body, stable_hlc, entry.hlc)
    if entry.kind == TOMBSTONE and entry.hlc and entry.hlc <= stable_hlc:
        # The delete (and the floor it sets for the containers) is stable.
        entry.hlc = 0
        entry.origin = ""
        collected += 1
    if collected and bodies:
        entry.drop_empty_bodies()
    return collected


def collect_names(keyspace: Keyspace, shard: Shard, names: list[str], stable_hlc: int) -> Collected:
    """Collect the stable tombstones of ``names`` (a slice of ``shard``'s names).

    Names no longer in the shard are skipped. Entries left holding nothing
    are removed from the keyspace; the others are re-sized, so
    ``keyspace.memory_used`` gets the bytes back. A shard that changed is
    marked as holding the newest applied offset, so a snapshot round that
    follows a newer record writes it.

    Returns:
        What was found (see :class:`Collected`).
    """
    result = Collected()
    entries = shard.entries
    before = keyspace.memory_used
    for name in names:
        entry = entries.get(name)
        if entry is None or (entry.kind != TOMBSTONE and not entry.bodies):
            continue
        dropped = collect_entry(entry, stable_hlc)
        if dropped:
            result.collected += dropped
            keyspace.settle(shard, name, entry)
        if name in entries:
            left = tombstone_count(entry)
            if left:
                result.remaining += left
                result.left.append(name)
                result.oldest_left = min(result.oldest_left, oldest_stamp(entry))
    if result.collected:
        shard.offset = max(shard.offset, keyspace.applying_offset)
        keyspace.collected_hlc = max(keyspace.collected_hlc, stable_hlc)
    result.bytes_freed = before - keyspace.memory_used
    return result


def collect_candidates(keyspace: Keyspace, names: Iterable[str], stable_hlc: int) -> Collected:
    """:func:`collect_names` for names from anywhere in the keyspace (grouped by shard)."""
    by_shard: dict[int, list[str]] = {}
    for name in names:
        by_shard.setdefault(keyspace.shard_of(name).index, []).append(name)
    result = Collected()
    for index, group in by_shard.items():
        result.add(collect_names(keyspace, keyspace.shards[index], group, stable_hlc))
    return result


def collect(keyspace: Keyspace, stable_hlc: int) -> Collected:
    """Collect every stable tombstone of ``keyspace`` at once (tests, tools)."""
    result = Collected()
    for shard in keyspace.shards:
        result.add(collect_names(keyspace, shard, list(shard.entries), stable_hlc))
    return result
