"""Task coordination against the real daemon: push, exactly-once claims, waits,
callbacks that raise, fencing, dead letters, reconnects and permissions."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from bolt.agents import Budget, Task, TaskCoordinator, TaskStatus
from bolt.errors import (
    NoPermissionError,
    StaleAttemptError,
    TaskNotFoundError,
    TaskTimeoutError,
    TooLargeError,
)
from bolt.testing import BoltDaemon

DaemonFactory = Callable[..., BoltDaemon]
AUTH = {"BOLT_ADMIN_PASSWORD": "secret"}


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_a_subscriber_gets_each_new_task_and_wait_for_task_returns_it(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    daemon = bolt_daemon_factory(env=AUTH)
    with daemon.client() as client, daemon.client() as agent_client:
        coord = TaskCoordinator(client)
        early = coord.create_task("echo", {"n": 0})  # pending before anyone subscribed
        agent = TaskCoordinator(agent_client)
        seen: list[str] = []

        def handle(task: Task) -> Any:
            seen.append(task.id)
            return {"echo": task.data["n"]}

        agent.subscribe("echo", agent_id="a1", callback=handle)
        try:
            done = coord.wait_for_task(early.id, timeout=20)
            assert done.status == TaskStatus.COMPLETED and done.result == {"echo": 0}
            started = time.monotonic()
            later = coord.create_task("echo", {"n": 1})
            done = coord.wait_for_task(later.id, timeout=20)
            assert time.monotonic() - started < 2.0  # pushed, not found by a slow poll
            assert done.result == {"echo": 1} and done.agent_id == "a1"
            assert seen == [early.id, later.id]
        finally:
            agent.stop()


def test_twenty_agents_claim_each_task_exactly_once(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory(env=AUTH)
    count = 10_000
    handled: Counter[str] = Counter()
    lock = threading.Lock()
    clients = [daemon.client() for _ in range(20)]
    coordinators = [TaskCoordinator(c) for c in clients]

    def handle(task: Task) -> None:
        with lock:
            handled[task.id] += 1

    try:
        for index, coord in enumerate(coordinators):
            coord.subscribe("job", agent_id=f"agent-{index}", callback=handle)
        with daemon.client() as client:
            creator = TaskCoordinator(client)
            ids = [t.id for t in creator.create_tasks([("job", {"i": i}) for i in range(count)])]
            creator.wait_for_all(ids, timeout=120)
            completed = creator.list_tasks("job", "completed", limit=count)
        assert len(completed) == count
        assert set(handled) == set(ids)
        assert max(handled.values()) == 1  # exactly one run per task
        assert len({t.agent_id for t in completed}) > 1  # shared among the agents
    finally:
        for coord in coordinators:
            for worker in coord._workers.values():
                worker.stop()  # all at once: each stop waits out a blocking claim
        for coord in coordinators:
            coord.stop()
        for c in clients:
            c.close()


def test_a_callback_that_raises_fails_the_task_and_the_worker_goes_on(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    daemon = bolt_daemon_factory(env=AUTH)
    with daemon.client() as client, daemon.client() as agent_client:
        coord = TaskCoordinator(client)
        agent = TaskCoordinator(agent_client)

        def handle(task: Task) -> str:
            if task.data["bad"]:
                raise ValueError(f"cannot do {task.data['bad']}")
            return "ok"

        agent.subscribe("flaky", agent_id="a", callback=handle)
        try:
            bad = coord.create_task("flaky", {"bad": "this"}, max_attempts=2)
            good = coord.create_task("flaky", {"bad": ""})
            dead = coord.wait_for_task(bad.id, timeout=20)
            assert dead.status == "dead" and dead.attempt == 2
            assert dead.error == "ValueError: cannot do this"
            assert coord.wait_for_task(good.id, timeout=20).result == "ok"
            assert [t.id for t in coord.dead_letters("flaky")] == [bad.id]
        finally:
            agent.stop()


def test_an_expired_lease_goes_to_another_agent_and_fences_the_first(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    daemon = bolt_daemon_factory(env=AUTH)
    with daemon.client() as client:
        coord = TaskCoordinator(client)
        task = coord.create_task("slow", {})
        first = TaskCoordinator(client, lease_ms=300)
        held = first.claim_next("slow", "sleepy", wait=5)
        assert held is not None and held.attempt == 1
        second = TaskCoordinator(client)
        # The node's sweep returns the task to pending with attempt 2 ...
        again = second.claim_next("slow", "fresh", wait=5)
        assert again is not None and again.id == task.id and again.attempt == 2
        # ... and the first holder's completion is refused: fencing.
        with pytest.raises(StaleAttemptError):
            first.complete_task(task.id, "late")
        assert second.complete_task(task.id, "on time") is True
        done = coord.get_task(task.id)
        assert done is not None and done.result == "on time" and done.agent_id == "fresh"


def test_wait_for_task_times_out_with_a_typed_error_and_unknown_ids_are_none(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    daemon = bolt_daemon_factory(env=AUTH)
    with daemon.client() as client:
        coord = TaskCoordinator(client)
        task = coord.create_task("nobody", {})
        started = time.monotonic()
        with pytest.raises(TaskTimeoutError):
            coord.wait_for_task(task.id, timeout=0.5)
        assert 0.4 < time.monotonic() - started < 5
        assert coord.get_task("no-such-task") is None
        with pytest.raises(TaskNotFoundError):
            coord.wait_for_task("no-such-task", timeout=1)
        with pytest.raises(TooLargeError):
            coord.create_task("big", {"blob": "x" * (2 << 20)})
        assert client.execute_command("PING") == "PONG"  # the connection carries on


def test_task_writes_need_readwrite_and_reads_readonly(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory(env=AUTH)
    with daemon.client() as admin:
        admin.useradd("reader", "reader-pass", "readonly")
        task = TaskCoordinator(admin).create_task("t", {})
    with daemon.client(username="reader", password="reader-pass") as reader:
        coord = TaskCoordinator(reader)
        assert coord.get_task(task.id) is not None
        with pytest.raises(TaskTimeoutError):  # waiting is a read: allowed
            coord.wait_for_task(task.id, timeout=0.2)
        with pytest.raises(NoPermissionError):
            coord.create_task("t", {})
        with pytest.raises(NoPermissionError):
            coord.claim_next("t", "agent", wait=0)
        with pytest.raises(NoPermissionError):
            coord.complete_task(task.id, 1)


def test_a_subscriber_survives_a_daemon_restart(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory(env=AUTH)
    data_dir = daemon.data_dir
    port = daemon.port
    with daemon.client() as agent_client:
        agent = TaskCoordinator(agent_client)
        agent.subscribe("r", agent_id="a", callback=lambda task: task.data["x"] * 2)
        try:
            with daemon.client() as client:
                first = TaskCoordinator(client).create_task("r", {"x": 1})
                assert TaskCoordinator(client).wait_for_task(first.id, timeout=20).result == 2
            assert daemon.terminate() == 0
            daemon = bolt_daemon_factory(env=AUTH, data_dir=data_dir, args=["--port", str(port)])
            with daemon.client() as client:
                coord = TaskCoordinator(client)
                assert coord.get_task(first.id).result == 2  # type: ignore[union-attr]
                second = coord.create_task("r", {"x": 21})
                assert coord.wait_for_task(second.id, timeout=30).result == 42
        finally:
            agent.stop()


def test_a_pipeline_step_starts_when_its_parent_completes_with_its_result(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    daemon = bolt_daemon_factory(env=AUTH)
    with daemon.client() as client, daemon.client() as agent_client:
        coord = TaskCoordinator(client)
        agent = TaskCoordinator(agent_client)
        starts: dict[str, float] = {}

        def step(task: Task) -> Any:
            starts[task.id] = time.monotonic()
            previous = list(task.parent_results.values())
            return (previous[0] if previous else "") + task.data["letter"]

        agent.subscribe("step", agent_id="a", callback=step, credit=2)
        try:
            first, second, third = coord.pipeline(
                ("step", {"letter": "a"}), ("step", {"letter": "b"}), ("step", {"letter": "c"})
            )
            assert second.parents == [first.id] and third.parents == [second.id]
            done = coord.wait_for_task(third.id, timeout=20)
            assert done.result == "abc"
            # Each step was handed out on its parent's completion, not by a 1 s re-check.
            assert starts[third.id] - starts[first.id] < 0.9
        finally:
            agent.stop()


def test_priorities_delays_and_fan_out(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory(env=AUTH)
    with daemon.client() as client:
        coord = TaskCoordinator(client)
        later = coord.create_task("p", {"n": "later"}, run_at=time.time() + 1.0, priority=9)
        low = coord.create_task("p", {"n": "low"})
        high = coord.create_task("p", {"n": "high"}, priority=5)
        order = [coord.claim_next("p", "x", wait=0) for _ in range(2)]
        assert [t.id for t in order if t] == [high.id, low.id]
        assert coord.claim_next("p", "x", wait=0) is None  # not due yet
        due = coord.claim_next("p", "x", wait=5)  # the blocking claim gets it when due
        assert due is not None and due.id == later.id and time.time() >= later.run_at - 0.01
        fan = coord.create_tasks([("fan", {"i": i}) for i in range(5)])
        for task in fan:
            coord.complete_task(task.id, task.data["i"] * 10)
        assert [t.result for t in coord.wait_for_all(fan, timeout=5)] == [0, 10, 20, 30, 40]


def test_task_metrics_are_exported(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory(env=AUTH)
    with daemon.client() as client:
        coord = TaskCoordinator(client, lease_ms=200)
        done = coord.create_task("m", {})
        coord.create_task("m", {})
        doomed = coord.create_task("m2", {}, max_attempts=1)
        claimed = coord.claim_next("m", "a")
        assert claimed is not None and claimed.id == done.id
        coord.complete_task(done.id, 1)
        assert coord.claim_next("m2", "a") is not None
        coord.wait_for_task(doomed.id, timeout=10)  # the lease expires: dead
    with urllib.request.urlopen(daemon.metrics_url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    assert 'bolt_tasks{status="completed",type="m"} 1.0' in text
    assert 'bolt_tasks{status="pending",type="m"} 1.0' in text
    assert 'bolt_tasks{status="dead",type="m2"} 1.0' in text
    assert "bolt_task_claims_total 2.0" in text
    assert "bolt_task_completions_total 1.0" in text
    assert "bolt_task_dead_letters_total 1.0" in text
    assert "bolt_task_dispatch_seconds_count 2.0" in text


class FakeMinute:
    """A wall clock for budgets that moves only when told."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_rate_limit_and_a_token_budget_hold_claims_back_until_the_next_minute(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    daemon = bolt_daemon_factory(env=AUTH)
    clock = FakeMinute()
    with daemon.client() as client, daemon.client() as agent_client:
        coord = TaskCoordinator(client)
        agent = TaskCoordinator(agent_client)
        limit = Budget(agent, "limited", 3, cost_per_task=1, clock=clock)
        tokens = Budget(agent, "openai", 100, clock=clock)

        def use_tokens(task: Task) -> None:
            tokens.spend(60)

        agent.subscribe("limited", agent_id="a", callback=lambda task: None, budget=limit)
        agent.subscribe("llm", agent_id="b", callback=use_tokens, budget=tokens)
        try:
            limited = coord.create_tasks([("limited", {}) for _ in range(5)])
            llm = coord.create_tasks([("llm", {}) for _ in range(3)])
            wait_until(lambda: len(coord.list_tasks("limited", "completed")) == 3)
            wait_until(lambda: len(coord.list_tasks("llm", "completed")) == 2)
            time.sleep(1.5)  # nothing more runs in this minute
            assert len(coord.list_tasks("limited", "pending")) == 2
            assert len(coord.list_tasks("llm", "pending")) == 1
            assert limit.remaining() == 0 and tokens.spent() == 120
            clock.now += 60  # the next minute
            coord.wait_for_all([*limited, *llm], timeout=20)
        finally:
            agent.stop()


def test_wait_for_task_carries_on_across_a_daemon_restart(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    daemon = bolt_daemon_factory(env=AUTH)
    data_dir, port = daemon.data_dir, daemon.port
    with daemon.client() as client:
        coord = TaskCoordinator(client)
        task = coord.create_task("later", {})
        result: list[Any] = []
        waiter = threading.Thread(target=lambda: result.append(coord.wait_for_task(task.id, 30)))
        waiter.start()
        time.sleep(0.3)
        assert daemon.terminate() == 0  # the wait's connection breaks: it is a read, re-sent
        restarted = bolt_daemon_factory(env=AUTH, data_dir=data_dir, args=["--port", str(port)])
        with restarted.client() as other:
            TaskCoordinator(other).complete_task(task.id, "after the restart")
        waiter.join(30)
        assert result and result[0].result == "after the restart"
