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
are logged, replayed and (later) replicated like everything else.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import trio

from bolt import limits
from bolt.errors import BadRequestError, BoltError, FeedDroppedError, TaskNotFoundError
from bolt.server._auth import LEVELS
from bolt.state import _validate as check
from bolt.state._task_apply import TASK_HANDLERS
from bolt.state._tasks import COMPLETED, FINISHED, PENDING, TaskRecord

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
        if task.status == PENDING:
            self.wake_one(("type", task.db, task.task_type))
        elif task.status in FINISHED:
            self._wake_all(("id", task.db, task.id))
            if task.status == COMPLETED and (task.db, task.id) in self._view.parents:
                for db, task_type in list(self._view.pending):
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
    wait_ms = check.integer(args[-2], "wait_ms")
    if wait_ms < 0:
        raise BadRequestError("wait_ms must not be negative")
    db = check.database(args[-1])
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
            if task.status in FINISHED:
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
    deadline = trio.current_time() + seconds
    while True:
        with waiters.waiter(("type", db, task_type if type(task_type) is str else "")) as event:
            reply, offset = engine.submit("TASK.CLAIM", [task_type, agent_id, lease_ms], db)
            if reply is not None:
                return reply, offset
            if trio.current_time() >= deadline or server.closing:
                return None, offset
            await _sleep_until_woken(event, deadline)


async def run_task_service(server: Server) -> None:
    """Wake task waiters from the change feed and expire due leases, until shutdown."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_follow_feed, server.engine)
        await _sweep_leases(server)
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


async def _sweep_leases(server: Server) -> None:
    engine = server.engine
    view = engine.keyspace.tasks
    interval = limits.task_sweep_interval_ms / 1000
    while not server.closing:
        await trio.sleep(interval)
        due = view.next_lease_expiry()
        if due is None or due > engine._now_ms():
            continue
        try:
            _, offset = engine.submit("TASK.EXPIRE", [limits.task_sweep_tasks_max])
            await engine.wait_durable(offset)
        except BoltError as exc:  # a failed disk: the engine reports it elsewhere
            logger.warning("the lease sweep could not expire tasks: %s", exc)


TASK_SERVER_COMMANDS: dict[str, tuple[Any, bool, int]] = {
    "TASK.WAIT": (cmd_task_wait, True, LEVELS["readonly"]),
    "TASK.CLAIMWAIT": (cmd_task_claim_wait, True, LEVELS["readwrite"]),
}
"""``(handler, is_async, required level)``, added to ``SERVER_COMMANDS``."""
