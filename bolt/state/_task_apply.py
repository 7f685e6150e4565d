"""The pure apply of task events to the task view (:mod:`bolt.state._tasks`).

Each handler applies one fact decided by a task command
(:mod:`bolt.state._task_commands`): the status it leads to, the attempt it
belongs to, the lease expiry, the result bytes. No clock, no I/O: replay and
replication rebuild the same tasks. A transition is applied only if its key
``(attempt, stage, hlc, origin)`` is greater than the task's ``version`` --
the convergence rule of :mod:`bolt.state._tasks` -- so nodes that receive
concurrent transitions in different orders end with the same task.
``TASK_HANDLERS`` is added to ``bolt.state._apply``'s table; recovery keeps
task events with shard 0.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bolt.events import (
    TaskAttemptCancelled,
    TaskCancelled,
    TaskClaimed,
    TaskCompleted,
    TaskCreated,
    TaskDeadLettered,
    TaskFailed,
    TaskLeaseRenewed,
    TaskRemoved,
    TaskRetried,
)
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

if TYPE_CHECKING:
    from bolt.state._keyspace import Keyspace

STAGES: dict[type, int] = {
    TaskRetried: 0,
    TaskClaimed: 1,
    TaskFailed: 2,
    TaskAttemptCancelled: 3,
    TaskCancelled: 3,
    TaskDeadLettered: 4,
    TaskCompleted: 5,
}
"""The stage of each transition within an attempt (the convergence rule)."""


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
        home=event.origin,
        version=(0, 0, event.hlc, event.origin),
    )
    view.tasks[(task.db, task.id)] = task
    view.parents.update((task.db, parent) for parent in task.parents)
    view._set_status(task, PENDING)
    view._account(task, keyspace)


def _winning(keyspace: Keyspace, event: Any, attempt: int) -> tuple[TaskView, TaskRecord | None]:
    """The view and the task if ``event`` wins over the task's version (else None)."""
    view = keyspace.tasks
    task = view.tasks.get((event.db, event.key))
    if task is None:
        return view, None
    version = (attempt, STAGES[type(event)], event.hlc, event.origin)
    if version <= task.version:
        return view, None  # stale or the loser of a concurrent transition: no change
    task.version = version
    task.updated_at_ms = max(task.updated_at_ms, event.at_ms)
    return view, task


def _settle(keyspace: Keyspace, task: TaskRecord, at_ms: int) -> None:
    """After a transition: re-measure, and queue a finished task for its retention."""
    view = keyspace.tasks
    task.lease_expires_at_ms = 0 if task.status != CLAIMED else task.lease_expires_at_ms
    view._account(task, keyspace)
    if task.status in FINISHED:
        view._finished(task, at_ms)


def _hold(task: TaskRecord, event: Any, attempt: int, stage: int, agent: str) -> None:
    """The holder register: the latest claim's agent, cleared by a later retry."""
    key = (attempt, stage, event.hlc, event.origin)
    if key > task.holder_version:
        task.holder_version = key
        task.agent_id = agent
        task.claimed_at_ms = event.at_ms if agent else task.claimed_at_ms


def _task_claimed(keyspace: Keyspace, event: TaskClaimed) -> None:
    waiting = keyspace.tasks.get(event.db, event.key)
    if waiting is None:
        return
    since = waiting.updated_at_ms  # pending since
    _hold(waiting, event, event.attempt, 1, event.agent_id)
    # The lease is the longest of every claim and renewal of the attempt (commutes).
    held = (
        waiting.lease_expires_at_ms
        if waiting.status == CLAIMED and waiting.attempt == event.attempt
        else 0
    )
    view, task = _winning(keyspace, event, event.attempt)
    if task is None:
        if held and event.lease_expires_at_ms > held:  # the losing claim's lease still counts
            waiting.lease_expires_at_ms = event.lease_expires_at_ms
            entry = (event.lease_expires_at_ms, event.db, event.key, event.attempt)
            heapq.heappush(view.leases, entry)
        return
    view._count_dispatch(event.at_ms - since)
    view._set_status(task, CLAIMED)
    task.attempt = event.attempt
    task.lease_expires_at_ms = max(held, event.lease_expires_at_ms)
    heapq.heappush(view.leases, (task.lease_expires_at_ms, task.db, task.id, event.attempt))
    view.claims_total += 1
    view._account(task, keyspace)


def _task_lease_renewed(keyspace: Keyspace, event: TaskLeaseRenewed) -> None:
    view = keyspace.tasks
    task = view.tasks.get((event.db, event.key))
    if task is None or task.status != CLAIMED or task.attempt != event.attempt:
        return
    if event.lease_expires_at_ms <= task.lease_expires_at_ms:
        return  # leases only grow: renewals commute
    task.lease_expires_at_ms = event.lease_expires_at_ms
    task.updated_at_ms = max(task.updated_at_ms, event.at_ms)
    heapq.heappush(view.leases, (event.lease_expires_at_ms, task.db, task.id, event.attempt))


def _task_completed(keyspace: Keyspace, event: TaskCompleted) -> None:
    view, task = _winning(keyspace, event, event.attempt)
    if task is None:
        return
    view._set_status(task, COMPLETED)
    task.attempt = event.attempt
    task.result = event.result
    view.completions_total += 1
    _settle(keyspace, task, event.at_ms)


def _task_failed(keyspace: Keyspace, event: TaskFailed) -> None:
    view, task = _winning(keyspace, event, event.attempt)
    if task is None:
        return
    view._set_status(task, FAILED)
    task.attempt = event.attempt
    task.error = event.error
    view.failures_total += 1
    _settle(keyspace, task, event.at_ms)


def _task_retried(keyspace: Keyspace, event: TaskRetried) -> None:
    found = keyspace.tasks.get(event.db, event.key)
    if found is not None:
        _hold(found, event, event.attempt, 0, "")
    view, task = _winning(keyspace, event, event.attempt)
    if task is None:
        return
    task.attempt = event.attempt
    task.attempt_limit = event.attempt_limit
    task.result = None
    if event.reason and task.status != FAILED:
        task.error = event.reason
    view._set_status(task, PENDING)
    view.retries_total += 1
    _settle(keyspace, task, event.at_ms)


def _task_dead_lettered(keyspace: Keyspace, event: TaskDeadLettered) -> None:
    view, task = _winning(keyspace, event, event.attempt)
    if task is None:
        return
    view._set_status(task, DEAD)
    task.attempt = event.attempt
    if event.reason and not task.error:
        task.error = event.reason
    view.dead_letters_total += 1
    _settle(keyspace, task, event.at_ms)


def _cancel(keyspace: Keyspace, event: Any, attempt: int) -> None:
    view, task = _winning(keyspace, event, attempt)
    if task is None:
        return
    view._set_status(task, CANCELLED)
    task.attempt = attempt
    if event.reason:
        task.error = event.reason
    _settle(keyspace, task, event.at_ms)


def _task_cancelled(keyspace: Keyspace, event: TaskCancelled) -> None:
    """The old cancel (kind 27, no attempt): ordered as of the task's attempt here."""
    task = keyspace.tasks.get(event.db, event.key)
    _cancel(keyspace, event, task.attempt if task is not None else 0)


def _task_attempt_cancelled(keyspace: Keyspace, event: TaskAttemptCancelled) -> None:
    _cancel(keyspace, event, event.attempt)


def _task_removed(keyspace: Keyspace, event: TaskRemoved) -> None:
    """Forget a finished task -- unless a later attempt (a retry) was applied here."""
    view = keyspace.tasks
    task = view.tasks.get((event.db, event.key))
    if task is None or task.status not in FINISHED or task.version[0] > event.attempt:
        return
    view._forget(task, keyspace)


TASK_HANDLERS: dict[type, Callable[[Keyspace, Any], None]] = {
    TaskCreated: _task_created,
    TaskClaimed: _task_claimed,
    TaskLeaseRenewed: _task_lease_renewed,
    TaskCompleted: _task_completed,
    TaskFailed: _task_failed,
    TaskRetried: _task_retried,
    TaskDeadLettered: _task_dead_lettered,
    TaskCancelled: _task_cancelled,
    TaskAttemptCancelled: _task_attempt_cancelled,
    TaskRemoved: _task_removed,
}
"""Registered into ``bolt.state._apply``'s handler table."""
