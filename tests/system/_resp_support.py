"""Helpers of the RESP system tests: a Bolt daemon with its Redis port, a real redis-server.

``start_resp_daemon(factory)`` starts a daemon with ``--resp-port 0`` and
reads the port from its ``bolt resp ready: ... resp_port=N`` log line.
``RedisServer`` runs the OS's ``redis-server`` on a free port in a temporary
directory, with persistence off, and stops it at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import redis
from redis._parsers import _HiredisParser, _RESP2Parser, _RESP3Parser

from bolt.testing import BoltDaemon

PARSERS: dict[str, Any] = {
    "python-resp2": (_RESP2Parser, 2),
    "python-resp3": (_RESP3Parser, 3),
    "hiredis-resp2": (_HiredisParser, 2),
    "hiredis-resp3": (_HiredisParser, 3),
}
"""redis-py's reply parsers, each with the protocol it is used with."""


def resp_port(daemon: BoltDaemon) -> int:
    """The RESP port a daemon started with ``--resp-port`` listens on."""
    line = daemon.wait_for_stderr(r"bolt resp ready: .*resp_port=\d+", timeout=10)
    match = re.search(r"resp_port=(\d+)", line)
    assert match is not None, line
    return int(match[1])


def start_resp_daemon(
    factory: Any, env: dict[str, str] | None = None, args: list[str] | None = None
) -> tuple[BoltDaemon, int]:
    """Start a daemon with its RESP port on; return it and the port."""
    daemon = factory(env=env, args=["--resp-port", "0", "--wal-fsync", "off", *(args or [])])
    return daemon, resp_port(daemon)


def client(port: int, parser: str = "python-resp2", **kwargs: Any) -> redis.Redis:
    """A redis-py client of ``port`` with one of :data:`PARSERS`."""
    parser_class, protocol = PARSERS[parser]
    pool = redis.ConnectionPool(
        host="127.0.0.1",
        port=port,
        protocol=protocol,
        parser_class=parser_class,
        socket_timeout=10,
        **kwargs,
    )
    return redis.Redis(connection_pool=pool)


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def os_tool(name: str) -> str:
    """The path of ``redis-server``/``redis-cli``, installed from the OS packages if missing.

    The README's test command must pass on a fresh machine, and these come
    from Debian's ``redis-server`` and ``redis-tools`` (there is no PyPI
    package of them for this Python): as root, they are installed once with
    apt-get; otherwise the test fails saying what to install.
    """
    binary = shutil.which(name)
    if binary is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "redis-server", "redis-tools"],
            env=env,
            capture_output=True,
            check=False,
        )
        binary = shutil.which(name)
    assert binary is not None, f"{name} is not installed: apt-get install redis-server redis-tools"
    return binary


class RedisServer:
    """A real ``redis-server`` on a free port, persistence off, in ``directory``."""

    def __init__(self, directory: Path) -> None:
        binary = os_tool("redis-server")
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(directory),
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                "--loglevel",
                "warning",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis(port=self.port, socket_timeout=1).ping():
                    return
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """Kill the server and wait for it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        if self.process.stderr is not None:
            self.process.stderr.close()
