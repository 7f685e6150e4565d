"""``AsyncTaskCoordinator`` (trio) against a real daemon: subscribe, wait, fencing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio

from bolt.agents import AsyncTaskCoordinator, Task
from bolt.client import AsyncBoltClient
from bolt.errors import StaleAttemptError, TaskTimeoutError
from bolt.testing import BoltDaemon

DaemonFactory = Callable[..., BoltDaemon]


def test_async_subscribe_wait_and_fencing(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory(env={"BOLT_ADMIN_PASSWORD": "secret"})

    async def main() -> None:
        options = {"host": daemon.host, "port": daemon.port, "username": "admin"}
        async with AsyncBoltClient(**options, password="secret") as client:
            coord = AsyncTaskCoordinator(client)
            seen: list[int] = []

            async def handle(task: Task) -> int:
                seen.append(task.data["n"])
                if task.data["n"] < 0:
                    raise ValueError("negative")
                return task.data["n"] * 2

            def sync_handle(task: Task) -> str:
                return f"sync {task.data['n']}"

            async with trio.open_nursery() as nursery:
                await nursery.start(coord.subscribe, "double", "agent-a", handle)
                await nursery.start(coord.subscribe, "sync", "agent-b", sync_handle)
                tasks = await coord.create_tasks([("double", {"n": n}) for n in range(5)])
                done = await coord.wait_for_all(tasks, timeout=20)
                assert [t.result for t in done] == [0, 2, 4, 6, 8]
                bad = await coord.create_task("double", {"n": -1}, max_attempts=1)
                assert (await coord.wait_for_task(bad, timeout=20)).error == "ValueError: negative"
                other = await coord.create_task("sync", {"n": 7})
                assert (await coord.wait_for_task(other, timeout=20)).result == "sync 7"
                nursery.cancel_scope.cancel()
            assert sorted(seen) == [-1, 0, 1, 2, 3, 4]

            lonely = await coord.create_task("nobody", {})
            with pytest.raises(TaskTimeoutError):
                await coord.wait_for_task(lonely, timeout=0.3)
            short = AsyncTaskCoordinator(client, lease_ms=200)
            held = await short.claim_next("nobody", "slow", wait=1)
            assert held is not None
            again = await coord.claim_next("nobody", "fast", wait=5)  # after the lease expired
            assert again is not None and again.attempt == 2
            with pytest.raises(StaleAttemptError):
                await short.complete_task(held.id, "late")

    trio.run(main)
