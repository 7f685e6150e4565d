"""The Python example in this project's README runs against a real daemon and
produces the values its comments promise."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bolt.testing import BoltDaemon

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_sdk_example_runs_and_its_comments_hold(
    bolt_daemon_factory: Callable[..., BoltDaemon],
) -> None:
    daemon = bolt_daemon_factory(env={"BOLT_ADMIN_PASSWORD": "secret"})
    match = re.search(r"## Python SDK\n\n```python\n(.*?)```", README.read_text(), re.S)
    assert match, "README has no Python SDK example"
    namespace: dict[str, Any] = {}
    exec(match.group(1).replace("port=8518", f"port={daemon.port}"), namespace)
    assert namespace["value"] == "value"
    assert namespace["ttl"] == 300
    assert namespace["values"] == ["v1", "v2", None]
    assert namespace["task"] == "task1"
    with daemon.client(username="admin", password="secret") as client:
        assert client.cget("distributed_counter") == 1
        assert sorted(client.smembers("tags")) == ["ai", "python"]
        assert client.get("counter") == "10"
