"""Fixtures of the dashboard tests: a real daemon shared by a module's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bolt.testing import BoltDaemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoltDaemon]:
    """A daemon without auth, shared by the tests of one module (killed after)."""
    data_dir: Path = tmp_path_factory.mktemp("bolt-data")
    with BoltDaemon.start(data_dir, env={"BOLT_AUTH": "false"}) as running:
        yield running


@pytest.fixture
def daemon_port(daemon: BoltDaemon) -> int:
    """The shared daemon's port."""
    return daemon.port
