"""``boltctl tasks list|show|dead|retry|cancel|stats`` against a real daemon."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from bolt.agents import TaskCoordinator
from bolt.testing import BoltDaemon, clean_environment

DaemonFactory = Callable[..., BoltDaemon]


def boltctl(daemon: BoltDaemon, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bolt.cli.boltctl", "tasks", *args],
        env=clean_environment(daemon.env_for_cli()),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def as_json(daemon: BoltDaemon, *args: str) -> Any:
    result = boltctl(daemon, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_tasks_subcommands(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory(env={"BOLT_ADMIN_PASSWORD": "secret"})
    with daemon.client() as client:
        coord = TaskCoordinator(client, lease_ms=200)
        done = coord.create_task("research", {"query": "x"})
        coord.complete_task(done.id, {"ok": True})
        doomed = coord.create_task("research", {"query": "y"}, max_attempts=1)
        coord.claim_next("research", "agent-1")
        coord.wait_for_task(doomed.id, timeout=10)  # its lease expires: dead
        waiting = coord.create_task("summarize", {"doc": 1})

    listed = as_json(daemon, "list")
    assert [(t["id"], t["status"]) for t in listed] == [
        (done.id, "completed"),
        (doomed.id, "dead"),
        (waiting.id, "pending"),
    ]
    assert [t["id"] for t in as_json(daemon, "list", "--type", "summarize")] == [waiting.id]
    assert [t["id"] for t in as_json(daemon, "list", "--status", "completed")] == [done.id]
    dead = as_json(daemon, "dead")
    assert [t["id"] for t in dead] == [doomed.id] and "expired" in dead[0]["error"]
    assert as_json(daemon, "show", done.id)["result"] == {"ok": True}

    text = boltctl(daemon, "list")
    assert text.returncode == 0 and doomed.id in text.stdout and "dead" in text.stdout
    shown = boltctl(daemon, "show", done.id)
    assert "status: completed" in shown.stdout and "result.ok: true" in shown.stdout

    retried = as_json(daemon, "retry", doomed.id)
    assert retried["status"] == "pending" and retried["attempt"] == 2
    refused = boltctl(daemon, "retry", waiting.id)
    assert refused.returncode == 3 and "TASK_STATE" in refused.stderr
    assert as_json(daemon, "cancel", waiting.id)["status"] == "cancelled"

    stats = as_json(daemon, "stats")
    assert stats["types"]["research"]["completed"] == 1
    assert stats["types"]["research"]["pending"] == 1
    assert stats["types"]["summarize"]["cancelled"] == 1
    assert stats["dead_letters_total"] == 1
    assert "research" in boltctl(daemon, "stats").stdout

    missing = boltctl(daemon, "show", "no-such-task")
    assert missing.returncode == 1 and "TASK_NOT_FOUND" in missing.stderr


def test_replay_history_lists_a_tasks_events(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory(env={"BOLT_ADMIN_PASSWORD": "secret"})
    with daemon.client() as client:
        coord = TaskCoordinator(client)
        task = coord.create_task("research", {"query": "x"})
        claimed = coord.claim_next("research", "agent-1")
        assert claimed is not None
        coord.complete_task(task.id, {"ok": True})
    assert daemon.terminate() == 0
    result = subprocess.run(
        [sys.executable, "-m", "bolt.cli.boltctl", "replay", "history", str(daemon.data_dir),
         task.id, "--json"],
        env=clean_environment({}), capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["type"] for e in events] == ["TaskCreated", "TaskClaimed", "TaskCompleted"]
    assert events[1]["agent_id"] == "agent-1" and events[2]["attempt"] == 1
