"""Shared fixtures of the system tests: real ``bolt`` daemons on free ports.

``bolt_daemon`` is one started daemon (protected mode, its own data dir);
``bolt_daemon_factory(env=..., args=..., data_dir=...)`` starts more, each
killed at teardown, and their stderr is printed (pytest shows it when the
test failed). Both are built on :class:`bolt.testing.BoltDaemon`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bolt.testing import BoltDaemon

DaemonFactory = Callable[..., BoltDaemon]


@pytest.fixture
def bolt_daemon_factory(tmp_path: Path) -> Iterator[DaemonFactory]:
    """Start daemons with ``factory(env=None, args=None, data_dir=None)``; all are
    killed at teardown (``data_dir`` defaults to a fresh directory under tmp_path)."""
    started: list[BoltDaemon] = []
    counter = iter(range(1_000_000))

    def start(
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        data_dir: Path | None = None,
        **kwargs: Any,
    ) -> BoltDaemon:
        directory = data_dir if data_dir is not None else tmp_path / f"node-{next(counter)}"
        daemon = BoltDaemon.start(directory, env=env, args=args, **kwargs)
        started.append(daemon)
        return daemon

    try:
        yield start
    finally:
        for daemon in started:
            daemon.kill()
            # Shown by pytest only when the test failed: the daemon's side of it.
            print(f"--- stderr of bolt pid {daemon.pid} (exit {daemon.process.returncode}) ---")
            print(daemon.stderr_text())


@pytest.fixture
def bolt_daemon(bolt_daemon_factory: DaemonFactory) -> BoltDaemon:
    """One running daemon with default settings (protected mode, persistent)."""
    return bolt_daemon_factory()
