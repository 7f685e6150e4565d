"""Blocking task commands and the lease sweep: the server's part of ``bolt.agents``.

Theory of operation
-------------------
The task commands themselves are state commands (``bolt.state._task_commands``)
run through ``engine.submit`` like any write. This module adds what needs to
wait, so agents never poll:

* ``TASK.WAIT [task_id, wait_ms, db]`` → the task once it is finished
  (completed, failed, dead or cancelled), or ``None`` if ``wait_ms`` passed
  first;
* ``TASK.CLAIMWAIT [type, agent_id, lease_ms, wait_ms, db]`` → a claimed task
  of ``type`` as soon as one is ready, or ``None`` after ``wait_ms``.

A waiter registers a ``trio.Event`` under what it waits for *before* it
looks at the view, so a change between the look and the wait is never
missed. :func:`run_task_service` follows the engine's change feed and, for
each task event committed, sets the events of the task and type it changed
(one claim waiter per new pending task: see :class:`TaskWaiters`). Waiters
re-read the view when woken, so they need no particular record, only a
wake-up: if the feed drops this subscriber (it fell behind), every waiter is
woken to look again and the service subscribes anew -- nothing to read back
from the log. One request
holds its connection at most ``limits.task_wait_ms_max``; clients repeat it
to wait longer. A waiter also wakes every ``limits.task_wait_slice_ms`` to
notice a server shutdown and delayed tasks (``run_at``) becoming due.

The lease sweep (also in :func:`run_task_service`) is the node deciding expiry: when
the earliest lease is due it submits ``TASK.EXPIRE``, whose events put the
tasks back to pending with attempt + 1 (or dead). Being events, expiries
are logged, replayed and replicated like everything else. The same loop
runs the retention sweep (``TASK.GC`` every ``limits.task_gc_interval_ms``,
with ``BOLT_TASK_RETENTION_MS`` / ``BOLT_TASK_DEAD_RETENTION_MS``) and
refreshes the takeover state (:mod:`bolt.server._task_router`).

Several nodes: a blocking claim first claims among the tasks this node
decides; if none is ready and the view shows ready tasks of another home,
it forwards ``TASK.CLAIM [type, agent, lease, home]`` to the node deciding
that home and returns its claim. ``TASK.HOME [command, args, db]`` runs any
other task command (complete, fail, renew, release, claim by id, cancel,
retry) here, or -- refused here with ``TASK_NOT_HOME`` -- on the node that
decides the task; the agents send their task commands through it, so an
agent connected to any node is served.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import trio

from bolt import limits
from bolt.config import Config
from bolt.errors import (
    BadRequestError,
    BoltError,
    FeedDroppedError,
    TaskNotFoundError,
)
from bolt.server._auth import LEVELS
from bolt.server._task_router import TaskRouter, router_of
from bolt.state import TASK_FINISHED, TASK_HANDLERS, TASK_PENDING, TaskRecord, validate_database

if TYPE_CHECKING:
    from bolt.node import Change, Engine
    from bolt.server._server import Server
    from bolt.server._session import Session

logger = logging.getLogger("bolt.tasks")

WaitKey = tuple[str, str, str]  # ("id" or "type", db, task id or type)


class TaskWaiters:
    """Who waits for which task or task type; woken by the view's ``on_change``.

    A task that becomes pending wakes ONE claim waiter of its type (the
    longest waiting), not all of them: N new tasks wake N agents, so a burst
    of creations never has every idle agent race for each task. A waiter that
    was woken but leaves without claiming (cancelled, connection lost) passes
    the wake on. A completed parent wakes the claim waiters of every type
    with pending tasks in its database (a child may be ready now).
    """

    def __init__(self, engine: Engine) -> None:
        self._waiting: dict[WaitKey, dict[trio.Event, None]] = {}  # insertion order: FIFO
        self._view = engine.keyspace.tasks

    def committed(self, change: Change) -> None:
        """Wake the waiters the task events of one committed record concern."""
        view = self._view
        for event in change.events:
            if type(event) in TASK_HANDLERS:
                task = view.get(event.db, event.key)
                if task is not None:
                    self.changed(task)

    def wake_everyone(self) -> None:
        """Wake every waiter to look at the view again (after a feed drop)."""
        for key in list(self._waiting):
            self._wake_all(key)

    def changed(self, task: TaskRecord) -> None:
        """Wake the waiters a change of ``task`` concerns (its status now)."""
        if task.status == TASK_PENDING:
            self.wake_one(("type", task.db, task.task_type))
        elif task.status in TASK_FINISHED:
            self._wake_all(("id", task.db, task.id))
            if task.status == "completed" and (task.db, task.id) in self._view.parents:
                for db, task_type, _home in list(self._view.pending):
                    if db == task.db:
                        self._wake_all(("type", db, task_type))

    def wake_one(self, key: WaitKey) -> None:
        """Set the oldest unset event waiting on ``key``."""
        events = self._waiting.get(key)
        if events:
            for event in events:
                if not event.is_set():
                    event.set()
                    return

    def _wake_all(self, key: WaitKey) -> None:
        for event in self._waiting.pop(key, {}):
            event.set()

    @contextmanager
    def waiter(self, key: WaitKey) -> Iterator[trio.Event]:
        """An event set at the next relevant change of ``key`` (registered now)."""
        event = trio.Event()
        self._waiting.setdefault(key, {})[event] = None
        try:
            yield event
        except BaseException:
            if event.is_set() and key[0] == "type":
                self._forget(key, event)
                self.wake_one(key)  # the wake was meant for a claim: hand it on
            raise
        finally:
            self._forget(key, event)

    def _forget(self, key: WaitKey, event: trio.Event) -> None:
        events = self._waiting.get(key)
        if events is not None:
            events.pop(event, None)
            if not events:
                del self._waiting[key]

    def count(self) -> int:
        """How many requests are waiting now."""
        return sum(len(events) for events in self._waiting.values())


_WAITERS: weakref.WeakKeyDictionary[Engine, TaskWaiters] = weakref.WeakKeyDictionary()


def waiters_of(engine: Engine) -> TaskWaiters:
    """The engine's :class:`TaskWaiters` (made, and hooked to its view, on first use)."""
    waiters = _WAITERS.get(engine)
    if waiters is None:
        waiters = _WAITERS[engine] = TaskWaiters(engine)
    return waiters


def _wait_args(command: str, args: list[Any], count: int) -> tuple[list[Any], float, str]:
    if len(args) != count:
        raise BadRequestError(f"'{command}' takes {count} arguments; got {len(args)}")
    wait_ms = args[-2]
    if type(wait_ms) is not int:
        raise BadRequestError("wait_ms must be an integer")
    if wait_ms < 0:
        raise BadRequestError("wait_ms must not be negative")
    db = validate_database(args[-1])
    return args[:-2], min(wait_ms, limits.task_wait_ms_max) / 1000, db


async def _sleep_until_woken(event: trio.Event, deadline: float) -> None:
    with trio.move_on_at(min(deadline, trio.current_time() + limits.task_wait_slice_ms / 1000)):
        await event.wait()


async def cmd_task_wait(server: Server, session: Session, args: list[Any]) -> tuple[Any, int]:
    """``TASK.WAIT [task_id, wait_ms, db]`` → the finished task, or None after ``wait_ms``.

    Raises:
        TaskNotFoundError: no such task.
    """
    (task_id,), seconds, db = _wait_args("TASK.WAIT", args, 3)
    if type(task_id) is not str or not task_id:
        raise BadRequestError("task id must be a non-empty string")
    engine = server.engine
    waiters = waiters_of(engine)
    deadline = trio.current_time() + seconds
    while True:
        with waiters.waiter(("id", db, task_id)) as event:
            task = engine.keyspace.tasks.get(db, task_id)
            if task is None:
                raise TaskNotFoundError(f"no task '{task_id}'")
            if task.status in TASK_FINISHED:
                # What was read may be in records not yet durable: acknowledge after them.
                return task.to_reply(), engine.last_offset
            if trio.current_time() >= deadline or server.closing:
                return None, -1
            await _sleep_until_woken(event, deadline)


async def cmd_task_claim_wait(server: Server, session: Session, args: list[Any]) -> tuple[Any, int]:
    """``TASK.CLAIMWAIT [type, agent_id, lease_ms, wait_ms, db]`` → a claimed task or None.

    The claim itself is ``TASK.CLAIM`` (same checks, same events), retried
    each time a task of the type becomes pending, until ``wait_ms`` passed.
    """
    (task_type, agent_id, lease_ms), seconds, db = _wait_args("TASK.CLAIMWAIT", args, 5)
    engine = server.engine
    waiters = waiters_of(engine)
    router = router_of(server)
    deadline = trio.current_time() + seconds
    while True:
        with waiters.waiter(("type", db, task_type if type(task_type) is str else "")) as event:
            reply, offset = engine.submit("TASK.CLAIM", [task_type, agent_id, lease_ms], db)
            if reply is not None:
                return reply, offset
            if router.clustered:
                reply = await router.claim_elsewhere(db, task_type, [agent_id, lease_ms])
                if reply is not None:
                    return reply, -1  # durable on the node that decided it
            if trio.current_time() >= deadline or server.closing:
                return None, offset
            await _sleep_until_woken(event, deadline)


_ROUTED = frozenset(
    {
        "TASK.CLAIMID",
        "TASK.RENEW",
        "TASK.COMPLETE",
        "TASK.FAIL",
        "TASK.RELEASE",
        "TASK.CANCEL",
        "TASK.RETRY",
    }
)


async def cmd_task_home(server: Server, session: Session, args: list[Any]) -> tuple[Any, int]:
    """``TASK.HOME [command, args, db, home]`` → the reply of a task command, run here
    or, if the task is decided by another node, there (forwarded over a task link).
    ``home`` (optional) is the task's home as the caller knows it, for a task this
    node has not heard of yet (claimed elsewhere moments ago).

    Raises:
        TaskHomeUnavailableError: the deciding node is unreachable (nothing changed).
    """
    if len(args) not in (3, 4):
        raise BadRequestError(f"'TASK.HOME' takes 3 or 4 arguments; got {len(args)}")
    command, command_args, raw_db = args[:3]
    hint = args[3] if len(args) > 3 and type(args[3]) is str else ""
    if command not in _ROUTED:
        raise BadRequestError(f"TASK.HOME runs one of {', '.join(sorted(_ROUTED))}")
    if type(command_args) is not list:
        raise BadRequestError("TASK.HOME's arguments must be a list")
    return await router_of(server).run(command, command_args, validate_database(raw_db), hint)


async def cmd_task_next(server: Server, session: Session, args: list[Any]) -> tuple[Any, int]:
    """``TASK.NEXT [task_id, attempt, result, home, type, agent_id, lease_ms, wait_ms, db]`` →
    ``{"next": task or None}``: complete a claimed task and wait for the agent's next
    claim in one round trip (a subscribed agent's loop: half the requests per task).
    The completion is durable when the reply is sent; if it is refused (a stale
    attempt) its error is the reply and nothing is claimed. ``home`` is the task's
    home as the agent knows it (or None), as for ``TASK.HOME``.
    """
    (task_id, attempt, result, home, task_type, agent_id, lease_ms), _, db = _wait_args(
        "TASK.NEXT", args, 9
    )
    hint = home if type(home) is str else ""
    router = router_of(server)
    _, completed_at = await router.run("TASK.COMPLETE", [task_id, attempt, result], db, hint)
    task, offset = await cmd_task_claim_wait(
        server, session, [task_type, agent_id, lease_ms, args[-2], db]
    )
    return {"next": task}, max(offset, completed_at)


async def run_task_service(server: Server, config: Config | None = None) -> None:
    """Wake task waiters from the change feed, expire due leases, remove finished
    tasks past their retention and follow the takeover rule, until shutdown."""
    router = router_of(server, config)
    router.refresh()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_follow_feed, server.engine)
        await _sweep_leases(server, router, config or Config())
        nursery.cancel_scope.cancel()


async def _follow_feed(engine: Engine) -> None:
    waiters = waiters_of(engine)
    while True:
        with engine.feed.subscribe(limits.task_feed_records_max, name="task waiters") as feed:
            try:
                while True:
                    waiters.committed(await feed.receive())
                    for change in feed.receive_nowait():  # a burst: one wake-up for all
                        waiters.committed(change)
            except FeedDroppedError:
                waiters.wake_everyone()  # they re-read the view: no record is needed


async def _sweep_leases(server: Server, router: TaskRouter, config: Config) -> None:
    engine = server.engine
    view = engine.keyspace.tasks
    interval = limits.task_sweep_interval_ms / 1000
    retention = [config.task_retention_ms, config.task_dead_retention_ms]
    next_gc = trio.current_time()
    while not server.closing:
        await trio.sleep(interval)
        if router.refresh():
            logger.warning("taking over the tasks of %s", ", ".join(sorted(view.taken_over)))
            waiters_of(engine).wake_everyone()  # their pending tasks are claimable here now
        try:
            if trio.current_time() >= next_gc:
                next_gc = trio.current_time() + limits.task_gc_interval_ms / 1000
                removed, offset = engine.submit("TASK.GC", retention)
                if removed:
                    await engine.wait_durable(offset)
            due = view.next_lease_expiry()
            if due is None or due > engine._now_ms():
                continue
            expired, offset = engine.submit("TASK.EXPIRE", [limits.task_sweep_tasks_max])
            if expired:
                await engine.wait_durable(offset)
        except BoltError as exc:  # a failed disk: the engine reports it elsewhere
            logger.warning("the task sweep could not expire or remove tasks: %s", exc)


TASK_SERVER_COMMANDS: dict[str, tuple[Any, bool, int]] = {
    "TASK.WAIT": (cmd_task_wait, True, LEVELS["readonly"]),
    "TASK.CLAIMWAIT": (cmd_task_claim_wait, True, LEVELS["readwrite"]),
    "TASK.HOME": (cmd_task_home, True, LEVELS["readwrite"]),
    "TASK.NEXT": (cmd_task_next, True, LEVELS["readwrite"]),
}
"""``(handler, is_async, required level)``, added to ``SERVER_COMMANDS``."""
