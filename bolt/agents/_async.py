"""``AsyncTaskCoordinator``: the task API for trio programs, over ``AsyncBoltClient``.

The same commands and rules as the blocking :class:`~bolt.agents.TaskCoordinator`
(fencing by the attempt this coordinator holds, blocking waits on their own
connection -- the trio client pipelines every request of a client on one
connection, and the server answers a connection's requests in order, so a
wait must not sit in front of them). :meth:`AsyncTaskCoordinator.subscribe`
is a coroutine to run in a nursery: it claims tasks of one type as they are
created, runs up to ``credit`` callbacks at once (an ``async def`` callback
is awaited, a plain function runs in a worker thread), renews their leases
while they run, and carries on across connection losses until cancelled.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import trio

from bolt import limits
from bolt.agents._requests import HOME_COMMANDS, TaskRef, create_args
from bolt.agents._task import Task, TaskStatus
from bolt.client import AsyncBoltClient
from bolt.errors import BoltConnectionError, BoltError, BoltTimeoutError, TaskTimeoutError

logger = logging.getLogger("bolt.agents")

AsyncCallback = Callable[[Task], Awaitable[Any] | Any]


def _id(task: TaskRef) -> str:
    return task.id if isinstance(task, Task) else task


class AsyncTaskCoordinator:
    """Tasks for agents over an :class:`~bolt.client.AsyncBoltClient` (see the module docstring).

    Args:
        client: an open client (``async with AsyncBoltClient(...) as client``).
        database: the namespace of the tasks (default: the client's database).
        lease_ms: how long a claim lasts without a heartbeat.
    """

    def __init__(
        self,
        client: AsyncBoltClient,
        *,
        database: str | None = None,
        lease_ms: int = limits.task_lease_ms_default,
    ) -> None:
        self.client = client
        self.database = database if database is not None else client.database
        self.lease_ms = lease_ms
        self._held: dict[str, int] = {}
        self._homes: dict[str, str] = {}  # task id -> its home node (a hint for TASK.HOME)

    async def _call(self, command: str, *args: Any) -> Any:
        db = self.database or ""
        if command in HOME_COMMANDS:  # run where the task is decided (any node accepts it)
            home = self._homes.get(args[0]) if args else None
            hint = [home] if home else []
            return await self.client.execute_command(
                "TASK.HOME", command, list(args), db, *hint, database=db
            )
        return await self.client.execute_command(command, *args, database=db)

    def _waiting_client(self) -> AsyncBoltClient:
        settings = self.client._settings
        host, port = settings.ring.nodes[0]
        return AsyncBoltClient(
            host=host,
            port=port,
            username=settings.username,
            password=settings.password,
            database=self.client.database,
            timeout=limits.task_wait_ms_max / 1000 + 15,
            ssl_context=settings.ssl_context,
            client_name="bolt-agents:wait",
        )

    # --- creating and reading ----------------------------------------------------------

    async def create_task(
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
        """Create a pending task (arguments as ``TaskCoordinator.create_task``)."""
        args = create_args(
            task_type, data, task_id=task_id, priority=priority, max_attempts=max_attempts,
            run_at=run_at, depends_on=depends_on,
        )  # fmt: skip
        return Task.from_reply(await self._call("TASK.CREATE", *args))

    async def create_tasks(self, specs: Iterable[tuple[str, Any]]) -> list[Task]:
        """Create many ``(type, data)`` tasks in one round trip (fan-out)."""
        pipe = self.client.pipeline()
        for task_type, data in specs:
            args = create_args(
                task_type, data, task_id=None, priority=0, max_attempts=None, run_at=None,
                depends_on=None,
            )  # fmt: skip
            pipe.execute_command("TASK.CREATE", *args, database=self.database or "")
        return [Task.from_reply(reply) for reply in await pipe.execute()]

    async def get_task(self, task_id: str) -> Task | None:
        """The task, or None."""
        reply = await self._call("TASK.GET", task_id)
        return None if reply is None else Task.from_reply(reply)

    async def list_tasks(
        self, task_type: str | None = None, status: str | None = None, limit: int = 1000
    ) -> list[Task]:
        """Tasks (oldest first), optionally of one type and/or status."""
        status_text = None if status is None else str(TaskStatus(status))
        replies = await self._call("TASK.LIST", task_type, status_text, limit)
        return [Task.from_reply(r) for r in replies]

    async def wait_for_task(self, task_id: TaskRef, timeout: float | None = None) -> Task:
        """Wait until the task is finished (no polling: the server answers on the change).

        Raises:
            TaskTimeoutError: ``timeout`` seconds passed first.
        """
        deadline = None if timeout is None else trio.current_time() + timeout
        async with self._waiting_client() as waiter:
            while True:
                slice_ms = limits.task_wait_ms_max
                if deadline is not None:
                    left = deadline - trio.current_time()
                    slice_ms = max(0, min(slice_ms, int(left * 1000)))
                reply = await waiter.execute_command(
                    "TASK.WAIT", _id(task_id), slice_ms, self.database or "", retry_safe=True
                )
                if reply is not None:
                    return Task.from_reply(reply)
                if deadline is not None and trio.current_time() >= deadline:
                    raise TaskTimeoutError(f"task '{_id(task_id)}' did not finish in {timeout}s")

    async def wait_for_all(
        self, tasks: Iterable[TaskRef], timeout: float | None = None
    ) -> list[Task]:
        """Wait for every task (gather), concurrently; the timeout covers them all."""
        refs = list(tasks)
        done: list[Task | None] = [None] * len(refs)

        async def one(index: int, ref: TaskRef) -> None:
            done[index] = await self.wait_for_task(ref, timeout)

        async with trio.open_nursery() as nursery:
            for index, ref in enumerate(refs):
                nursery.start_soon(one, index, ref)
        return [t for t in done if t is not None]

    # --- claiming and finishing -------------------------------------------------------

    async def claim_next(
        self, task_type: str, agent_id: str, wait: float = 0.0, lease_ms: int | None = None
    ) -> Task | None:
        """Claim the next ready task of ``task_type``, waiting up to ``wait`` seconds."""
        async with self._waiting_client() as waiter:
            return await self._claim(waiter, task_type, agent_id, wait, lease_ms)

    async def _claim(
        self, waiter: AsyncBoltClient, task_type: str, agent_id: str, wait: float, lease: Any
    ) -> Task | None:
        wait_ms = max(0, min(int(wait * 1000), limits.task_wait_ms_max))
        args = [task_type, agent_id, lease or self.lease_ms, wait_ms, self.database or ""]
        reply = await waiter.execute_command("TASK.CLAIMWAIT", *args)
        if reply is None:
            return None
        task = Task.from_reply(reply)
        self._held[task.id] = task.attempt
        if task.home:
            self._homes[task.id] = task.home
        return task

    async def renew_lease(self, task_id: str, lease_ms: int | None = None) -> float:
        """Extend a held lease; the new expiry (Unix seconds)."""
        lease = lease_ms or self.lease_ms
        expires: int = await self._call("TASK.RENEW", task_id, self._held.get(task_id), lease)
        return expires / 1000

    async def complete_task(self, task_id: str, result: Any = None) -> bool:
        """Complete with ``result`` (the held attempt is sent: a stale one is refused)."""
        done: bool = await self._call("TASK.COMPLETE", task_id, self._held.get(task_id), result)
        self._held.pop(task_id, None)
        return done

    async def fail_task(self, task_id: str, error: str, *, retry: bool = False) -> TaskStatus:
        """Fail with ``error``; with ``retry`` back to pending while attempts are left."""
        attempt = self._held.get(task_id)
        status = await self._call("TASK.FAIL", task_id, attempt, str(error), retry)
        self._held.pop(task_id, None)
        return TaskStatus(status)

    async def cancel_task(self, task_id: str, reason: str = "cancelled") -> bool:
        """Cancel a pending or claimed task."""
        result: bool = await self._call("TASK.CANCEL", task_id, reason)
        return result

    async def retry_task(self, task_id: str) -> Task:
        """Put a dead, failed or cancelled task back to pending."""
        return Task.from_reply(await self._call("TASK.RETRY", task_id))

    # --- subscriptions ----------------------------------------------------------------

    async def subscribe(
        self,
        task_type: str,
        agent_id: str,
        callback: AsyncCallback,
        *,
        credit: int = limits.task_credit_default,
        lease_ms: int | None = None,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve tasks of ``task_type`` until cancelled (run it in a nursery)."""
        lease = lease_ms or self.lease_ms
        slots = trio.Semaphore(credit)
        backoff = 0.05
        async with self._waiting_client() as waiter, trio.open_nursery() as running:
            task_status.started()
            while True:
                await slots.acquire()
                try:
                    task = await self._claim(
                        waiter, task_type, agent_id, limits.task_worker_claim_wait_ms / 1000, lease
                    )
                except (BoltConnectionError, BoltTimeoutError, OSError) as exc:
                    slots.release()
                    logger.info("task agent %s: server unreachable (%s)", agent_id, exc)
                    await trio.sleep(backoff)
                    backoff = min(backoff * 2, limits.task_worker_backoff_ms_max / 1000)
                    continue
                backoff = 0.05
                if task is None:
                    slots.release()
                    continue
                running.start_soon(self._execute, task, callback, lease, slots)

    async def _execute(
        self, task: Task, callback: AsyncCallback, lease: int, slots: trio.Semaphore
    ) -> None:
        try:
            failure: Exception | None = None
            value: Any = None
            async with trio.open_nursery() as beating:
                beating.start_soon(self._heartbeat, task.id, lease)
                try:
                    if inspect.iscoroutinefunction(callback):
                        value = await callback(task)
                    else:
                        value = await trio.to_thread.run_sync(callback, task)
                except Exception as exc:
                    failure = exc
                beating.cancel_scope.cancel()  # the outcome is sent outside this scope
            if task.id not in self._held:
                return  # the callback finished the task itself
            if failure is not None:
                await self.fail_task(task.id, f"{type(failure).__name__}: {failure}", retry=True)
            else:
                await self.complete_task(task.id, value)
        except BoltError as exc:
            logger.warning("task %s: could not record its outcome: %s", task.id, exc)
            self._held.pop(task.id, None)
        finally:
            slots.release()

    async def _heartbeat(self, task_id: str, lease: int) -> None:
        while True:
            await trio.sleep(lease / 3000)
            if task_id not in self._held:
                return
            try:
                await self.renew_lease(task_id, lease)
            except BoltError as exc:
                logger.info("task %s: lease not renewed: %s", task_id, exc)
