"""Run a real ``bolt`` daemon as a subprocess, for system tests and tools.

Theory of operation
-------------------
:meth:`BoltDaemon.start` spawns ``python -m bolt --port 0 --metrics-port 0
--data-dir DIR`` with a clean environment: every ``BOLT_*`` (and
``RUST_LOG``) variable of the calling process is removed and only those
passed in ``env`` are set, and the directory holding the ``bolt`` package
is put first on ``PYTHONPATH``. A thread drains the child's stderr into a
buffer (so the pipe never fills and blocks the daemon) and watches for the
one line ``bolt ready: host=H port=P metrics_port=M node_id=N``, which the
daemon prints only after recovery finished and the listener is up. Ports
0 make the OS pick free ports; the ready line carries the real ones.

The object is a context manager that SIGKILLs the process on exit, so a
failing test never leaves a daemon behind; :meth:`terminate` is the clean
way (SIGTERM, exit status returned). Starting again with the same
``data_dir`` is a restart.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import bolt

READY_LINE = re.compile(
    r"^bolt ready: host=(?P<host>\S+) port=(?P<port>\d+) "
    r"metrics_port=(?P<metrics_port>\d+|off) node_id=(?P<node_id>\S+)$"
)
"""The line the daemon prints to stderr once it serves clients."""

_PACKAGE_ROOT = str(Path(bolt.__file__).resolve().parent.parent)


class DaemonStartError(RuntimeError):
    """The daemon exited or stayed silent before printing its ready line.

    Attributes:
        returncode: the exit status, or None if it was killed after the timeout.
        stderr: everything the daemon wrote to stderr.
    """

    def __init__(self, message: str, returncode: int | None, stderr: str) -> None:
        super().__init__(f"{message}\n--- bolt stderr ---\n{stderr}")
        self.returncode = returncode
        self.stderr = stderr


def clean_environment(env: dict[str, str] | None) -> dict[str, str]:
    """The calling environment without ``BOLT_*``/``RUST_LOG``, plus ``env``,
    with the ``bolt`` package's directory first on ``PYTHONPATH``."""
    result = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("BOLT_") and name != "RUST_LOG"
    }
    paths = [_PACKAGE_ROOT, *filter(None, result.get("PYTHONPATH", "").split(os.pathsep))]
    result["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    result["PYTHONUNBUFFERED"] = "1"
    result.update(env or {})
    return result


class BoltDaemon:
    """A running ``bolt`` subprocess (build it with :meth:`start`).

    Attributes:
        host: an address clients can connect to (``127.0.0.1`` when the daemon
            listens on every interface).
        port: the client port.
        metrics_port: the metrics port, or None when metrics are disabled.
        node_id: the node's id.
        data_dir: the data directory.
        env: the ``BOLT_*`` variables it was started with.
        process: the ``subprocess.Popen``.
    """

    def __init__(self, process: subprocess.Popen[bytes], data_dir: Path, env: dict[str, str]):
        self.process = process
        self.data_dir = data_dir
        self.env = env
        self.host = ""
        self.listen_host = ""
        self.port = 0
        self.metrics_port: int | None = None
        self.node_id = ""
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._reader = threading.Thread(
            target=self._drain, args=(process.stderr,), name=f"bolt-{process.pid}-stderr"
        )
        self._reader.daemon = True
        self._reader.start()

    @classmethod
    def start(
        cls,
        data_dir: Path,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        timeout: float = 20,
    ) -> BoltDaemon:
        """Spawn a daemon and wait for its ready line.

        Args:
            data_dir: ``--data-dir`` (reuse one to restart a node).
            env: ``BOLT_*`` variables for the daemon (nothing else leaks in).
            args: extra command-line flags (they win over ``--port 0`` etc.).
            timeout: seconds to wait for the ready line.

        Raises:
            DaemonStartError: the daemon exited, or was not ready in time
                (it is killed then); the message holds its stderr.
        """
        env = dict(env or {})
        command = [
            sys.executable,
            "-m",
            "bolt",
            "--port",
            "0",
            "--metrics-port",
            "0",
            "--data-dir",
            str(data_dir),
            *(args or []),
        ]
        process = subprocess.Popen(
            command,
            env=clean_environment(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        daemon = cls(process, Path(data_dir), env)
        try:
            daemon._wait_ready(timeout)
        except BaseException:
            daemon.kill()
            raise
        return daemon

    def _drain(self, pipe: IO[bytes] | None) -> None:
        if pipe is None:
            return
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self._lines.append(line)
            match = READY_LINE.match(line)
            if match and not self._ready.is_set():
                listen = match["host"]
                self.listen_host = listen
                self.host = "127.0.0.1" if listen in ("0.0.0.0", "::", "") else listen
                self.port = int(match["port"])
                metrics = match["metrics_port"]
                self.metrics_port = None if metrics == "off" else int(metrics)
                self.node_id = match["node_id"]
                self._ready.set()
        pipe.close()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.02):
            if self.process.poll() is not None:
                self._reader.join(2)
                if self._ready.is_set():
                    return
                raise DaemonStartError(
                    f"bolt exited with status {self.process.returncode} before it was ready",
                    self.process.returncode,
                    self.stderr_text(),
                )
            if time.monotonic() > deadline:
                self.kill()
                raise DaemonStartError(
                    f"bolt was not ready after {timeout} seconds", None, self.stderr_text()
                )

    # --- observing -----------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The daemon's process id."""
        return self.process.pid

    @property
    def metrics_url(self) -> str:
        """``http://host:metrics_port`` (raises if metrics are disabled)."""
        if self.metrics_port is None:
            raise RuntimeError("this daemon runs without a metrics port")
        return f"http://{self.host}:{self.metrics_port}"

    def stderr_text(self) -> str:
        """Everything the daemon wrote to stderr so far."""
        with self._lock:
            return "\n".join(self._lines)

    def stderr_lines(self) -> list[str]:
        """The daemon's stderr so far, line by line."""
        with self._lock:
            return list(self._lines)

    def wait_for_stderr(self, pattern: str, timeout: float = 5.0) -> str:
        """Wait until a stderr line matches the regular expression ``pattern``.

        The daemon's stderr is read by a thread, so a line it just logged
        may not be in :meth:`stderr_lines` yet; this polls for it.

        Returns:
            The first matching line.

        Raises:
            TimeoutError: no line matched within ``timeout`` seconds.
        """
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.stderr_lines():
                if compiled.search(line):
                    return line
            if time.monotonic() > deadline:
                raise TimeoutError(f"no stderr line matched {pattern!r}:\n{self.stderr_text()}")
            time.sleep(0.01)

    def env_for_cli(self) -> dict[str, str]:
        """``BOLT_HOST``/``BOLT_PORT`` (and ``BOLT_USER``/``BOLT_PASSWORD`` when auth
        is on) for running ``boltctl`` against this daemon."""
        result = {"BOLT_HOST": self.host, "BOLT_PORT": str(self.port)}
        password = self.env.get("BOLT_ADMIN_PASSWORD")
        if password:
            result["BOLT_USER"] = "admin"
            result["BOLT_PASSWORD"] = password
        return result

    def client(self, **kwargs: Any) -> Any:
        """A connected :class:`bolt.client.BoltClient` for this daemon.

        Logs in as ``admin`` when the daemon has ``BOLT_ADMIN_PASSWORD``;
        ``kwargs`` (``username``, ``password``, ``timeout``, TLS options ...)
        override the defaults.
        """
        from bolt.client import BoltClient

        options: dict[str, Any] = {"host": self.host, "port": self.port, "timeout": 10.0}
        password = self.env.get("BOLT_ADMIN_PASSWORD")
        if password:
            options.update(username="admin", password=password)
        options.update(kwargs)
        client = BoltClient(**options)
        client.connect()
        return client

    # --- stopping ----------------------------------------------------------------------

    def terminate(self, timeout: float = 15) -> int:
        """Send SIGTERM and wait for the exit; return the exit status.

        Raises:
            TimeoutError: it did not exit within ``timeout`` (it is killed).
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            returncode = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TimeoutError(
                f"bolt did not stop within {timeout}s of SIGTERM\n{self.stderr_text()}"
            ) from None
        self._reader.join(5)
        return returncode

    def kill(self) -> None:
        """SIGKILL the daemon (if alive) and wait for it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._reader.join(5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.kill()
