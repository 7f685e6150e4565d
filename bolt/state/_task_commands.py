"""Task commands: validate against the task view, and decide the task events.

Theory of operation
-------------------
Like every command handler (:mod:`bolt.state._commands`), each one checks
all its arguments and the task's status first and only then takes stamps,
so a refused request writes nothing. The node decides every transition
here, once -- which task a claim takes, whether a failure is retried or
dead-lettered, which leases expired -- and logs the outcome as facts that
``apply`` replays (:mod:`bolt.state._tasks`).

Fencing: ``TASK.RENEW``, ``TASK.COMPLETE``, ``TASK.FAIL`` and
``TASK.RELEASE`` carry the attempt the caller holds; if the task is not
claimed under that attempt any more (its lease expired, it went back to
pending) the request is refused with :class:`~bolt.errors.StaleAttemptError`.
``COMPLETE`` and ``FAIL`` also accept ``None`` for an operator acting on a
pending or claimed task by hand.

``TASK.EXPIRE`` is the node's own sweep (the server calls it when a lease
is due): each expired claim goes back to pending with attempt + 1, or to
``dead`` once the attempt limit is reached. ``TASK.GC`` is the retention
sweep: finished tasks past their retention are removed (``TaskRemoved``).

Several nodes: a node makes the transitions only of the tasks it decides
(:meth:`~bolt.state.TaskView.decides`: their home is this node, or a home it
took over). A claim by type looks only at those; any other command on a task
decided elsewhere is refused with :class:`~bolt.errors.TaskNotHomeError`
(naming the home) before anything is stamped -- the server's ``TASK.HOME``
and ``TASK.CLAIMWAIT`` forward it there (``bolt.server._tasks``). Expiry and
retention also handle only the tasks this node decides, so two nodes never
both expire one lease while they see each other.
"""

from __future__ import annotations

from typing import Any

import msgpack

from bolt import limits
from bolt.errors import (
    BadRequestError,
    StaleAttemptError,
    TaskExistsError,
    TaskNotFoundError,
    TaskNotHomeError,
    TaskStateError,
    TooLargeError,
)
from bolt.events import (
    Event,
    TaskAttemptCancelled,
    TaskClaimed,
    TaskCompleted,
    TaskCreated,
    TaskDeadLettered,
    TaskFailed,
    TaskLeaseRenewed,
    TaskRemoved,
    TaskRetried,
)
from bolt.state import _validate as check
from bolt.state._handlers import CommandSpec, Reply, Stamper
from bolt.state._keyspace import Keyspace
from bolt.state._tasks import (
    CANCELLED,
    CLAIMED,
    COMPLETED,
    DEAD,
    FAILED,
    PENDING,
    STATUSES,
    TaskRecord,
)

_OPTIONS = frozenset({"priority", "max_attempts", "run_at_ms", "parents"})


def _text(value: Any, what: str, most: int, *, empty: bool = False) -> str:
    if type(value) is not str or (not value and not empty):
        raise BadRequestError(f"{what} must be a non-empty string")
    if len(value.encode("utf-8", "surrogatepass")) > most:
        raise TooLargeError(f"{what} is longer than {most} bytes")
    return value


def _blob(value: Any, what: str, most: int) -> bytes:
    try:
        blob: bytes = msgpack.packb(value, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadRequestError(f"{what} cannot be stored: {exc}") from None
    if len(blob) > most:
        raise TooLargeError(f"{what} is {len(blob)} bytes encoded; the limit is {most}")
    return blob


def _bounded(value: Any, what: str, low: int, high: int) -> int:
    number = check.integer(value, what)
    if not low <= number <= high:
        raise BadRequestError(f"{what} must be between {low} and {high}")
    return number


def _lease(value: Any) -> int:
    if value is None:
        return limits.task_lease_ms_default
    return _bounded(value, "lease_ms", limits.task_lease_ms_min, limits.task_lease_ms_max)


def _task(ks: Keyspace, db: str, raw_id: Any) -> TaskRecord:
    task_id = _text(raw_id, "task id", limits.task_id_bytes_max)
    task = ks.tasks.get(db, task_id)
    if task is None:
        raise TaskNotFoundError(f"no task '{task_id}'")
    return task


def _decided(ks: Keyspace, ctx: Stamper, db: str, raw_id: Any) -> TaskRecord:
    """The task, if this node decides it (else :class:`TaskNotHomeError`)."""
    task = _task(ks, db, raw_id)
    if not ks.tasks.decides(task, ctx.origin):
        raise TaskNotHomeError(
            f"task '{task.id}' is decided by its home node '{task.home}', not by "
            f"'{ctx.origin}': send the command there, or through TASK.HOME",
            home=task.home,
        )
    return task


def _fence(task: TaskRecord, attempt: Any, *, by_hand: bool) -> int:
    """The attempt to log; refuse a stale one (``by_hand``: None allowed)."""
    if attempt is None and by_hand:
        if task.status not in (PENDING, CLAIMED):
            raise TaskStateError(f"task '{task.id}' is {task.status}")
        return task.attempt
    number = check.integer(attempt, "attempt")
    if task.status != CLAIMED or task.attempt != number:
        raise StaleAttemptError(
            f"task '{task.id}' is not claimed under attempt {number} "
            f"(it is {task.status}, attempt {task.attempt})"
        )
    return number


def _options(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if type(raw) is not dict or not set(raw) <= _OPTIONS:
        raise BadRequestError(f"task options must be a map of {sorted(_OPTIONS)}")
    return raw


def cmd_create(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``TASK.CREATE [id or "", type, data, options]`` → the new task."""
    check.arity("TASK.CREATE", args, 3, 4)
    task_id = _text(args[0], "task id", limits.task_id_bytes_max, empty=True)
    task_type = _text(args[1], "task type", limits.task_type_bytes_max)
    data = _blob(args[2], "task data", limits.task_data_bytes_max)
    options = _options(args[3] if len(args) > 3 else None)
    priority = _bounded(
        options.get("priority", 0),
        "priority",
        -limits.task_priority_abs_max,
        limits.task_priority_abs_max,
    )
    attempts = _bounded(
        options.get("max_attempts", limits.task_max_attempts_default),
        "max_attempts",
        1,
        limits.task_max_attempts_max,
    )
    run_at = _bounded(options.get("run_at_ms", 0), "run_at_ms", 0, limits.int64_max)
    raw_parents = options.get("parents") or []
    if type(raw_parents) not in (list, tuple) or len(raw_parents) > limits.task_parents_max:
        raise BadRequestError(f"parents must be a list of at most {limits.task_parents_max} ids")
    parents = tuple(_task(ks, db, p).id for p in raw_parents)
    if task_id and ks.tasks.get(db, task_id) is not None:
        raise TaskExistsError(f"a task '{task_id}' already exists")
    seq, hlc = ctx.stamp()
    task_id = task_id or f"{ctx.origin}-{seq}"  # the dot is unique: no randomness needed
    event = TaskCreated(
        ctx.origin, seq, hlc, db, task_id, task_type, data, priority, attempts, run_at, parents, now
    )
    return _created_reply(event), [event]


def _created_reply(event: TaskCreated) -> dict[str, Any]:
    task = TaskRecord(
        event.db, event.key, event.task_type, event.data, event.priority, event.max_attempts,
        event.run_at_ms, event.parents, event.at_ms, event.hlc,
        attempt_limit=event.max_attempts, updated_at_ms=event.at_ms, home=event.origin,
    )  # fmt: skip
    return task.to_reply()


def _claim(ks: Keyspace, ctx: Stamper, task: TaskRecord, agent: str, lease: int, now: int) -> Reply:
    seq, hlc = ctx.stamp()
    event = TaskClaimed(
        ctx.origin, seq, hlc, task.db, task.id, agent, task.attempt, now + lease, now
    )
    reply = task.to_reply()
    reply.update(status=CLAIMED, agent_id=agent, lease_expires_at_ms=now + lease, claimed_at_ms=now)
    reply["parent_results"] = {
        p: ks.tasks.get(task.db, p).to_reply()["result"]  # type: ignore[union-attr]
        for p in task.parents
    }
    return reply, [event]


def cmd_claim(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``TASK.CLAIM [type, agent_id, lease_ms, home]`` → the claimed task, or None if
    none is ready. Only tasks this node decides (of ``home`` only, if given)."""
    check.arity("TASK.CLAIM", args, 2, 4)
    task_type = _text(args[0], "task type", limits.task_type_bytes_max)
    agent = _text(args[1], "agent id", limits.task_agent_id_bytes_max)
    lease = _lease(args[2] if len(args) > 2 else None)
    view = ks.tasks
    homes = view.deciding(ctx.origin)
    if len(args) > 3 and args[3] is not None:
        home = _text(args[3], "home", limits.task_agent_id_bytes_max)
        if homes is not None and home not in homes:
            raise TaskNotHomeError(f"node '{ctx.origin}' does not decide '{home}'", home=home)
        homes = frozenset((home,))
    for task in view.pending_of(db, task_type, homes):
        if view.ready(task, now):
            return _claim(ks, ctx, task, agent, lease, now)
    return None, None


def cmd_claim_id(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``TASK.CLAIMID [task_id, agent_id, lease_ms]`` → the task, now claimed."""
    check.arity("TASK.CLAIMID", args, 2, 3)
    task = _decided(ks, ctx, db, args[0])
    agent = _text(args[1], "agent id", limits.task_agent_id_bytes_max)
    lease = _lease(args[2] if len(args) > 2 else None)
    if task.status != PENDING:
        raise TaskStateError(f"task '{task.id}' is {task.status}, not pending")
    return _claim(ks, ctx, task, agent, lease, now)


def cmd_renew(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``TASK.RENEW [task_id, attempt, lease_ms]`` → the new lease expiry (ms)."""
    check.arity("TASK.RENEW", args, 2, 3)
    task = _decided(ks, ctx, db, args[0])
    attempt = _fence(task, args[1], by_hand=False)
    lease = _lease(args[2] if len(args) > 2 else None)
    seq, hlc = ctx.stamp()
    expires = now + lease
    return expires, [TaskLeaseRenewed(ctx.origin, seq, hlc, db, task.id, attempt, expires, now)]


def cmd_complete(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``TASK.COMPLETE [task_id, attempt or None, result]`` → True."""
    check.arity("TASK.COMPLETE", args, 3)
    task = _decided(ks, ctx, db, args[0])
    attempt = _fence(task, args[1], by_hand=True)
    result = _blob(args[2], "task result", limits.task_result_bytes_max)
    seq, hlc = ctx.stamp()
    return True, [TaskCompleted(ctx.origin, seq, hlc, db, task.id, attempt, result, now)]


def _next(ctx: Stamper, task: TaskRecord, reason: str, now: int, extra: int = 0) -> Event:
    """Back to pending with attempt + 1, or dead when the attempt limit is reached."""
    seq, hlc = ctx.stamp()
    if task.attempt >= task.attempt_limit + extra:
        return TaskDeadLettered(ctx.origin, seq, hlc, task.db, task.id, task.attempt, reason, now)
    limit = task.attempt_limit + extra
    return TaskRetried(ctx.origin, seq, hlc, task.db, task.id, task.attempt + 1, limit, reason, now)


def cmd_fail(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``TASK.FAIL [task_id, attempt or None, error, retry]`` → the task's new status.

    With ``retry`` the task goes back to pending (attempt + 1) while attempts
    are left and is dead after the last; without, it stays ``failed``.
    """
    check.arity("TASK.FAIL", args, 3, 4)
    task = _decided(ks, ctx, db, args[0])
    attempt = _fence(task, args[1], by_hand=True)
    if type(args[2]) is not str:
        raise BadRequestError("error must be a string")
    error = args[2][: limits.task_error_chars_max]
    retry = len(args) > 3 and args[3] is True
    seq, hlc = ctx.stamp()
    events: list[Event] = [TaskFailed(ctx.origin, seq, hlc, db, task.id, attempt, error, now)]
    if retry:
        events.append(_next(ctx, task, error, now))
    status = FAILED if not retry else (DEAD if type(events[-1]) is TaskDeadLettered else PENDING)
    return status, events


def cmd_release(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``TASK.RELEASE [task_id, attempt]`` → None: give a claim back unused (a
    worker shutting down); it does not count against the task's attempts."""
    check.arity("TASK.RELEASE", args, 2)
    task = _decided(ks, ctx, db, args[0])
    _fence(task, args[1], by_hand=False)
    return None, [_next(ctx, task, "released by its agent", now, extra=1)]


def cmd_expire(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``TASK.EXPIRE [limit]`` → how many expired leases were handled (the node's sweep)."""
    check.arity("TASK.EXPIRE", args, 0, 1)
    limit = _bounded(args[0], "limit", 1, 1 << 30) if args else limits.task_sweep_tasks_max
    view = ks.tasks
    due = view.expired(now, limit, ctx.origin, view.takeover_delay_ms)
    if not due:
        return 0, None
    events = [
        _next(ctx, task, f"lease of attempt {task.attempt} expired (agent {task.agent_id})", now)
        for task in due
    ]
    return len(events), events


def cmd_cancel(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``TASK.CANCEL [task_id, reason]`` → True; a finished task is refused."""
    check.arity("TASK.CANCEL", args, 1, 2)
    task = _decided(ks, ctx, db, args[0])
    reason = args[1] if len(args) > 1 and type(args[1]) is str else "cancelled"
    if task.status not in (PENDING, CLAIMED):
        raise TaskStateError(f"task '{task.id}' is {task.status}: only a pending or claimed task")
    seq, hlc = ctx.stamp()
    event = TaskAttemptCancelled(
        ctx.origin, seq, hlc, db, task.id, task.attempt, reason[: limits.task_error_chars_max], now
    )
    return True, [event]


def cmd_gc(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``TASK.GC [retention_ms, dead_retention_ms, limit]`` → how many finished tasks
    were removed (the node's retention sweep; every database, tasks it decides)."""
    check.arity("TASK.GC", args, 2, 3)
    retention = _bounded(args[0], "retention_ms", 0, limits.int64_max)
    kept = _bounded(args[1], "dead_retention_ms", 0, limits.int64_max)
    limit = _bounded(args[2], "limit", 1, 1 << 30) if len(args) > 2 else limits.task_sweep_tasks_max
    due = ks.tasks.removable(now, retention, kept, ctx.origin, limit)
    if not due:
        return 0, None
    events: list[Event] = []
    for task in due:
        seq, hlc = ctx.stamp()
        events.append(TaskRemoved(ctx.origin, seq, hlc, task.db, task.id, task.attempt, now))
    return len(events), events


def cmd_retry(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``TASK.RETRY [task_id]`` → the task, pending again with a fresh set of attempts."""
    check.arity("TASK.RETRY", args, 1)
    task = _decided(ks, ctx, db, args[0])
    if task.status not in (DEAD, FAILED, CANCELLED):
        raise TaskStateError(f"task '{task.id}' is {task.status}: only dead, failed or cancelled")
    seq, hlc = ctx.stamp()
    attempt = task.attempt + 1
    limit = task.attempt + task.max_attempts
    event = TaskRetried(ctx.origin, seq, hlc, db, task.id, attempt, limit, "retried by hand", now)
    reply = task.to_reply()
    reply.update(status=PENDING, attempt=attempt, attempt_limit=limit, agent_id=None)
    return reply, [event]


def cmd_get(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``TASK.GET [task_id]`` → the task, or None."""
    check.arity("TASK.GET", args, 1)
    task_id = _text(args[0], "task id", limits.task_id_bytes_max)
    task = ks.tasks.get(db, task_id)
    return (None if task is None else task.to_reply()), None


def cmd_list(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``TASK.LIST [type or None, status or None, limit]`` → tasks, oldest first."""
    check.arity("TASK.LIST", args, 0, 3)
    task_type = args[0] if args else None
    status = args[1] if len(args) > 1 else None
    limit = _bounded(args[2], "limit", 1, limits.task_list_max) if len(args) > 2 else 1000
    if task_type is not None:
        _text(task_type, "task type", limits.task_type_bytes_max)
    if status is not None and status not in STATUSES:
        raise BadRequestError(f"status must be one of {', '.join(STATUSES)}")
    found = [
        t
        for t in ks.tasks.tasks.values()
        if t.db == db
        and (task_type is None or t.task_type == task_type)
        and (status is None or t.status == status)
    ]
    found.sort(key=lambda t: t.created_hlc)
    return [t.to_reply() for t in found[:limit]], None


def cmd_stats(ks: Keyspace, ctx: Stamper, db: str, args: list[Any], now: int) -> Reply:
    """``TASK.STATS`` → counts per type and status, leases due soon, totals."""
    check.arity("TASK.STATS", args, 0)
    view = ks.tasks
    by_type: dict[str, dict[str, int]] = {}
    for task in view.tasks.values():
        if task.db == db:
            counts = by_type.setdefault(task.task_type, dict.fromkeys(STATUSES, 0))
            counts[task.status] += 1
    return {
        "types": by_type,
        "claims_total": view.claims_total,
        "completions_total": view.completions_total,
        "failures_total": view.failures_total,
        "retries_total": view.retries_total,
        "dead_letters_total": view.dead_letters_total,
        "next_lease_expiry_ms": view.next_lease_expiry(),
        "completed": sum(c[COMPLETED] for c in by_type.values()),
    }, None


TASK_COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in [
        CommandSpec("TASK.CREATE", cmd_create, "write", True, "task"),
        CommandSpec("TASK.CLAIM", cmd_claim, "write", False, "task"),
        CommandSpec("TASK.CLAIMID", cmd_claim_id, "write", False, "task"),
        CommandSpec("TASK.RENEW", cmd_renew, "write", False, "task"),
        CommandSpec("TASK.COMPLETE", cmd_complete, "write", True, "task"),
        CommandSpec("TASK.FAIL", cmd_fail, "write", False, "task"),
        CommandSpec("TASK.RELEASE", cmd_release, "write", False, "task"),
        CommandSpec("TASK.EXPIRE", cmd_expire, "write", False, "task"),
        CommandSpec("TASK.GC", cmd_gc, "write", False, "task"),
        CommandSpec("TASK.CANCEL", cmd_cancel, "write", False, "task"),
        CommandSpec("TASK.RETRY", cmd_retry, "write", False, "task"),
        CommandSpec("TASK.GET", cmd_get, "read", False, "task"),
        CommandSpec("TASK.LIST", cmd_list, "read", False, "task"),
        CommandSpec("TASK.STATS", cmd_stats, "read", False, "task"),
    ]
}
"""Registered into ``bolt.state.COMMANDS``."""
