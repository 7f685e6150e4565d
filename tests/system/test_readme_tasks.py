"""The README's "Task coordination" example runs against a real daemon and prints
what its comments promise."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bolt.testing import BoltDaemon

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_task_example_runs(bolt_daemon_factory: Callable[..., BoltDaemon]) -> None:
    daemon = bolt_daemon_factory(env={"BOLT_ADMIN_PASSWORD": "secret"})
    match = re.search(r"## Task coordination\n.*?```python\n(.*?)```", README.read_text(), re.S)
    assert match, "README has no task coordination example"
    source = match.group(1).replace("port=8518", f"port={daemon.port}")
    namespace: dict[str, Any] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(source, namespace)
    assert printed.getvalue() == "completed {'findings': 'Research findings for: AI safety'}\n"
    assert namespace["done"].agent_id == "research_agent_01"
    namespace["client"].close()
