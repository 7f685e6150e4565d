"""Pure ``apply(keyspace, event)``: the CRDT merge of one event into the views.

Theory of operation
-------------------
``apply`` is the only way state changes — for local writes, for replay at
recovery and for events from peers alike. It uses no clock, no I/O and no
randomness, so the same set of events, delivered in any order and with
duplicates, gives the same state (the property tests check exactly this):

* a dot already applied is skipped (the keyspace's :class:`DotSet`);
* whole-value writes (KeyPut, CounterSet, KeyDeleted) win by ``(hlc, origin)``
  and prune container elements at or below their HLC;
* element operations merge into their container (see ``bolt.crdt``).

Expiry is not an event: every node stores the same absolute expiry and hides
the key from that instant on; the engine's sweep reclaims the memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bolt.crdt import newer
from bolt.events import (
    CounterSet,
    CrdtCounterChanged,
    Event,
    HashFieldsDeleted,
    HashFieldsSet,
    KeyDeleted,
    KeyPut,
    ListPopped,
    ListPushed,
    SetAdded,
    SetRemoved,
    UserDeleted,
    UserPut,
)
from bolt.state._entry import (
    COUNTER,
    CRDT_COUNTER,
    ELEMENT_BYTES,
    HASH,
    LIST,
    SET,
    STRING,
    TOMBSTONE,
    Entry,
    element_bytes,
    field_bytes,
    name_bytes,
    value_bytes,
)
from bolt.state._keyspace import Keyspace, Shard, UserRecord, key_name
from bolt.state._task_apply import TASK_HANDLERS


def apply(keyspace: Keyspace, event: Event) -> bool:
    """Merge ``event`` into ``keyspace``.

    Returns:
        False if the event's dot was already applied (nothing changed).
    """
    dots = keyspace.dots
    origin = event.origin
    seq = event.seq
    counters = dots.vector._counters
    # Fast path: the next seq of an origin with nothing out of order (the
    # normal case: one node's own writes, a peer's stream in log order).
    if seq == counters.get(origin, 0) + 1 and origin not in dots._exceptions:
        counters[origin] = seq
    elif not dots.add((origin, seq)):
        return False
    _HANDLERS[type(event)](keyspace, event)
    return True


def _locate(keyspace: Keyspace, event: Any) -> tuple[Shard, str, Entry]:
    db = event.db
    key = event.key
    name = key_name(db, key)
    shard = keyspace.shard_of(name)
    shard.offset = keyspace.applying_offset
    entry = shard.entries.get(name)
    if entry is None:
        entry = keyspace.insert(shard, name)
    elif keyspace.track_lru:
        keyspace.touch(shard, name, entry)
    return shard, name, entry


def _reset(keyspace: Keyspace, event: Any, kind: int, value: Any, expires_at: int) -> None:
    shard, name, entry = _locate(keyspace, event)
    if not newer(event.hlc, event.origin, entry.hlc, entry.origin):
        if entry.hlc == 0 or entry.is_dead():
            keyspace.settle(shard, name, entry)
        return
    entry.hlc = event.hlc
    entry.origin = event.origin
    entry.kind = kind
    entry.value = value
    if expires_at or entry.expires_at:
        keyspace.set_expiry(shard, name, entry, expires_at)
    if entry.bodies is None and kind != TOMBSTONE:
        # The hot path (PUT of a plain key): size by arithmetic, no rescan.
        keyspace.resize(shard, entry, name_bytes(name) + value_bytes(value))
        return
    entry.prune(event.hlc)
    if keyspace.keep_tombstones:  # a delete, or a reset of containers: a floor
        keyspace.tombstoned.add(name)
    keyspace.settle(shard, name, entry)


def _key_put(keyspace: Keyspace, event: KeyPut) -> None:
    key = event.key
    if event.db or event.expires_at_ms or "\0" in key:
        _reset(keyspace, event, STRING, event.value, event.expires_at_ms)
        return
    # The hot path: a plain string in the default database, no TTL involved.
    shard = keyspace.shard_of(key)
    shard.offset = keyspace.applying_offset
    entry = shard.entries.get(key)
    if entry is None:
        entry = keyspace.insert(shard, key)
    elif entry.bodies is not None or entry.expires_at:
        _reset(keyspace, event, STRING, event.value, 0)
        return
    elif keyspace.track_lru:
        keyspace.touch(shard, key, entry)
    hlc = event.hlc
    if hlc > entry.hlc or (hlc == entry.hlc and event.origin > entry.origin):
        entry.hlc = hlc
        entry.origin = event.origin
        entry.kind = STRING
        value = entry.value = event.value
        keyspace.resize(shard, entry, name_bytes(key) + value_bytes(value))


def _counter_set(keyspace: Keyspace, event: CounterSet) -> None:
    _reset(keyspace, event, COUNTER, event.value, event.expires_at_ms)


def _key_deleted(keyspace: Keyspace, event: KeyDeleted) -> None:
    if event.counter_base:
        shard, name, entry = _locate(keyspace, event)
        entry.body(CRDT_COUNTER).reset({o: (pn[0], pn[1]) for o, pn in event.counter_base.items()})
        entry.drop_empty_bodies()
        keyspace.settle(shard, name, entry)
    _reset(keyspace, event, TOMBSTONE, None, 0)


def _crdt_counter_changed(keyspace: Keyspace, event: CrdtCounterChanged) -> None:
    shard, name, entry = _locate(keyspace, event)
    counter = entry.body(CRDT_COUNTER)
    grew = ELEMENT_BYTES if event.origin not in counter.nodes else 0
    counter.update(event.origin, event.positive, event.negative, event.hlc)
    _settle_body(keyspace, shard, name, entry, entry.size + grew)


def _list_pushed(keyspace: Keyspace, event: ListPushed) -> None:
    shard, name, entry = _locate(keyspace, event)
    sequence = entry.body(LIST)
    floor = entry.hlc
    keep = keyspace.keep_tombstones
    origin = event.origin
    tombstones = len(sequence.pending_removals)
    added = 0
    sign = -1 if event.left else 1
    hlc = sign * event.hlc
    for index, value in enumerate(event.values):
        if sequence.insert((hlc, origin, sign * index), value, floor, keep):
            added += element_bytes(value)
    added += (len(sequence.pending_removals) - tombstones) * ELEMENT_BYTES
    _settle_body(keyspace, shard, name, entry, entry.size + added)


def _list_popped(keyspace: Keyspace, event: ListPopped) -> None:
    shard, name, entry = _locate(keyspace, event)
    sequence = entry.body(LIST)
    floor = entry.hlc
    keep = keyspace.keep_tombstones
    tombstones = len(sequence.pending_removals)
    removed = 0
    for position in event.positions:
        value = sequence.remove((position[0], position[1], position[2]), floor, keep)
        if value is not None:
            removed += element_bytes(value)
    removed -= (len(sequence.pending_removals) - tombstones) * ELEMENT_BYTES
    if keyspace.keep_tombstones:
        keyspace.tombstoned.add(name)
    _settle_body(keyspace, shard, name, entry, entry.size - removed)


def _set_added(keyspace: Keyspace, event: SetAdded) -> None:
    shard, name, entry = _locate(keyspace, event)
    members = entry.body(SET)
    tag = (event.hlc, event.origin)
    floor = entry.hlc
    keep = keyspace.keep_tombstones
    tombstones = len(members.pending_removals)
    added = 0
    for member in event.members:
        if members.add(member, tag, floor, keep):
            added += element_bytes(member)
    added += (len(members.pending_removals) - tombstones) * ELEMENT_BYTES
    _settle_body(keyspace, shard, name, entry, entry.size + added)


def _set_removed(keyspace: Keyspace, event: SetRemoved) -> None:
    shard, name, entry = _locate(keyspace, event)
    members = entry.body(SET)
    floor = entry.hlc
    keep = keyspace.keep_tombstones
    tombstones = len(members.pending_removals)
    removed = 0
    for member, tags in event.removed:
        if members.remove(member, [(t[0], t[1]) for t in tags], floor, keep):
            removed += element_bytes(member)
    removed -= (len(members.pending_removals) - tombstones) * ELEMENT_BYTES
    if keyspace.keep_tombstones:
        keyspace.tombstoned.add(name)
    _settle_body(keyspace, shard, name, entry, entry.size - removed)


def _hash_fields_set(keyspace: Keyspace, event: HashFieldsSet) -> None:
    shard, name, entry = _locate(keyspace, event)
    fields = entry.body(HASH)
    tag = (event.hlc, event.origin)
    floor = entry.hlc
    keep = keyspace.keep_tombstones
    tombstones = len(fields.pending_removals)
    grown = 0
    for field, value, observed in event.fields:
        before = fields.get(field)
        fields.put(field, value, tag, [(t[0], t[1]) for t in observed], floor, keep)
        after = fields.get(field)
        if before is not None:
            grown -= field_bytes(field, before)
        if after is not None:
            grown += field_bytes(field, after)
    grown += (len(fields.pending_removals) - tombstones) * ELEMENT_BYTES
    _settle_body(keyspace, shard, name, entry, entry.size + grown)


def _hash_fields_deleted(keyspace: Keyspace, event: HashFieldsDeleted) -> None:
    shard, name, entry = _locate(keyspace, event)
    fields = entry.body(HASH)
    floor = entry.hlc
    keep = keyspace.keep_tombstones
    tombstones = len(fields.pending_removals)
    removed = 0
    for field, tags in event.removed:
        before = fields.get(field)
        fields.remove(field, [(t[0], t[1]) for t in tags], floor, keep)
        after = fields.get(field)
        if before is not None:
            removed += field_bytes(field, before)
        if after is not None:
            removed -= field_bytes(field, after)
    removed -= (len(fields.pending_removals) - tombstones) * ELEMENT_BYTES
    if keep:
        keyspace.tombstoned.add(name)
    _settle_body(keyspace, shard, name, entry, entry.size - removed)


def _settle_body(keyspace: Keyspace, shard: Shard, name: str, entry: Entry, size: int) -> None:
    had_bodies = entry.bodies
    count = len(had_bodies) if had_bodies else 0
    entry.drop_empty_bodies()
    now_count = len(entry.bodies) if entry.bodies else 0
    keyspace.settle(shard, name, entry, size if now_count == count else None)


def _user_put(keyspace: Keyspace, event: UserPut) -> None:
    current = keyspace.users.get(event.key)
    if current is None or newer(event.hlc, event.origin, current.hlc, current.origin):
        keyspace.users[event.key] = UserRecord(
            event.key, event.password_hash, event.role, event.hlc, event.origin
        )


def _user_deleted(keyspace: Keyspace, event: UserDeleted) -> None:
    current = keyspace.users.get(event.key)
    if current is None or newer(event.hlc, event.origin, current.hlc, current.origin):
        keyspace.users[event.key] = UserRecord(
            event.key, "", "", event.hlc, event.origin, deleted=True
        )


_HANDLERS: dict[type, Callable[[Keyspace, Any], None]] = {
    KeyPut: _key_put,
    KeyDeleted: _key_deleted,
    CounterSet: _counter_set,
    CrdtCounterChanged: _crdt_counter_changed,
    ListPushed: _list_pushed,
    ListPopped: _list_popped,
    SetAdded: _set_added,
    SetRemoved: _set_removed,
    UserPut: _user_put,
    UserDeleted: _user_deleted,
    HashFieldsSet: _hash_fields_set,
    HashFieldsDeleted: _hash_fields_deleted,
}

# Task events apply to the task view, not to keys (bolt.state._tasks).
_HANDLERS.update(TASK_HANDLERS)
