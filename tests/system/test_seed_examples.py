"""The seed README's task examples, verbatim, as real processes against the real daemon.

``seed_examples/`` holds the five scripts exactly as the seed README prints
them; only ``host="localhost", port=8518`` is rewritten to the test daemon
(``BOLT_ADMIN_PASSWORD=secret``). Worker scripts run as their own Python
processes (two research agents at once); ``orchestrator_api.py`` is served by
a real ``uvicorn`` and driven with real HTTP requests; ``workflow.py`` and
``meta_agent.py`` are imported by a driver process (``meta_agent`` with a
stand-in ``openai`` module that returns a fixed plan -- the LLM is not what is
tested, Bolt's part is).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bolt.agents import TaskCoordinator
from bolt.testing import BoltDaemon, clean_environment

DaemonFactory = Callable[..., BoltDaemon]
EXAMPLES = Path(__file__).parent / "seed_examples"
ROOT = str(Path(__file__).resolve().parents[2])

STAND_IN_OPENAI = '''
"""A stand-in for the OpenAI client: always the same plan."""
import json
from types import SimpleNamespace

PLAN = {"tasks": [{"type": "research", "query": "impact of AI on healthcare"},
                  {"type": "poetry", "query": "not a known task type"}]}


class OpenAI:
    def __init__(self, *args, **kwargs):
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self._create))

    def _create(self, **kwargs):
        message = SimpleNamespace(content=json.dumps(PLAN))
        return SimpleNamespace(choices=[SimpleNamespace(message=message)])
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Scripts:
    """The examples copied into a directory, pointed at one daemon."""

    def __init__(self, directory: Path, daemon: BoltDaemon) -> None:
        self.directory = directory
        self.daemon = daemon
        self.processes: list[subprocess.Popen[str]] = []
        for example in EXAMPLES.glob("*.py"):
            source = example.read_text()
            assert 'host="localhost", port=8518' in source
            source = source.replace(
                'host="localhost", port=8518', f'host="{daemon.host}", port={daemon.port}'
            )
            (directory / example.name).write_text(source)
        (directory / "openai.py").write_text(STAND_IN_OPENAI)

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=self.directory,
            env=clean_environment({"PYTHONPATH": f"{self.directory}:{ROOT}"}),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.processes.append(process)
        return process

    def run(self, code: str, timeout: float = 60) -> str:
        process = self.spawn("-c", textwrap.dedent(code))
        out, _ = process.communicate(timeout=timeout)
        assert process.returncode == 0, out
        return out


@pytest.fixture
def scripts(tmp_path: Path, bolt_daemon_factory: DaemonFactory) -> Iterator[Scripts]:
    daemon = bolt_daemon_factory(env={"BOLT_ADMIN_PASSWORD": "secret"})
    directory = tmp_path / "examples"
    directory.mkdir()
    made = Scripts(directory, daemon)
    try:
        yield made
    finally:
        for process in made.processes:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=10)


def stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM a worker script; it must exit cleanly. Returns its output."""
    assert process.poll() is None, "the worker script exited on its own"
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=20)
    assert process.returncode == 0, out
    return out


def coordinator(scripts: Scripts) -> TaskCoordinator:
    return TaskCoordinator(scripts.daemon.client())


def test_worker_scripts_keep_serving_through_idle_time_until_sigterm(scripts: Scripts) -> None:
    research = [scripts.spawn("-u", "research_agent.py") for _ in range(2)]
    summarize = scripts.spawn("-u", "summarize_agent.py")
    time.sleep(2.5)  # idle: the earlier coordinator's subscriptions died after one second
    coord = coordinator(scripts)
    queries = [f"topic {i}" for i in range(6)]
    tasks = [coord.create_task("research", {"query": q}) for q in queries]
    doc = coord.create_task("summarize", {"doc_id": "doc_123"})
    done = coord.wait_for_all([*tasks, doc], timeout=30)
    assert [t.result["findings"] for t in done[:-1]] == [
        f"Research findings for: {q}" for q in queries
    ]
    assert done[-1].result == {"summary": "Summary of: doc_123...", "word_count": 150}
    outputs = [stop(p) for p in research]
    stop(summarize)
    printed = [line for out in outputs for line in out.splitlines() if line.startswith("Research")]
    assert sorted(printed) == sorted(f"Researching: {q}" for q in queries)  # each once
    coord.client.close()


def test_the_workflow_pipeline_chains_research_into_summarize(scripts: Scripts) -> None:
    agents = [scripts.spawn("-u", "research_agent.py"), scripts.spawn("-u", "summarize_agent.py")]
    out = scripts.run(
        """
        import json, workflow
        print(json.dumps(workflow.run_pipeline("impact of AI on healthcare")))
        """
    )
    result = json.loads(out.strip().splitlines()[-1])
    findings = "Research findings for: impact of AI on healthcare"
    assert result == {"summary": f"Summary of: {findings[:50]}...", "word_count": 150}
    for agent in agents:
        stop(agent)


def test_the_orchestrator_api_under_uvicorn_creates_tasks_over_http(scripts: Scripts) -> None:
    port = free_port()
    api = scripts.spawn("-m", "uvicorn", "orchestrator_api:app", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/docs", timeout=1)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline and api.poll() is None, "uvicorn did not start"
            time.sleep(0.1)
    body = {"type": "research", "data": {"query": "AI safety"}}
    created = httpx.post(f"{base}/tasks", json=body, timeout=10).json()
    assert created["status"] == "pending"
    assert httpx.get(f"{base}/tasks/{created['task_id']}", timeout=10).json() == {
        "status": "pending",
        "result": None,
    }
    agent = scripts.spawn("-u", "research_agent.py")
    coord = coordinator(scripts)
    coord.wait_for_task(created["task_id"], timeout=30)
    assert httpx.get(f"{base}/tasks/{created['task_id']}", timeout=10).json() == {
        "status": "completed",
        "result": {"findings": "Research findings for: AI safety", "sources": ["..."]},
    }
    assert httpx.get(f"{base}/tasks/nope", timeout=10).json() == [{"error": "not found"}, 404]
    stop(agent)
    api.send_signal(signal.SIGTERM)
    api.communicate(timeout=20)
    coord.client.close()


def test_the_meta_agent_creates_the_planned_tasks_of_known_types(scripts: Scripts) -> None:
    agent = scripts.spawn("-u", "research_agent.py")
    out = scripts.run(
        """
        import json, meta_agent
        tasks = meta_agent.process_user_request("impact of AI on healthcare")
        done = [meta_agent.coord.wait_for_task(t.id, timeout=30) for t in tasks]
        print(json.dumps([[t.task_type, t.status, t.result] for t in done]))
        """
    )
    assert json.loads(out.strip().splitlines()[-1]) == [
        [
            "research",
            "completed",
            {"findings": "Research findings for: impact of AI on healthcare", "sources": ["..."]},
        ]
    ]
    stop(agent)
