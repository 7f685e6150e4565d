"""Fixtures of the CLI and benchmark tests: the floor server as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def floor_port() -> Iterator[int]:
    """Port of a running ``scripts/floor_server.py`` (killed after the module's tests)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "floor_server.py"), "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stderr is not None
    drain = threading.Thread(target=process.stderr.read, daemon=True)
    try:
        line = process.stderr.readline().decode()
        assert line.startswith("floor ready:"), line
        drain.start()
        yield int(line.rsplit("port=", 1)[1])
    finally:
        process.kill()
        process.wait()
        if drain.is_alive():
            drain.join(5)
        process.stderr.close()
