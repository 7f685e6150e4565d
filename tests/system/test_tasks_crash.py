"""Tasks through crashes: kill -9 of an agent, kill -9 of the daemon, restarts from
the snapshot and from the log."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bolt.agents import Task, TaskCoordinator
from bolt.errors import BoltError
from bolt.testing import BoltDaemon, clean_environment

DaemonFactory = Callable[..., BoltDaemon]
AUTH = {"BOLT_ADMIN_PASSWORD": "secret"}
ROOT = str(Path(__file__).resolve().parents[2])

STUCK_AGENT = """
import sys, time
from bolt_client import BoltClient
from bolt_agents import TaskCoordinator

client = BoltClient(host=sys.argv[1], port=int(sys.argv[2]), username="admin", password="secret")
coord = TaskCoordinator(client, lease_ms=1000)

def handle(task):
    print("started", task.id, task.attempt, flush=True)
    time.sleep(3600)  # hangs: only its heartbeat keeps the lease

coord.subscribe("stuck", agent_id="doomed", callback=handle)
"""


def test_a_killed_agent_loses_its_task_to_another_after_the_lease(
    bolt_daemon_factory: DaemonFactory, tmp_path: Path
) -> None:
    daemon = bolt_daemon_factory(env=AUTH)
    script = tmp_path / "stuck_agent.py"
    script.write_text(textwrap.dedent(STUCK_AGENT))
    agent = subprocess.Popen(
        [sys.executable, "-u", str(script), daemon.host, str(daemon.port)],
        env=clean_environment({"PYTHONPATH": ROOT}),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        with daemon.client() as client:
            coord = TaskCoordinator(client)
            task = coord.create_task("stuck", {})
            assert agent.stdout is not None
            assert agent.stdout.readline().split() == ["started", task.id, "1"]
            time.sleep(2.5)  # > the lease: the heartbeat renews it while the callback runs
            held = coord.get_task(task.id)
            assert held is not None and held.status == "claimed" and held.attempt == 1
            agent.send_signal(signal.SIGKILL)
            agent.wait(10)
            with daemon.client() as rescuer_client:
                rescuer = TaskCoordinator(rescuer_client)
                ran: list[Task] = []
                rescuer.subscribe("stuck", agent_id="rescuer", callback=ran.append)
                try:
                    done = coord.wait_for_task(task.id, timeout=20)
                finally:
                    rescuer.stop()
            assert done.status == "completed" and done.agent_id == "rescuer"
            assert [t.attempt for t in ran] == [2]
    finally:
        if agent.poll() is None:
            agent.kill()
        agent.communicate(timeout=10)


class Ledger:
    """What one client thread had acknowledged (task id -> the last step)."""

    def __init__(self) -> None:
        self.created: set[str] = set()
        self.claimed: dict[str, int] = {}
        self.completed: dict[str, Any] = {}


def _work(daemon: BoltDaemon, ledger: Ledger, name: str, stop: threading.Event) -> None:
    try:
        with daemon.client(timeout=5) as client:
            coord = TaskCoordinator(client)
            number = 0
            while not stop.is_set():
                number += 1
                task = coord.create_task(name, {"n": number}, task_id=f"{name}-{number}")
                ledger.created.add(task.id)
                claimed = coord.claim_next(name, f"agent-{name}")
                assert claimed is not None
                ledger.claimed[claimed.id] = claimed.attempt
                if number % 3:
                    coord.complete_task(claimed.id, {"done": number})
                    ledger.completed[claimed.id] = {"done": number}
    except (BoltError, OSError):
        pass  # the daemon died under us: what was acknowledged is in the ledger


def test_kill_9_of_the_daemon_loses_no_acknowledged_task_step(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    env = {**AUTH, "BOLT_WAL_FSYNC": "always"}
    daemon = bolt_daemon_factory(env=env)
    ledgers = {f"w{i}": Ledger() for i in range(3)}
    stop = threading.Event()
    threads = [
        threading.Thread(target=_work, args=(daemon, ledger, name, stop))
        for name, ledger in ledgers.items()
    ]
    for thread in threads:
        thread.start()
    time.sleep(random.uniform(1.0, 2.0))
    daemon.kill()
    stop.set()
    for thread in threads:
        thread.join(20)
    restarted = bolt_daemon_factory(env=env, data_dir=daemon.data_dir)
    with restarted.client() as client:
        coord = TaskCoordinator(client)
        for name, ledger in ledgers.items():
            assert ledger.completed, f"{name} acknowledged nothing before the kill"
            stored = {t.id: t for t in coord.list_tasks(name, limit=10_000)}
            assert ledger.created <= set(stored)
            for task_id, attempt in ledger.claimed.items():
                assert stored[task_id].status in ("claimed", "completed")
                assert stored[task_id].attempt == attempt
            for task_id, result in ledger.completed.items():
                assert stored[task_id].status == "completed"
                assert stored[task_id].result == result


def _states(daemon: BoltDaemon) -> list[tuple[Any, ...]]:
    with daemon.client() as client:
        tasks = TaskCoordinator(client).list_tasks(limit=10_000)
    return [
        (t.id, t.task_type, t.status, t.attempt, t.agent_id, t.result, t.error, t.data)
        for t in tasks
    ]


def _make_history(daemon: BoltDaemon) -> None:
    with daemon.client() as client:
        coord = TaskCoordinator(client, lease_ms=200)
        parent = coord.create_task("a", {"x": 1}, priority=3)
        coord.create_task("b", {"y": [1, 2]}, depends_on=[parent])
        coord.create_task("c", {}, max_attempts=1)
        coord.create_task("d", {"later": True}, run_at=time.time() + 3600)
        claimed = coord.claim_next("a", "agent-1")
        assert claimed is not None
        coord.complete_task(claimed.id, {"answer": 42})
        assert coord.claim_next("c", "agent-2") is not None  # its lease expires: dead
        cancelled = coord.create_task("e", {})
        coord.cancel_task(cancelled.id)
        deadline = time.monotonic() + 10
        while not coord.dead_letters("c"):
            assert time.monotonic() < deadline
            time.sleep(0.05)


def _replayed_records(daemon: BoltDaemon) -> int:
    line = daemon.wait_for_stderr(r"recovered \d+ keys")
    match = re.search(r"replayed (\d+) records", line)
    assert match, line
    return int(match.group(1))


def test_tasks_survive_restarts_from_the_snapshot_and_from_the_log(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    daemon = bolt_daemon_factory(env=AUTH)
    _make_history(daemon)
    before = _states(daemon)
    assert {s[2] for s in before} == {"completed", "pending", "dead", "cancelled"}
    # A clean stop writes a final snapshot: the restart replays nothing.
    assert daemon.terminate() == 0
    from_snapshot = bolt_daemon_factory(env=AUTH, data_dir=daemon.data_dir)
    assert _replayed_records(from_snapshot) == 0
    assert _states(from_snapshot) == before
    # Changes after the snapshot, then kill -9: snapshot + log.
    with from_snapshot.client() as client:
        coord = TaskCoordinator(client)
        claimed = coord.claim_next("b", "agent-3")
        assert claimed is not None and claimed.parent_results == {before[0][0]: {"answer": 42}}
        coord.complete_task(claimed.id, "b done")
    after = _states(from_snapshot)
    from_snapshot.kill()
    from_log = bolt_daemon_factory(env=AUTH, data_dir=daemon.data_dir)
    assert _replayed_records(from_log) > 0
    assert _states(from_log) == after


def test_tasks_are_rebuilt_from_the_log_alone(
    bolt_daemon_factory: DaemonFactory, tmp_path: Path
) -> None:
    daemon = bolt_daemon_factory(env=AUTH)
    _make_history(daemon)
    before = _states(daemon)
    daemon.kill()  # no final snapshot: everything comes from the log
    restarted = bolt_daemon_factory(env=AUTH, data_dir=daemon.data_dir)
    assert _replayed_records(restarted) > 0
    assert _states(restarted) == before


SLOW_AGENT = """
import sys, time
from bolt_client import BoltClient
from bolt_agents import TaskCoordinator

client = BoltClient(host=sys.argv[1], port=int(sys.argv[2]), username="admin", password="secret")
coord = TaskCoordinator(client)

def handle(task):
    print("started", task.id, flush=True)
    time.sleep(1.5)
    return "finished after SIGTERM"

coord.subscribe("slow", agent_id="polite", callback=handle)
"""


def test_sigterm_lets_the_running_callback_finish_then_exits(
    bolt_daemon_factory: DaemonFactory, tmp_path: Path
) -> None:
    daemon = bolt_daemon_factory(env=AUTH)
    script = tmp_path / "slow_agent.py"
    script.write_text(textwrap.dedent(SLOW_AGENT))
    agent = subprocess.Popen(
        [sys.executable, "-u", str(script), daemon.host, str(daemon.port)],
        env=clean_environment({"PYTHONPATH": ROOT}),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        with daemon.client() as client:
            coord = TaskCoordinator(client)
            task = coord.create_task("slow", {})
            waiting = coord.create_task("slow", {})
            assert agent.stdout is not None
            assert agent.stdout.readline().split() == ["started", task.id]
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(20) == 0
            done = coord.get_task(task.id)
            assert done is not None and done.status == "completed"
            assert done.result == "finished after SIGTERM"
            untouched = coord.get_task(waiting.id)  # never claimed after the signal
            assert untouched is not None and untouched.status == "pending"
    finally:
        if agent.poll() is None:
            agent.kill()
        agent.communicate(timeout=10)
