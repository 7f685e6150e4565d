"""The task view: tasks as data in the store.

Theory of operation
-------------------
A task is changed only by its events (``TaskCreated``, ``TaskClaimed``,
``TaskLeaseRenewed``, ``TaskCompleted``, ``TaskFailed``, ``TaskRetried``,
``TaskDeadLettered``, ``TaskCancelled``), applied by the same pure
``apply`` as every other event -- live, at recovery and (later) from
peers; the handlers are in :mod:`bolt.state._task_apply`.
Each event is a fact -- the attempt it belongs to, the lease expiry, the
result bytes -- decided by the command handler that made it
(:mod:`bolt.state._task_commands`), so replaying it gives the same task.

The life of a task::

    pending --claim--> claimed --complete--> completed
       ^                 |  \\--fail--> failed --(attempts left, retry)--> pending
       |                 |                   \\--(none left)--> dead
       +--lease expired--+ (attempt + 1; dead after the attempt limit)
    pending/claimed --cancel--> cancelled;  dead/failed/cancelled --retry--> pending

``attempt`` is the fencing token: it grows by one every time the task goes
back to pending, so a holder whose lease expired carries a stale attempt and
is refused.

The view keeps, beside ``tasks`` (``(db, id)`` → :class:`TaskRecord`), a
sorted pending index per ``(db, type, home)`` -- ``(-priority, created hlc,
id)``, so a claim takes the first ready entry of the homes it decides -- a
heap of lease expiries, checked lazily like the key expiry heap, and the
finished tasks in the order they finished (for the retention sweep). The
whole view is snapshotted with shard 0, as the users are
(:meth:`TaskView.to_wire`). Its estimated size (``memory``) is part of the
keyspace's ``memory_used`` (so the memory limit covers tasks too): the apply
handlers carry every change into it, and recovery adds what a snapshot loaded.

Several nodes: the home and the convergence rule
------------------------------------------------
A task's **home** is the node that created it (the origin of its
``TaskCreated``). Only the node that *decides* a task makes its claims and
its other transitions (:meth:`TaskView.decides`): its home, or the node that
took the home over (``taken_over``, set by the server from peer health:
see ``bolt.server._tasks``). So while the cluster is healthy every
transition of a task is made by one node, in order, and claims are
exactly-once without consensus.

A takeover or a partition can still make two nodes transition one task
concurrently. Every node then converges on the same task by one rule, a
last-writer-wins register over the task's transitions: each transition
event has the key ``(attempt, stage, hlc, origin)``, with the stages
``retried`` 0 < ``claimed`` 1 < ``failed`` 2 < ``cancelled`` 3 < ``dead``
4 < ``completed`` 5 (``created`` is ``(0, 0, hlc, origin)``), and an event
is applied only if its key is greater than the task's ``version`` (the key
of the last transition applied); a smaller one changes nothing. A later
attempt beats everything of an earlier one (so a stale completion that
arrives late is dropped like a fenced one), and of two concurrent claims of
the same attempt the one with the greater ``(hlc, origin)`` holds the task
on every node, whatever the order they arrive in. A lease renewal only
lengthens the lease of the claim in place (``max``), so it commutes too.
The holder (``agent_id``, ``claimed_at_ms``) is a register of its own over
claims and retries by the same key -- the agent of the latest claim, cleared
by a later retry -- so it converges even when a claim loses to a
concurrent cancel. A retry clears the result. (``error`` and the counters
of :meth:`TaskView.statistics` are informational: the last text applied
here, what this node applied.)

The server's blocking waits learn of changes from the engine's change feed
(``bolt.server._tasks``); nothing here knows about them.
"""

from __future__ import annotations

import bisect
import heapq
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgpack

PENDING = "pending"
CLAIMED = "claimed"
COMPLETED = "completed"
FAILED = "failed"
DEAD = "dead"
CANCELLED = "cancelled"
STATUSES = (PENDING, CLAIMED, COMPLETED, FAILED, DEAD, CANCELLED)
FINISHED = frozenset({COMPLETED, FAILED, DEAD, CANCELLED})
"""Statuses ``wait_for_task`` returns on."""
TASK_PENDING = PENDING  # the public names (bolt.state)
TASK_FINISHED = FINISHED

TaskKey = tuple[str, str]  # (db, task id)
TaskVersion = tuple[int, int, int, str]  # (attempt, stage, hlc, origin): see the docstring
PendingKey = tuple[str, str, str]  # (db, type, home)

TASK_BYTES = 320
"""Estimated fixed bytes of one task in memory (record, index entries), besides its strings."""
RETAINED = frozenset({COMPLETED, CANCELLED})
"""Finished statuses removed after ``task_retention_ms``; ``dead`` and ``failed``
(which need a person) after the longer ``task_dead_retention_ms``."""

DISPATCH_BOUNDS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 60_000)
"""Upper bounds of the dispatch latency histogram (pending → claimed), in ms."""


@dataclass(frozen=True)
class TaskStatistics:
    """A snapshot of the task view for metrics (see :meth:`TaskView.statistics`)."""

    depth: dict[tuple[str, str], int]  # (type, status) -> tasks, every database
    claims_total: int
    completions_total: int
    failures_total: int
    retries_total: int
    dead_letters_total: int
    leases_active: int
    dispatch_buckets: tuple[int, ...]  # cumulative counts per DISPATCH_BOUNDS_MS, then +Inf
    dispatch_sum_ms: int


@dataclass(slots=True)
class TaskRecord:
    """One task as the view holds it (data and result stay msgpack bytes)."""

    db: str
    id: str
    task_type: str
    data: bytes
    priority: int
    max_attempts: int
    run_at_ms: int
    parents: tuple[str, ...]
    created_at_ms: int
    created_hlc: int
    status: str = PENDING
    agent_id: str = ""
    attempt: int = 1
    attempt_limit: int = 0
    lease_expires_at_ms: int = 0
    result: bytes | None = None
    error: str = ""
    updated_at_ms: int = 0
    claimed_at_ms: int = 0
    home: str = ""  # the node that created it ("" in data written before homes)
    version: TaskVersion = (0, 0, 0, "")  # the key of the last transition applied
    holder_version: TaskVersion = (0, 0, 0, "")  # the key that set agent_id (a claim, a retry)
    size: int = 0  # estimated bytes, as counted in memory_used

    def order(self) -> tuple[int, int, str]:
        """Its place in the pending index: higher priority first, then oldest."""
        return (-self.priority, self.created_hlc, self.id)

    def to_reply(self) -> dict[str, Any]:
        """The task as a command reply (data and result decoded)."""
        return {
            "id": self.id,
            "database": self.db,
            "type": self.task_type,
            "data": _decode(self.data),
            "status": self.status,
            "agent_id": self.agent_id or None,
            "attempt": self.attempt,
            "max_attempts": self.max_attempts,
            "attempt_limit": self.attempt_limit,
            "lease_expires_at_ms": self.lease_expires_at_ms or None,
            "result": None if self.result is None else _decode(self.result),
            "error": self.error or None,
            "priority": self.priority,
            "run_at_ms": self.run_at_ms or None,
            "parents": list(self.parents),
            "created_at_ms": self.created_at_ms,
            "updated_at_ms": self.updated_at_ms,
            "claimed_at_ms": self.claimed_at_ms or None,
            "home": self.home or None,
        }

    def measure(self) -> int:
        """The task's estimated size in bytes (fixed part plus its strings)."""
        return (
            TASK_BYTES
            + len(self.id)
            + len(self.task_type)
            + len(self.data)
            + len(self.agent_id)
            + len(self.error)
            + (len(self.result) if self.result is not None else 0)
            + 16 * len(self.parents)
        )


def _decode(blob: bytes) -> Any:
    return msgpack.unpackb(blob, raw=False, strict_map_key=False)


_WIRE_FIELDS = TaskRecord.__dataclass_fields__.keys()


@dataclass
class TaskView:
    """Every task, the pending index and the lease heap (see the module docstring)."""

    tasks: dict[TaskKey, TaskRecord] = field(default_factory=dict)
    pending: dict[PendingKey, list[tuple[int, int, str]]] = field(default_factory=dict)
    leases: list[tuple[int, str, str, int]] = field(default_factory=list)
    finished: deque[tuple[int, str, str, TaskVersion]] = field(default_factory=deque)
    kept: deque[tuple[int, str, str, TaskVersion]] = field(default_factory=deque)  # dead, failed
    taken_over: frozenset[str] = frozenset()  # homes this node decides for (set by the server)
    takeover_delay_ms: int = 0  # a taken-over home's leases expire this much later
    standalone: bool = True  # no peers: this node decides every task (the server sets it)
    memory: int = 0  # estimated bytes of every task (also in the keyspace's memory_used)
    parents: set[TaskKey] = field(default_factory=set)  # tasks some other task depends on
    claims_total: int = 0
    completions_total: int = 0
    failures_total: int = 0
    retries_total: int = 0
    dead_letters_total: int = 0
    dispatch_counts: list[int] = field(default_factory=lambda: [0] * (len(DISPATCH_BOUNDS_MS) + 1))
    dispatch_sum_ms: int = 0

    # --- reading ---------------------------------------------------------------

    def get(self, db: str, task_id: str) -> TaskRecord | None:
        """The task ``task_id`` of ``db``, or None."""
        return self.tasks.get((db, task_id))

    def pending_of(
        self, db: str, task_type: str, homes: Iterable[str] | None = None
    ) -> Iterator[TaskRecord]:
        """Pending tasks of a type (of ``homes`` only, if given), in claim order
        (priority, then age).

        The index is read in place (no copy: a claim stops at the first ready
        task), so nothing may change the view while the iterator is in use.
        """
        tasks = self.tasks
        pending = self.pending
        if homes is None:
            homes = self.homes_pending(db, task_type)
        lists = [entries for home in homes if (entries := pending.get((db, task_type, home)))]
        merged = lists[0] if len(lists) == 1 else heapq.merge(*lists)
        for _, _, task_id in merged:
            yield tasks[(db, task_id)]

    def homes_pending(self, db: str, task_type: str) -> list[str]:
        """The homes with pending tasks of ``task_type`` in ``db``."""
        return [home for (d, t, home) in self.pending if d == db and t == task_type]

    def deciding(self, origin: str) -> frozenset[str] | None:
        """The homes whose tasks node ``origin`` decides: its own, legacy ones, taken
        over (None: every home, on a standalone node)."""
        if self.standalone:
            return None
        return self.taken_over | {origin, ""}

    def decides(self, task: TaskRecord, origin: str) -> bool:
        """Whether node ``origin`` makes the transitions of ``task`` (see the docstring)."""
        home = task.home
        return self.standalone or home == origin or not home or home in self.taken_over

    def ready(self, task: TaskRecord, now_ms: int) -> bool:
        """Whether a pending task may be claimed now (due, and its parents completed)."""
        if task.run_at_ms > now_ms:
            return False
        for parent_id in task.parents:
            parent = self.tasks.get((task.db, parent_id))
            if parent is None or parent.status != COMPLETED:
                return False
        return True

    def next_lease_expiry(self) -> int | None:
        """The earliest lease expiry of a claimed task (stale heap items dropped)."""
        heap = self.leases
        while heap:
            expires, db, task_id, attempt = heap[0]
            task = self.tasks.get((db, task_id))
            if (
                task is not None
                and task.status == CLAIMED
                and task.attempt == attempt
                and task.lease_expires_at_ms == expires
            ):
                return expires
            heapq.heappop(heap)
        return None

    def expired(
        self, now_ms: int, limit: int, origin: str = "", takeover_delay_ms: int = 0
    ) -> list[TaskRecord]:
        """Claimed tasks node ``origin`` decides whose lease is due, earliest first
        (the heap is not changed). A taken-over home's leases are due only
        ``takeover_delay_ms`` after their expiry (a renewal may not have arrived)."""
        self.next_lease_expiry()
        due: list[TaskRecord] = []
        for expires, db, task_id, attempt in sorted(self.leases):
            if expires > now_ms or len(due) >= limit:
                break
            task = self.tasks.get((db, task_id))
            if (
                task is not None
                and task.status == CLAIMED
                and task.attempt == attempt
                and task.lease_expires_at_ms == expires
                and (not origin or self.decides(task, origin))
                and (
                    self.standalone
                    or task.home in ("", origin)
                    or expires + takeover_delay_ms <= now_ms
                )
                and task not in due
            ):
                due.append(task)
        return due

    def removable(
        self, now_ms: int, retention_ms: int, kept_ms: int, origin: str, limit: int
    ) -> list[TaskRecord]:
        """Finished tasks node ``origin`` decides that passed their retention
        (completed, cancelled: ``retention_ms``; dead, failed: ``kept_ms``),
        oldest first. Queue entries of tasks changed since are dropped."""
        due: list[TaskRecord] = []
        for queue, bound in ((self.finished, retention_ms), (self.kept, kept_ms)):
            while queue and len(due) < limit:
                finished_at, db, task_id, version = queue[0]
                task = self.tasks.get((db, task_id))
                if task is None or task.version != version:
                    queue.popleft()  # changed (retried) or removed since
                    continue
                if finished_at + bound > now_ms:
                    break
                queue.popleft()
                if self.decides(task, origin):
                    due.append(task)
        return due

    def _account(self, task: TaskRecord, keyspace: Any = None) -> None:
        """Re-measure ``task``; carry the change into ``memory`` and, given the
        keyspace, its ``memory_used`` (recovery adds ``memory`` after loading)."""
        size = task.measure()
        delta = size - task.size
        if delta:
            task.size = size
            self.memory += delta
            if keyspace is not None:
                keyspace.memory_used += delta

    def _forget(self, task: TaskRecord, keyspace: Any) -> None:
        """Drop ``task`` from the view (its retention passed), and its bytes."""
        if task.status == PENDING:
            self._unindex(task)
        del self.tasks[(task.db, task.id)]
        self.memory -= task.size
        keyspace.memory_used -= task.size
        task.size = 0

    def _finished(self, task: TaskRecord, at_ms: int) -> None:
        """Queue a task that just finished for the retention sweep."""
        queue = self.finished if task.status in RETAINED else self.kept
        queue.append((at_ms, task.db, task.id, task.version))

    def statistics(self) -> TaskStatistics:
        """Queue depth per type and status, the totals, the dispatch histogram (O(tasks))."""
        depth: dict[tuple[str, str], int] = {}
        leases = 0
        for task in self.tasks.values():
            key = (task.task_type, task.status)
            depth[key] = depth.get(key, 0) + 1
            leases += task.status == CLAIMED
        cumulative: list[int] = []
        running = 0
        for count in self.dispatch_counts:
            running += count
            cumulative.append(running)
        return TaskStatistics(
            depth=depth,
            claims_total=self.claims_total,
            completions_total=self.completions_total,
            failures_total=self.failures_total,
            retries_total=self.retries_total,
            dead_letters_total=self.dead_letters_total,
            leases_active=leases,
            dispatch_buckets=tuple(cumulative),
            dispatch_sum_ms=self.dispatch_sum_ms,
        )

    def _count_dispatch(self, waited_ms: int) -> None:
        waited = max(0, waited_ms)
        self.dispatch_counts[bisect.bisect_left(DISPATCH_BOUNDS_MS, waited)] += 1
        self.dispatch_sum_ms += waited

    # --- changing (only from the apply handlers in bolt.state._task_apply) -------

    def _index(self, task: TaskRecord) -> None:
        key = (task.db, task.task_type, task.home)
        bisect.insort(self.pending.setdefault(key, []), task.order())

    def _unindex(self, task: TaskRecord) -> None:
        key = (task.db, task.task_type, task.home)
        entries = self.pending.get(key)
        if not entries:
            return
        order = task.order()
        position = bisect.bisect_left(entries, order)
        if position < len(entries) and entries[position] == order:
            del entries[position]
        if not entries:
            del self.pending[key]

    def _set_status(self, task: TaskRecord, status: str) -> None:
        if task.status == PENDING and status != PENDING:
            self._unindex(task)
        elif status == PENDING and task.status != PENDING:
            self._index(task)
        task.status = status

    # --- snapshots ------------------------------------------------------------------

    def to_wire(self) -> list[list[Any]]:
        """Every task as plain lists, for the snapshot (with shard 0)."""
        return [[getattr(t, name) for name in _WIRE_FIELDS] for t in self.tasks.values()]

    def load_wire(self, rows: list[list[Any]]) -> None:
        """Add the tasks of :meth:`to_wire` rows (recovery from a snapshot)."""
        finished: list[TaskRecord] = []
        for row in rows:
            values = dict(zip(_WIRE_FIELDS, row, strict=False))  # older rows lack the last fields
            values["parents"] = tuple(values["parents"])
            values["version"] = tuple(values.get("version", (0, 0, 0, "")))
            values["holder_version"] = tuple(values.get("holder_version", (0, 0, 0, "")))
            values["size"] = 0
            task = TaskRecord(**values)
            self.tasks[(task.db, task.id)] = task
            self._account(task)
            self.parents.update((task.db, parent) for parent in task.parents)
            if task.status == PENDING:
                self._index(task)
            elif task.status == CLAIMED:
                heapq.heappush(
                    self.leases, (task.lease_expires_at_ms, task.db, task.id, task.attempt)
                )
            elif task.status in FINISHED:
                finished.append(task)
        for task in sorted(finished, key=lambda t: t.updated_at_ms):
            self._finished(task, task.updated_at_ms)
