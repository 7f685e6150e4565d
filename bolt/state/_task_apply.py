"""The pure apply of task events to the task view (:mod:`bolt.state._tasks`).

Each handler applies one fact decided by a task command
(:mod:`bolt.state._task_commands`): the status it leads to, the attempt it
belongs to, the lease expiry, the result bytes. No clock, no I/O: replay and
(later) replication rebuild the same tasks. ``TASK_HANDLERS`` is added to
``bolt.state._apply``'s table; recovery keeps task events with shard 0.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bolt.events import (
    TaskCancelled,
    TaskClaimed,
    TaskCompleted,
    TaskCreated,
    TaskDeadLettered,
    TaskFailed,
    TaskLeaseRenewed,
    TaskRetried,
)
from bolt.state._tasks import (
    CANCELLED,
    CLAIMED,
    COMPLETED,
    DEAD,
    FAILED,
    PENDING,
    TaskRecord,
    TaskView,
)

if TYPE_CHECKING:
    from bolt.state._keyspace import Keyspace


def _task_created(keyspace: Keyspace, event: TaskCreated) -> None:
    view = keyspace.tasks
    if (event.db, event.key) in view.tasks:
        return  # ids are refused twice by the command; a replayed duplicate changes nothing
    task = TaskRecord(
        db=event.db,
        id=event.key,
        task_type=event.task_type,
        data=event.data,
        priority=event.priority,
        max_attempts=event.max_attempts,
        run_at_ms=event.run_at_ms,
        parents=tuple(event.parents),
        created_at_ms=event.at_ms,
        created_hlc=event.hlc,
        attempt_limit=event.max_attempts,
        updated_at_ms=event.at_ms,
        status="",
    )
    view.tasks[(task.db, task.id)] = task
    view.parents.update((task.db, parent) for parent in task.parents)
    view._set_status(task, PENDING)


def _found(keyspace: Keyspace, event: Any) -> tuple[TaskView, TaskRecord | None]:
    view = keyspace.tasks
    task = view.tasks.get((event.db, event.key))
    if task is not None:
        task.updated_at_ms = event.at_ms
    return view, task


def _task_claimed(keyspace: Keyspace, event: TaskClaimed) -> None:
    waiting = keyspace.tasks.get(event.db, event.key)
    since = waiting.updated_at_ms if waiting is not None else event.at_ms  # pending since
    view, task = _found(keyspace, event)
    if task is None:
        return
    view._count_dispatch(event.at_ms - since)
    view._set_status(task, CLAIMED)
    task.agent_id = event.agent_id
    task.attempt = event.attempt
    task.lease_expires_at_ms = event.lease_expires_at_ms
    task.claimed_at_ms = event.at_ms
    heapq.heappush(view.leases, (event.lease_expires_at_ms, task.db, task.id, event.attempt))
    view.claims_total += 1


def _task_lease_renewed(keyspace: Keyspace, event: TaskLeaseRenewed) -> None:
    view, task = _found(keyspace, event)
    if task is None or task.attempt != event.attempt:
        return
    task.lease_expires_at_ms = event.lease_expires_at_ms
    heapq.heappush(view.leases, (event.lease_expires_at_ms, task.db, task.id, event.attempt))


def _task_completed(keyspace: Keyspace, event: TaskCompleted) -> None:
    view, task = _found(keyspace, event)
    if task is None:
        return
    view._set_status(task, COMPLETED)
    task.result = event.result
    task.lease_expires_at_ms = 0
    view.completions_total += 1


def _task_failed(keyspace: Keyspace, event: TaskFailed) -> None:
    view, task = _found(keyspace, event)
    if task is None:
        return
    view._set_status(task, FAILED)
    task.error = event.error
    task.lease_expires_at_ms = 0
    view.failures_total += 1


def _task_retried(keyspace: Keyspace, event: TaskRetried) -> None:
    view, task = _found(keyspace, event)
    if task is None:
        return
    task.attempt = event.attempt
    task.attempt_limit = event.attempt_limit
    task.agent_id = ""
    task.lease_expires_at_ms = 0
    if event.reason and task.status != FAILED:
        task.error = event.reason
    view._set_status(task, PENDING)
    view.retries_total += 1


def _task_dead_lettered(keyspace: Keyspace, event: TaskDeadLettered) -> None:
    view, task = _found(keyspace, event)
    if task is None:
        return
    view._set_status(task, DEAD)
    task.lease_expires_at_ms = 0
    if event.reason and not task.error:
        task.error = event.reason
    view.dead_letters_total += 1


def _task_cancelled(keyspace: Keyspace, event: TaskCancelled) -> None:
    view, task = _found(keyspace, event)
    if task is None:
        return
    view._set_status(task, CANCELLED)
    task.lease_expires_at_ms = 0
    if event.reason:
        task.error = event.reason


TASK_HANDLERS: dict[type, Callable[[Keyspace, Any], None]] = {
    TaskCreated: _task_created,
    TaskClaimed: _task_claimed,
    TaskLeaseRenewed: _task_lease_renewed,
    TaskCompleted: _task_completed,
    TaskFailed: _task_failed,
    TaskRetried: _task_retried,
    TaskDeadLettered: _task_dead_lettered,
    TaskCancelled: _task_cancelled,
}
"""Registered into ``bolt.state._apply``'s handler table."""
