"""The blocking ``TaskCoordinator``: create, claim, complete and wait for tasks.

Theory of operation
-------------------
Everything a coordinator does is a task command on the server (tasks are
data in the store: :mod:`bolt.state._tasks`); the coordinator keeps only
which claims it holds (task id → attempt), so ``complete_task(id, result)``
-- the seed's two-argument form -- sends the attempt (the fencing token)
for the caller. A completion after the lease was lost is refused by the
server with :class:`~bolt.errors.StaleAttemptError`.

Requests that block (``TASK.WAIT``, ``TASK.CLAIMWAIT``) hold a connection
while they wait, so they never use the caller's client: they take one from
a pool of connections with the same settings (one per concurrent waiter),
closed by :meth:`TaskCoordinator.stop` or when the coordinator is collected. Short requests go
through the caller's client, which is thread-safe.

``subscribe`` runs a :class:`~bolt.agents._worker.Worker` in background
threads (see there).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from bolt import limits
from bolt.agents._budget import Budget
from bolt.agents._requests import (
    HOME_COMMANDS,
    READ_COMMANDS,
    Callback,
    TaskRef,
    clone_client,
    close_all,
    create_args,
    task_id_of,
)
from bolt.agents._task import Task, TaskStatus
from bolt.client import BoltClient
from bolt.errors import BoltConnectionError, BoltTimeoutError, TaskTimeoutError


class TaskCoordinator:
    """Tasks for agents, over a :class:`~bolt.client.BoltClient` (the seed's API).

    Args:
        client: a connected (or connectable) client; it is not closed by :meth:`stop`.
        database: the namespace of the tasks (default: the client's database).
        lease_ms: how long a claim lasts without a heartbeat.
    """

    def __init__(
        self,
        client: BoltClient,
        *,
        database: str | None = None,
        lease_ms: int = limits.task_lease_ms_default,
    ) -> None:
        self.client = client
        self.database = database if database is not None else client.database
        self.lease_ms = lease_ms
        self._held: dict[str, int] = {}  # task id -> attempt this coordinator holds
        self._homes: dict[str, str] = {}  # task id -> its home node (a hint for TASK.HOME)
        self._held_lock = threading.Lock()
        # Connections for blocking commands: every one made, and those free now.
        self._waiting_clients: list[BoltClient] = []
        self._idle_clients: list[BoltClient] = []
        weakref.finalize(self, close_all, self._waiting_clients)
        self._workers: dict[str, Any] = {}
        self._stopping = threading.Event()
        self.next_with_completion = True
        """Subscribed workers (credit 1, no budget) complete a task and claim the next
        in one request (``TASK.NEXT``); False: two requests (for comparison)."""

    # --- plumbing ------------------------------------------------------------------

    def _call(self, command: str, *args: Any) -> Any:
        db = self.database or ""
        if command in HOME_COMMANDS:  # run where the task is decided (any node accepts it)
            home = self._homes.get(args[0]) if args else None
            hint = [home] if home else []
            return self.client.execute_command(
                "TASK.HOME", command, list(args), db, *hint, database=db, retry_safe=False
            )
        retry_safe = command in READ_COMMANDS  # a read may be re-sent after a reconnect
        return self.client.execute_command(command, *args, database=db, retry_safe=retry_safe)

    def _wait_call(self, command: str, *args: Any) -> Any:
        """Send a blocking command on a connection of the pool (never the caller's)."""
        with self._held_lock:
            client = self._idle_clients.pop() if self._idle_clients else None
        if client is None:
            client = clone_client(self.client, limits.task_wait_ms_max / 1000 + 15)
            with self._held_lock:
                self._waiting_clients.append(client)
        try:
            return client.execute_command(
                command,
                *args,
                self.database or "",  # blocking commands name their database last
                database=self.database or "",
                retry_safe=command in READ_COMMANDS,
            )
        finally:
            with self._held_lock:
                if client in self._waiting_clients:
                    self._idle_clients.append(client)

    def hold(self, task: Task) -> None:
        """Remember a claim (its attempt is sent with the completion)."""
        with self._held_lock:
            self._held[task.id] = task.attempt
            if task.home:
                self._homes[task.id] = task.home

    def holds(self, task_id: str) -> bool:
        """Whether this coordinator holds a claim on ``task_id``."""
        with self._held_lock:
            return task_id in self._held

    def _attempt(self, task_id: str) -> int | None:
        with self._held_lock:
            return self._held.get(task_id)

    def _forget(self, task_id: str) -> None:
        with self._held_lock:
            self._held.pop(task_id, None)
            self._homes.pop(task_id, None)

    # --- creating ----------------------------------------------------------------------

    def create_task(
        self,
        task_type: str,
        data: Any = None,
        *,
        task_id: str | None = None,
        priority: int = 0,
        max_attempts: int | None = None,
        run_at: float | None = None,
        depends_on: Sequence[TaskRef] | None = None,
    ) -> Task:
        """Create a pending task and return it.

        Args:
            task_type: agents subscribe by type.
            data: the task's input (anything msgpack encodes; a dict usually).
            priority: higher is claimed first.
            max_attempts: attempts before the task is dead (default 3).
            run_at: Unix time (seconds) before which it is not handed out.
            depends_on: tasks that must complete first; the claim carries their
                results in ``task.parent_results``.

        Raises:
            TooLargeError: the data is larger than ``limits.task_data_bytes_max``.
            TaskNotFoundError: a parent does not exist.
        """
        args = create_args(
            task_type, data, task_id=task_id, priority=priority, max_attempts=max_attempts,
            run_at=run_at, depends_on=depends_on,
        )  # fmt: skip
        return Task.from_reply(self._call("TASK.CREATE", *args))

    def create_tasks(self, specs: Iterable[tuple[str, Any] | Mapping[str, Any]]) -> list[Task]:
        """Create many tasks in one round trip (fan-out); each spec is
        ``(type, data)`` or a dict of :meth:`create_task`'s arguments."""
        pipe = self.client.pipeline()
        for spec in specs:
            if isinstance(spec, Mapping):
                options = dict(spec)
                task_type, data = options.pop("task_type"), options.pop("data", None)
            else:
                (task_type, data), options = spec, {}
            options.setdefault("priority", 0)
            options.setdefault("max_attempts", None)
            options.setdefault("run_at", None)
            options.setdefault("depends_on", None)
            options.setdefault("task_id", None)
            pipe.execute_command(
                "TASK.CREATE",
                *create_args(task_type, data, **options),
                database=self.database or "",
            )
        return [Task.from_reply(reply) for reply in pipe.execute()]

    def pipeline(self, *steps: tuple[str, Any]) -> list[Task]:
        """Create a chain: each ``(type, data)`` step starts when the previous one
        completed, and finds its result in ``task.parent_results``."""
        tasks: list[Task] = []
        for task_type, data in steps:
            tasks.append(self.create_task(task_type, data, depends_on=tasks[-1:] or None))
        return tasks

    # --- reading and waiting -------------------------------------------------------

    def get_task(self, task_id: str) -> Task | None:
        """The task, or ``None`` if there is no task with this id."""
        reply = self._call("TASK.GET", task_id)
        return None if reply is None else Task.from_reply(reply)

    def list_tasks(
        self, task_type: str | None = None, status: str | None = None, limit: int = 1000
    ) -> list[Task]:
        """Tasks (oldest first), optionally of one type and/or status."""
        status_text = None if status is None else str(TaskStatus(status))
        return [Task.from_reply(r) for r in self._call("TASK.LIST", task_type, status_text, limit)]

    def dead_letters(self, task_type: str | None = None) -> list[Task]:
        """The dead tasks (out of attempts), for inspection or :meth:`retry_task`."""
        return self.list_tasks(task_type, TaskStatus.DEAD)

    def stats(self) -> dict[str, Any]:
        """Counts per type and status, and the coordinator totals of the node."""
        result: dict[str, Any] = self._call("TASK.STATS")
        return result

    def wait_for_task(self, task_id: TaskRef, timeout: float | None = None) -> Task:
        """Block until the task is finished (completed, failed, dead or cancelled).

        The server answers the moment the task finishes (no polling). A lost
        connection (a daemon restart) is retried with a growing pause until
        the timeout: the wait is a read, so asking again is safe.

        Raises:
            TaskTimeoutError: ``timeout`` seconds passed first.
            TaskNotFoundError: no such task.
            BoltConnectionError: the server stayed unreachable until the timeout.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.05
        while True:
            slice_ms = limits.task_wait_ms_max
            if deadline is not None:
                slice_ms = max(0, min(slice_ms, int((deadline - time.monotonic()) * 1000)))
            try:
                reply = self._wait_call("TASK.WAIT", task_id_of(task_id), slice_ms)
            except (BoltConnectionError, BoltTimeoutError):
                if deadline is not None and time.monotonic() + pause >= deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, limits.task_worker_backoff_ms_max / 1000)
                continue
            pause = 0.05
            if reply is not None:
                return Task.from_reply(reply)
            if deadline is not None and time.monotonic() >= deadline:
                raise TaskTimeoutError(
                    f"task '{task_id_of(task_id)}' did not finish within {timeout}s"
                )

    def wait_for_all(self, tasks: Iterable[TaskRef], timeout: float | None = None) -> list[Task]:
        """:meth:`wait_for_task` for each (gather); the timeout covers them all."""
        deadline = None if timeout is None else time.monotonic() + timeout
        done: list[Task] = []
        for task in tasks:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            done.append(self.wait_for_task(task, left))
        return done

    # --- claiming and finishing ----------------------------------------------------------

    def claim_task(self, task_id: str, agent_id: str, lease_ms: int | None = None) -> Task:
        """Claim one pending task by id (the subscription claims by type instead).

        Raises:
            TaskStateError: the task is not pending.
        """
        reply = self._call("TASK.CLAIMID", task_id, agent_id, lease_ms or self.lease_ms)
        task = Task.from_reply(reply)
        self.hold(task)
        return task

    def claim_next(
        self, task_type: str, agent_id: str, wait: float = 0.0, lease_ms: int | None = None
    ) -> Task | None:
        """Claim the next ready task of ``task_type``, waiting up to ``wait`` seconds."""
        lease = lease_ms or self.lease_ms
        wait_ms = max(0, min(int(wait * 1000), limits.task_wait_ms_max))
        reply = self._wait_call("TASK.CLAIMWAIT", task_type, agent_id, lease, wait_ms)
        if reply is None:
            return None
        task = Task.from_reply(reply)
        self.hold(task)
        return task

    def complete_and_claim_next(
        self,
        task_id: str,
        result: Any,
        task_type: str,
        agent_id: str,
        wait: float = 0.0,
        lease_ms: int | None = None,
    ) -> Task | None:
        """Complete a held task and claim the next of ``task_type`` in one round trip
        (``TASK.NEXT``); the next task, or None if none came within ``wait`` seconds.

        Raises:
            StaleAttemptError: the claim on ``task_id`` is no longer current.
        """
        with self._held_lock:
            attempt, home = self._held.get(task_id), self._homes.get(task_id)
        lease = lease_ms or self.lease_ms
        wait_ms = max(0, min(int(wait * 1000), limits.task_wait_ms_max))
        try:
            reply = self._wait_call(
                "TASK.NEXT", task_id, attempt, result, home, task_type, agent_id, lease, wait_ms
            )
        finally:
            self._forget(task_id)
        if reply["next"] is None:
            return None
        task = Task.from_reply(reply["next"])
        self.hold(task)
        return task

    def renew_lease(self, task_id: str, lease_ms: int | None = None) -> float:
        """Extend the lease of a claim this coordinator holds; the new expiry (Unix s).

        Raises:
            StaleAttemptError: the lease was already lost.
        """
        expires: int = self._call(
            "TASK.RENEW", task_id, self._attempt(task_id), lease_ms or self.lease_ms
        )
        return expires / 1000

    def complete_task(self, task_id: str, result: Any = None) -> bool:
        """Complete a task with ``result``; True when recorded.

        The attempt of this coordinator's claim is sent along; a task not
        claimed here is completed by hand (pending or claimed).

        Raises:
            StaleAttemptError: this coordinator's claim is no longer current.
            TaskStateError: the task is already finished.
        """
        done: bool = self._call("TASK.COMPLETE", task_id, self._attempt(task_id), result)
        self._forget(task_id)
        return done

    def fail_task(self, task_id: str, error: str, *, retry: bool = False) -> TaskStatus:
        """Fail a task with ``error``; returns its new status.

        With ``retry`` it goes back to pending while attempts are left (then
        ``dead``); without, it stays ``failed``.
        """
        status = self._call("TASK.FAIL", task_id, self._attempt(task_id), str(error), retry)
        self._forget(task_id)
        return TaskStatus(status)

    def release_task(self, task_id: str) -> None:
        """Give a claim back unused (it does not count against the attempts)."""
        self._call("TASK.RELEASE", task_id, self._attempt(task_id))
        self._forget(task_id)

    def cancel_task(self, task_id: str, reason: str = "cancelled") -> bool:
        """Cancel a pending or claimed task."""
        result: bool = self._call("TASK.CANCEL", task_id, reason)
        return result

    def retry_task(self, task_id: str) -> Task:
        """Put a dead, failed or cancelled task back to pending, with fresh attempts."""
        return Task.from_reply(self._call("TASK.RETRY", task_id))

    # --- subscriptions ----------------------------------------------------------------

    def subscribe(
        self,
        task_type: str,
        agent_id: str,
        callback: Callback,
        *,
        credit: int = limits.task_credit_default,
        lease_ms: int | None = None,
        budget: Budget | None = None,
        keep_alive: bool | None = None,
    ) -> Any:
        """Run ``callback(task)`` for each task of ``task_type``, in background threads.

        The agent holds at most ``credit`` tasks at once; the lease is renewed
        while the callback runs. When the callback returns without completing
        the task, it is completed with the callback's return value; when it
        raises, the task fails with the exception's text and is retried per
        its ``max_attempts``. The threads keep the process alive (a script
        whose last line is ``subscribe`` keeps serving) until :meth:`stop`,
        SIGTERM or Ctrl-C; then running callbacks finish (a second signal
        releases their tasks). With ``budget`` (:meth:`budget`,
        :meth:`rate_limit`) the agent claims only while the budget has units
        left. ``keep_alive`` (default: yes, except under pytest) says whether
        the subscription keeps the process alive after the main thread ends;
        an uncaught exception stops every worker either way. Returns the
        :class:`~bolt.agents.Worker`.
        """
        from bolt.agents._worker import Worker  # the worker imports this module

        if task_type in self._workers:
            raise ValueError(f"already subscribed to '{task_type}'")
        worker = Worker(
            self,
            task_type,
            agent_id,
            callback,
            credit,
            lease_ms or self.lease_ms,
            budget,
            keep_alive,
        )
        self._workers[task_type] = worker
        worker.start()
        return worker

    def budget(self, name: str, tokens_per_minute: int) -> Budget:
        """A token budget shared by every agent (charge it with ``budget.spend(n)``)."""
        return Budget(self, name, tokens_per_minute)

    def rate_limit(self, name: str, tasks_per_minute: int) -> Budget:
        """A claim rate limit: each task claimed under it costs one unit."""
        return Budget(self, name, tasks_per_minute, cost_per_task=1)

    def unsubscribe(self, task_type: str) -> None:
        """Stop the subscription to ``task_type`` (its running callbacks finish)."""
        worker = self._workers.pop(task_type, None)
        if worker is not None:
            worker.stop()
            worker.join()

    def stop(self) -> None:
        """Stop every subscription, wait for running callbacks, close the waiting connections."""
        self._stopping.set()
        workers = list(self._workers.values())
        self._workers.clear()
        for worker in workers:  # all stop claiming at once, then each is waited for
            worker.stop()
        for worker in workers:
            worker.join()
        with self._held_lock:
            self._idle_clients.clear()
            close_all(self._waiting_clients)

    def wait(self) -> None:
        """Block until every subscription stopped (SIGTERM, Ctrl-C or :meth:`stop`)."""
        for worker in list(self._workers.values()):
            worker.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
