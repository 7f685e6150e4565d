"""Whole-state merge: join another node's snapshot into a keyspace (pure).

Theory of operation
-------------------
A full sync (:mod:`bolt.cluster._fullsync`) does not replay another node's
events: it ships its *state* and joins it into ours. Every part of the state
has a join that is commutative, associative and idempotent, and that gives
the same state as applying both nodes' events would
(``tests/state/test_merge.py`` checks all four):

* a key's **reset** (string, plain counter, tombstone, with its expiry) is an
  LWW register: the write with the larger ``(hlc, origin)`` wins, value,
  type and expiry together;
* its **bodies** join by kind through :data:`BODY_MERGES` (list, set, CRDT
  counter; a new container type adds its merge there), then list and set
  elements at or below the winning reset are pruned, as ``apply`` does;
* **users** are LWW entries by ``(hlc, origin)``;
* **tasks** are decided by their home node, so two copies of a task are two
  points of one history: the one further along wins, by
  ``(attempt, stage, lease expiry, updated_at)`` (:func:`task_rank`) --
  the attempt only grows, and within an attempt a task only moves from
  pending to claimed to finished;
* the **dot set** is a union.

A full sync ships a state noted some time before it is merged, while the
receiver goes on applying events and collecting tombstones by causal
stability (:mod:`bolt.state._gc`). A popped list element, a removed member
or a deleted key whose tombstone is already gone would come back if the old
state were joined as it is: the join relies on the tombstone to say "this
was removed". So :func:`merge_entries` takes a ``seen_hlc`` at or below
which the receiver holds every event -- at least the keyspace's
``collected_hlc``, the highest stable HLC at which it collected a tombstone
(kept in its snapshot, so a restart keeps it; a wiped node has 0) -- and
first *forgets* what the incoming state holds at or below it that the
receiver lacks (:func:`forget_seen`): the receiver already reflects every
event that old, so anything it lacks was removed there. It is the state
analog of ``Engine.ingest``'s dot check, which skips a replayed event. With
``seen_hlc = 0`` (nothing ever collected) nothing is forgotten and the join
is the plain one.
CRDT counters need no filter: their observed-reset base is never collected.

Nothing here reads a clock or does I/O. The keyspace's indexes (memory
sizes, the expiry heap, LRU order, per-database counts) are kept up to date
through the keyspace's own methods, exactly as ``apply`` keeps them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Container, Iterable
from typing import Any

from bolt.crdt import DotSet, ORMap, ORSet, PNCounter, Sequence, newer
from bolt.state._entry import CRDT_COUNTER, HASH, LIST, SET, TOMBSTONE, Entry
from bolt.state._keyspace import Keyspace, UserRecord
from bolt.state._tasks import (
    CANCELLED,
    CLAIMED,
    COMPLETED,
    DEAD,
    FAILED,
    FINISHED,
    PENDING,
    TaskRecord,
    TaskView,
)


def _merge_hash(into: ORMap, other: ORMap) -> None:
    """The OR-map's join (it returns a new map) written back into ``into``."""
    joined = into.merge(other)
    into.floor, into.fields, into.pending_removals = (
        joined.floor,
        joined.fields,
        joined.pending_removals,
    )


BODY_MERGES: dict[int, Callable[[Any, Any], None]] = {
    LIST: Sequence.merge,
    SET: ORSet.merge,
    CRDT_COUNTER: PNCounter.merge,
    HASH: _merge_hash,
}
"""Entry kind → ``merge(into_body, other_body)``: the join of that container."""

PRUNED_BY_RESET = frozenset({LIST, SET, HASH})
"""Bodies whose elements a newer reset removes (counters use their observed base)."""

_BODY_COPIES: dict[int, Callable[[Any], Any]] = {
    LIST: lambda body: _copied(Sequence(), body),
    SET: lambda body: _copied(ORSet(), body),
    CRDT_COUNTER: lambda body: _copied(PNCounter(), body),
    HASH: lambda body: body.copy(),
}


def _copied(empty: Any, body: Any) -> Any:
    empty.merge(body)
    return empty


def merge_entry(into: Entry, other: Entry) -> None:
    """Join ``other``'s state into ``into`` (the same key), in place.

    ``other`` is not changed and shares nothing with ``into`` afterwards.
    Memory sizes and indexes are the caller's (:func:`merge_entries`).
    """
    if newer(other.hlc, other.origin, into.hlc, into.origin):
        into.hlc = other.hlc
        into.origin = other.origin
        into.kind = other.kind
        into.value = other.value
        into.expires_at = other.expires_at
    if other.bodies:
        for kind, body in other.bodies.items():
            mine = into.bodies.get(kind) if into.bodies else None
            if mine is None:
                into.body(kind)  # an empty container of that kind
                mine = into.bodies[kind]  # type: ignore[index]
            BODY_MERGES[kind](mine, body)
    if into.bodies:
        for kind in PRUNED_BY_RESET & into.bodies.keys():
            into.bodies[kind].prune(into.hlc)
        into.drop_empty_bodies()


def copy_entry(entry: Entry) -> Entry:
    """A deep copy of ``entry`` (values are immutable and shared)."""
    copy = Entry()
    merge_entry(copy, entry)
    if not entry.hlc:  # never written: nothing beats the zero stamp, copy the rest
        copy.kind, copy.value, copy.expires_at = entry.kind, entry.value, entry.expires_at
    return copy


_FORGET_SEEN: dict[int, Callable[[Any, int, Any], None]] = {
    LIST: Sequence.forget_seen,
    SET: ORSet.forget_seen,
    HASH: ORMap.forget_seen,
}
"""Entry kind → ``forget_seen(body, seen_hlc, held_body)`` (see the module)."""


def forget_seen(incoming: Entry, held: Entry | None, seen_hlc: int) -> None:
    """Drop from ``incoming`` what a holder of every event ≤ ``seen_hlc`` lacks.

    ``held`` is the receiver's entry for the same key (``None`` if it has
    none). A reset at or below ``seen_hlc`` loses its stamp (the receiver
    has it or something newer); container elements that old which ``held``
    does not hold are dropped (they were removed there). Tombstones are
    kept. In place; a no-op when ``seen_hlc`` is 0.
    """
    if not seen_hlc:
        return
    if incoming.hlc and incoming.hlc <= seen_hlc:
        incoming.hlc, incoming.origin = 0, ""
        incoming.kind, incoming.value, incoming.expires_at = TOMBSTONE, None, 0
    forget_bodies(incoming, held, seen_hlc)


def forget_bodies(entry: Entry, held: Entry | None, seen_hlc: int) -> bool:
    """Drop from ``entry``'s containers the elements at or below ``seen_hlc``
    that ``held`` (the other side's entry; None: it has none) lacks.

    Only the containers: unlike :func:`forget_seen` the reset stamp is left
    alone (the join of the stamps needs no help). True if anything was dropped.
    """
    bodies = entry.bodies
    if not seen_hlc or not bodies:
        return False
    held_bodies = held.bodies if held is not None and held.bodies else {}
    changed = False
    for kind, body in bodies.items():
        forget = _FORGET_SEEN.get(kind)
        if forget is not None:
            before = len(body)
            forget(body, seen_hlc, held_bodies.get(kind))
            changed = changed or len(body) != before
    if changed:
        entry.drop_empty_bodies()
    return changed


def forget_unsent(
    keyspace: Keyspace, names: Iterable[str], sent: Container[str], their_seen_hlc: int
) -> int:
    """:func:`forget_bodies` for the keys of ``names`` that a full sync did not send.

    The sender held every event at or below ``their_seen_hlc`` and has no
    entry for these keys at all: their elements that old were removed there.
    Returns how many keys changed (those left holding nothing are removed).
    """
    changed = 0
    for name in names:
        if name in sent:
            continue
        shard = keyspace.shard_of(name)
        entry = shard.entries.get(name)
        if entry is None or not forget_bodies(entry, None, their_seen_hlc):
            continue
        changed += 1
        shard.offset = max(shard.offset, keyspace.applying_offset)
        keyspace.settle(shard, name, entry)
    return changed


def merge_entries(
    keyspace: Keyspace,
    items: Iterable[tuple[str, Entry]],
    seen_hlc: int = 0,
    their_seen_hlc: int = 0,
) -> int:
    """Join each ``(name, entry)`` into ``keyspace``; returns how many were merged.

    A name the keyspace lacks adopts the entry (it is not copied: pass
    entries nothing else holds, e.g. freshly decoded ones). Touched shards
    get ``offset = keyspace.applying_offset`` like an ``apply`` would.
    ``seen_hlc``: the keyspace holds every event at or below it; what the
    incoming entries hold that old and the keyspace lacks is not brought
    back (:func:`forget_seen`). The keyspace's own ``collected_hlc`` is
    always used when higher. ``their_seen_hlc``: the same for the side the
    entries come from; the keyspace's container elements that old which an
    incoming entry lacks are dropped (:func:`forget_bodies`; for keys not
    sent at all, see :func:`forget_unsent`). Incoming entries are changed.
    """
    count = 0
    seen_hlc = max(seen_hlc, keyspace.collected_hlc)
    for name, incoming in items:
        count += 1
        shard = keyspace.shard_of(name)
        entry = shard.entries.get(name)
        forget_seen(incoming, entry, seen_hlc)
        if entry is None and incoming.is_dead() and not incoming.hlc:
            continue  # nothing left that the keyspace lacks
        shard.offset = max(shard.offset, keyspace.applying_offset)
        if entry is None:
            if incoming.bodies:
                for kind in PRUNED_BY_RESET & incoming.bodies.keys():
                    incoming.bodies[kind].prune(incoming.hlc)
                incoming.drop_empty_bodies()
            entry = keyspace.adopt(shard, name, incoming)
            keyspace.settle(shard, name, entry)
            continue
        expires_at = entry.expires_at
        forget_bodies(entry, incoming, their_seen_hlc)
        merge_entry(entry, incoming)
        if entry.expires_at != expires_at:
            keyspace.set_expiry(shard, name, entry, entry.expires_at)
        keyspace.settle(shard, name, entry)
    return count


def merge_users(keyspace: Keyspace, users: Iterable[UserRecord]) -> None:
    """Join users by LWW ``(hlc, origin)``, as ``UserPut``/``UserDeleted`` apply."""
    for user in users:
        current = keyspace.users.get(user.name)
        if current is None or newer(user.hlc, user.origin, current.hlc, current.origin):
            keyspace.users[user.name] = user


_STAGES = {PENDING: 0, CLAIMED: 1, FAILED: 2, COMPLETED: 3, DEAD: 3, CANCELLED: 3}


def task_rank(task: TaskRecord) -> tuple[Any, ...]:
    """How far along its history a task copy is (the larger wins a merge).

    The attempt only grows (a retry or a lease expiry adds one); within an
    attempt a task goes pending → claimed → failed → dead, or to completed
    or cancelled; a renewal moves the lease on. The last fields only make
    the order total, so the merge never depends on argument order.
    """
    return (
        task.version,  # the transition register (bolt.state._tasks): the rule of apply
        task.holder_version,
        task.attempt,
        _STAGES.get(task.status, 0),
        task.lease_expires_at_ms,
        task.updated_at_ms,
        task.status,
        task.agent_id,
        task.attempt_limit,
        task.error,
    )


def merge_tasks(view: TaskView, tasks: Iterable[TaskRecord], keyspace: Any = None) -> None:
    """Join task copies into ``view``: per task, the one further along wins.

    The pending index, the lease heap, the parent set, the retention queues and
    the memory (``keyspace.memory_used`` when given) follow. Counters of the
    view (claims, completions, ...) are this node's own statistics and are
    not merged.
    """
    for task in tasks:
        key = (task.db, task.id)
        current = view.tasks.get(key)
        if current is not None:
            if task_rank(task) <= task_rank(current):
                continue
            if current.status == PENDING:
                view._unindex(current)
            view.memory -= current.size
            if keyspace is not None:
                keyspace.memory_used -= current.size
        view.memory += task.size  # task_from_wire measured it
        if keyspace is not None:
            keyspace.memory_used += task.size
        if task.status in FINISHED:
            view._finished(task, task.updated_at_ms)
        view.tasks[key] = task
        view.parents.update((task.db, parent) for parent in task.parents)
        if task.status == PENDING:
            view._index(task)
        elif task.status == CLAIMED:
            heapq.heappush(view.leases, (task.lease_expires_at_ms, task.db, task.id, task.attempt))


def merge_dots(keyspace: Keyspace, dots: DotSet) -> None:
    """Add every dot of ``dots`` to the keyspace's applied set (a union)."""
    keyspace.dots.merge(dots)


_TASK_FIELDS = tuple(TaskRecord.__dataclass_fields__)


def task_from_wire(row: list[Any]) -> TaskRecord:
    """A task from a :meth:`TaskView.to_wire` row (a snapshot's or a full sync's)."""
    values = dict(zip(_TASK_FIELDS, row, strict=False))  # older rows lack the last fields
    values["parents"] = tuple(values["parents"])
    values["version"] = tuple(values.get("version", (0, 0, 0, "")))
    values["holder_version"] = tuple(values.get("holder_version", (0, 0, 0, "")))
    values["size"] = 0
    task = TaskRecord(**values)
    task.size = task.measure()
    return task


def user_to_wire(user: UserRecord) -> list[Any]:
    """A user as a snapshot row: ``[name, hash, role, hlc, origin, deleted]``."""
    return [user.name, user.password_hash, user.role, user.hlc, user.origin, user.deleted]


def user_from_wire(row: list[Any]) -> UserRecord:
    """The user of a :func:`user_to_wire` row."""
    name, password_hash, role, hlc, origin, deleted = row
    return UserRecord(name, password_hash, role, hlc, origin, bool(deleted))
