"""Upkeep of the views: reclaiming expired keys, evicting, and sizing a write.

Theory of operation
-------------------
Two changes to the views do not come from a client's request, and both are
made here, next to the handlers and ``apply``, so the engine never touches an
entry's fields:

* **Expiry reclaim** (:func:`reclaim_expired`) is a documented *local* state
  transition, not an event: every node stores the same absolute expiry and
  hides the key from that instant on (DESIGN §4), so freeing the memory of a
  key that is already invisible changes nothing anyone can observe and needs
  no replication. The entry becomes a tombstone at its own stamp, so a late
  write older than the expired value still loses to it.
* **Eviction** is a real delete: :func:`eviction_events` gives the
  ``KeyDeleted`` (cause ``evicted``) that the engine commits through the one
  write path like any other event, and :func:`after_eviction` then forgets
  the entry locally (a replicated delete keeps its tombstone; an evicting node
  needs the memory back).

:func:`write_growth` is the upper bound of what a write may add, checked
against the memory limit *before* the write is applied, so a single request
cannot carry the node past its limit.
"""

from __future__ import annotations

from typing import Any

from bolt.events import Event
from bolt.state._entry import CRDT_COUNTER, ELEMENT_BYTES, ENTRY_BYTES, TOMBSTONE, value_bytes
from bolt.state._handlers import Stamper, delete_event
from bolt.state._keyspace import Keyspace, split_name


def reclaim_expired(keyspace: Keyspace, now_ms: int, limit: int | None) -> int:
    """Free the memory of at most ``limit`` expired keys (None: all); return how many.

    The keys are already invisible at ``now_ms``; see the module docstring
    for why this is a local transition and not an event.
    """
    reclaimed = 0
    for name in keyspace.pop_expired(now_ms, limit or 1 << 62):
        shard = keyspace.shard_of(name)
        entry = shard.entries.get(name)
        if entry is None or entry.kind == TOMBSTONE:
            continue
        entry.kind = TOMBSTONE
        entry.value = None
        keyspace.set_expiry(shard, name, entry, 0)
        keyspace.settle(shard, name, entry)
        if keyspace.keep_tombstones:  # an expired value's stamp is a tombstone's
            keyspace.tombstoned.add(name)
        keyspace.expired_total += 1
        reclaimed += 1
    return reclaimed


def _keeps_totals(entry: Any) -> bool:
    # A deleted CRDT counter's per-node totals must survive, or later
    # increments would restart below them and diverge.
    return bool(entry.bodies and CRDT_COUNTER in entry.bodies)


def eviction_events(keyspace: Keyspace, ctx: Stamper, name: str, now_ms: int) -> list[Event]:
    """The events that evict ``name``; empty when nothing visible was there.

    A name that shows nothing (a tombstone) is reclaimed on the spot, or, for
    a CRDT counter's kept totals, moved to the back of the LRU order.
    """
    shard = keyspace.shard_of(name)
    entry = shard.entries[name]
    if entry.visible_kind(now_ms) == TOMBSTONE:
        if _keeps_totals(entry):
            keyspace.touch(shard, name, entry)
        else:
            keyspace.remove(shard, name)
        return []
    db, key = split_name(name)
    return [delete_event(ctx, entry, db, key, "evicted")]


def after_eviction(keyspace: Keyspace, name: str) -> None:
    """Forget an evicted entry once its delete is applied (kept totals stay)."""
    shard = keyspace.shard_of(name)
    entry = shard.entries.get(name)
    if entry is not None and not _keeps_totals(entry):
        keyspace.remove(shard, name)  # a kept tombstone would not free memory
    keyspace.evicted_total += 1


def _sized(value: Any) -> int:
    return value_bytes(value) if type(value) is str or type(value) is bytes else 32


def write_growth(command: str, args: list[Any]) -> int:
    """An upper bound, in bytes, of what ``command`` with ``args`` adds to the views.

    It is the size a new key (or element) would have by the keyspace's own
    accounting, so for a string write to new keys it is exact, and writes
    over existing keys add less: it never underestimates.
    """
    if command in _PAIRS:
        return sum(_sized(arg) for arg in args) + ENTRY_BYTES * ((len(args) + 1) // 2)
    if command == "SETEX":
        return sum(_sized(arg) for arg in args[:2]) + ENTRY_BYTES
    if command in _ELEMENTS and args:
        elements = args[1:]
        return ENTRY_BYTES + _sized(args[0]) + sum(_sized(v) + ELEMENT_BYTES for v in elements)
    if command in _FIELDS and args:
        fields = args[1:]
        return (
            ENTRY_BYTES + sum(_sized(arg) for arg in args) + ELEMENT_BYTES * (len(fields) // 2 + 1)
        )
    return ENTRY_BYTES + sum(_sized(arg) for arg in args)


_PAIRS = frozenset(("PUT", "SET", "MSET"))
_ELEMENTS = frozenset(("LPUSH", "RPUSH", "SADD"))
_FIELDS = frozenset(("HSET", "HINCRBY"))
