"""The sync coordinator's threads never hang an interpreter (issue 13, item 4)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from bolt.agents import TaskCoordinator
from bolt.testing import BoltDaemon, clean_environment

DaemonFactory = Callable[..., BoltDaemon]

RAISES_AFTER_SUBSCRIBE = """
import sys
from bolt_client import BoltClient
from bolt_agents import TaskCoordinator

coord = TaskCoordinator(BoltClient(host=sys.argv[1], port=int(sys.argv[2])))
coord.subscribe("a", agent_id="one", callback=lambda task: None)
coord.subscribe("a", agent_id="two", callback=lambda task: None)  # raises: already subscribed
"""

LAST_LINE_SUBSCRIBE = """
import sys
from bolt_client import BoltClient
from bolt_agents import TaskCoordinator

coord = TaskCoordinator(BoltClient(host=sys.argv[1], port=int(sys.argv[2])))
coord.subscribe("b", agent_id="one", callback=lambda task: print("ran", task.id, flush=True))
"""


def _script(tmp_path: Path, text: str, daemon: BoltDaemon) -> subprocess.Popen[str]:
    script = tmp_path / "agent.py"
    script.write_text(textwrap.dedent(text))
    return subprocess.Popen(
        [sys.executable, "-u", str(script), daemon.host, str(daemon.port)],
        env=clean_environment(None),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_script_whose_subscribe_raises_exits_with_the_traceback(
    bolt_daemon_factory: DaemonFactory, tmp_path: Path
) -> None:
    daemon = bolt_daemon_factory()
    agent = _script(tmp_path, RAISES_AFTER_SUBSCRIBE, daemon)
    try:
        _, err = agent.communicate(timeout=20)  # hung forever with non-daemon workers
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.communicate()
    assert agent.returncode == 1
    assert "already subscribed" in err


def test_a_script_whose_last_line_is_subscribe_keeps_serving(
    bolt_daemon_factory: DaemonFactory, tmp_path: Path
) -> None:
    daemon = bolt_daemon_factory()
    agent = _script(tmp_path, LAST_LINE_SUBSCRIBE, daemon)
    try:
        time.sleep(1.5)
        assert agent.poll() is None  # the main thread ended; the keeper holds the process
        with daemon.client() as client:
            task = TaskCoordinator(client).create_task("b", {})
            assert agent.stdout is not None
            assert agent.stdout.readline().split() == ["ran", task.id]
    finally:
        agent.terminate()
        agent.communicate(timeout=20)
    assert agent.returncode == 0


def test_workers_in_a_pytest_process_are_daemon_threads(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    daemon = bolt_daemon_factory()
    with daemon.client() as client:
        coord = TaskCoordinator(client)
        worker = coord.subscribe("c", agent_id="one", callback=lambda task: None)
        try:
            assert worker._loop.daemon and not worker.keep_alive
        finally:
            coord.stop()
        assert worker.stopped
