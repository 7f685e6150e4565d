"""Finished tasks leave after their retention on a real daemon, and tasks count
against the memory limit (issue 13, item 2)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from bolt.agents import TaskCoordinator
from bolt.errors import OutOfMemoryError
from bolt.testing import BoltDaemon

DaemonFactory = Callable[..., BoltDaemon]


def test_a_steady_stream_of_finished_tasks_keeps_memory_bounded(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    daemon = bolt_daemon_factory(env={"BOLT_TASK_RETENTION_MS": "300"})
    with daemon.client() as client:
        coord = TaskCoordinator(client)
        baseline = client.stats()["memory"]["used"]
        for round_ in range(5):
            for n in range(100):
                task = coord.create_task("job", {"blob": "x" * 2000, "n": n})
                claimed = coord.claim_task(task.id, "agent")
                coord.complete_task(claimed.id, {"ok": round_})
            time.sleep(0.2)
        deadline = time.monotonic() + 10
        while coord.list_tasks(status="completed") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert coord.list_tasks(status="completed") == []  # 500 finished, all removed
        assert coord.get_task(task.id) is None
        assert client.stats()["memory"]["used"] - baseline < 100_000  # not 500 x 2 kB


def test_tasks_count_against_the_memory_limit(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory(
        env={"BOLT_MAX_MEMORY": "2mb", "BOLT_EVICTION_POLICY": "noeviction"}
    )
    with daemon.client() as client:
        coord = TaskCoordinator(client)
        with pytest.raises(OutOfMemoryError):
            for n in range(1000):  # 1000 x 20 kB = 20 MB of task data: refused before that
                coord.create_task("job", {"blob": "y" * 20_000, "n": n})
        memory = client.stats()["memory"]
        assert memory["used"] <= 2 * 1024 * 1024 + 64 * 1024
        assert len(coord.list_tasks()) < 1000
        assert client.get("missing") is None  # the server carries on (reads work)
