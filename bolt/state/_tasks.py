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
sorted pending index per ``(db, type)`` -- ``(-priority, created hlc, id)``,
so a claim takes the first ready entry -- and a heap of lease expiries,
checked lazily like the key expiry heap. The whole view is snapshotted with
shard 0, as the users are (:meth:`TaskView.to_wire`).

The server's blocking waits learn of changes from the engine's change feed
(``bolt.server._tasks``); nothing here knows about them.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator
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

TaskKey = tuple[str, str]  # (db, task id)

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
        }


def _decode(blob: bytes) -> Any:
    return msgpack.unpackb(blob, raw=False, strict_map_key=False)


_WIRE_FIELDS = TaskRecord.__dataclass_fields__.keys()


@dataclass
class TaskView:
    """Every task, the pending index and the lease heap (see the module docstring)."""

    tasks: dict[TaskKey, TaskRecord] = field(default_factory=dict)
    pending: dict[tuple[str, str], list[tuple[int, int, str]]] = field(default_factory=dict)
    leases: list[tuple[int, str, str, int]] = field(default_factory=list)
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

    def pending_of(self, db: str, task_type: str) -> Iterator[TaskRecord]:
        """Pending tasks of a type, in claim order (priority, then age).

        The index is read in place (no copy: a claim stops at the first ready
        task), so nothing may change the view while the iterator is in use.
        """
        tasks = self.tasks
        for _, _, task_id in self.pending.get((db, task_type), ()):
            yield tasks[(db, task_id)]

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

    def expired(self, now_ms: int, limit: int) -> list[TaskRecord]:
        """Claimed tasks whose lease is due, earliest first (the heap is not changed)."""
        self.next_lease_expiry()
        due: list[TaskRecord] = []
        for expires, db, task_id, attempt in sorted(self.leases)[: limit * 4]:
            if expires > now_ms or len(due) >= limit:
                break
            task = self.tasks.get((db, task_id))
            if (
                task is not None
                and task.status == CLAIMED
                and task.attempt == attempt
                and task.lease_expires_at_ms == expires
                and task not in due
            ):
                due.append(task)
        return due

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
        bisect.insort(self.pending.setdefault((task.db, task.task_type), []), task.order())

    def _unindex(self, task: TaskRecord) -> None:
        entries = self.pending.get((task.db, task.task_type))
        if not entries:
            return
        order = task.order()
        position = bisect.bisect_left(entries, order)
        if position < len(entries) and entries[position] == order:
            del entries[position]
        if not entries:
            del self.pending[(task.db, task.task_type)]

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
        for row in rows:
            values = dict(zip(_WIRE_FIELDS, row, strict=True))
            values["parents"] = tuple(values["parents"])
            task = TaskRecord(**values)
            self.tasks[(task.db, task.id)] = task
            self.parents.update((task.db, parent) for parent in task.parents)
            if task.status == PENDING:
                self._index(task)
            elif task.status == CLAIMED:
                heapq.heappush(
                    self.leases, (task.lease_expires_at_ms, task.db, task.id, task.attempt)
                )
