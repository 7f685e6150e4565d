"""Tasks on three real nodes behind fault proxies: home-decided claims, forwarding,
takeover after the failover delay, fencing of the stale holder (issue 13, multi-node)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bolt.agents import Task, TaskCoordinator
from bolt.errors import StaleAttemptError, TaskHomeUnavailableError
from bolt.testing import LocalCluster

FAILOVER_MS = 2000


def _wait(predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in time")
        time.sleep(0.05)


def _replicated(cluster: LocalCluster, ids: list[str], nodes: list[int]) -> bool:
    for i in nodes:
        with cluster.node(i).client() as client:
            coord = TaskCoordinator(client)
            if any(coord.get_task(task_id) is None for task_id in ids[-3:]):
                return False
    return True


def test_agents_on_every_node_run_each_task_exactly_once(tmp_path: Path) -> None:
    runs: Counter[str] = Counter()
    ran_on: dict[str, set[int]] = {}
    lock = threading.Lock()

    def agent_of(node: int) -> Any:
        def handle(task: Task) -> str:
            time.sleep(0.002)  # long enough that one node's agents cannot take every task
            with lock:
                runs[task.id] += 1
                ran_on.setdefault(task.id, set()).add(node)
            return f"done on {node}"

        return handle

    with LocalCluster(tmp_path, 3) as cluster:
        clients = [cluster.node(i % 3).client() for i in range(6)]  # two agents per node
        coordinators = [TaskCoordinator(client) for client in clients]
        try:
            for n, coord in enumerate(coordinators):
                coord.subscribe("job", agent_id=f"a{n}", callback=agent_of(n % 3))
            created: list[Task] = []
            for n in range(600):  # most on node 0: the other nodes' agents must forward
                coord = coordinators[0] if n % 3 else coordinators[1 + n % 2]
                created.append(coord.create_task("job", {"n": n}))
            for task in created:
                done = coordinators[2].wait_for_task(task.id, timeout=60)
                assert done.status == "completed", done
        finally:
            for coord in coordinators:
                coord.stop()
            for client in clients:
                client.close()
    assert sorted(runs) == sorted(task.id for task in created)
    assert set(runs.values()) == {1}  # exactly once: no task ran twice
    homed_on_0 = [t.id for t in created if t.home == cluster.ids[0]]
    assert len(homed_on_0) == 400
    forwarded = [t for t in homed_on_0 if ran_on[t] != {0}]
    assert forwarded, "no agent of another node ran a task of node 0 (nothing was forwarded)"


def test_a_killed_home_is_taken_over_after_the_delay_and_its_stale_holder_fenced(
    tmp_path: Path,
) -> None:
    env = {"BOLT_TASK_FAILOVER_DELAY_MS": str(FAILOVER_MS)}
    with LocalCluster(tmp_path, 3, env=env) as cluster:
        with cluster.node(0).client() as home_client:
            task = TaskCoordinator(home_client).create_task("slow", {"x": 1})
        assert task.home == cluster.ids[0]
        _wait(lambda: _replicated(cluster, [task.id], [1, 2]), what="replication")
        holder_client = cluster.node(1).client()
        rescuer_client = cluster.node(2).client()
        holder = TaskCoordinator(holder_client)
        rescuer = TaskCoordinator(rescuer_client)
        try:
            # The holder (on node 1) claims node 0's task: forwarded to its home.
            claimed = holder.claim_next("slow", "holder", wait=10, lease_ms=1000)
            assert claimed is not None and claimed.id == task.id and claimed.attempt == 1
            cluster.kill(0)
            killed_at = time.monotonic()
            # Until the delay passed, node 0's task is neither claimable nor completable.
            with pytest.raises(TaskHomeUnavailableError):
                rescuer.claim_task(task.id, "impatient")
            started: list[tuple[float, Task]] = []
            rescuer.subscribe(
                "slow",
                agent_id="rescuer",
                callback=lambda t: started.append((time.monotonic(), t)) or "rescued",
            )
            done = rescuer.wait_for_task(task.id, timeout=30)
            assert done.status == "completed" and done.result == "rescued"
            assert done.agent_id == "rescuer" and done.attempt == 2
            claimed_after = started[0][0] - killed_at
            assert claimed_after >= FAILOVER_MS / 1000, claimed_after  # lease + failover delay
            # The first holder finishes late: its attempt is stale, the completion refused.
            with pytest.raises(StaleAttemptError):
                holder.complete_task(task.id, "late")
            for coord in (holder, rescuer):
                final = coord.get_task(task.id)
                assert final is not None and final.result == "rescued" and final.attempt == 2
        finally:
            rescuer.stop()
            holder.stop()
            holder_client.close()
            rescuer_client.close()
