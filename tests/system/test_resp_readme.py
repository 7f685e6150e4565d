"""The README's Redis example (a LangChain-style chat history and LLM cache) runs
with redis-py against the real daemon's RESP port, and its comments hold."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bolt.testing import BoltDaemon
from tests.system._resp_support import start_resp_daemon

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_redis_example_runs(bolt_daemon_factory: Callable[..., BoltDaemon]) -> None:
    daemon, port = start_resp_daemon(bolt_daemon_factory)
    text = README.read_text()
    match = re.search(r"### Example: a LangChain-style.*?```python\n(.*?)```", text, re.S)
    assert match, "README has no Redis example"
    code = match.group(1)
    assert "port=6379" in code
    namespace: dict[str, Any] = {}
    exec(code.replace("port=6379", f"port={port}"), namespace)
    assert [m["type"] for m in namespace["messages"]] == ["human", "ai"]
    assert namespace["cached"] == "A multi-master key-value store that speaks Redis."
    with daemon.client() as bolt:  # the same data, through the Bolt SDK
        assert bolt.llen("message_store:user-42") == 2
        assert 3590 <= bolt.ttl(namespace["cache_key"]) <= 3600
    namespace["history"].clear()
    assert namespace["history"].messages == []
