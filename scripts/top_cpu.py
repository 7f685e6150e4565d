#!/usr/bin/env python3
"""Measure what ``boltctl top`` costs the server: daemon CPU, idle vs. watched.

Starts a throw-away ``bolt`` daemon (optionally with N idle connected
clients, which make every ``STATS`` reply longer), then measures the
daemon's CPU time (``utime + stime`` from ``/proc/PID/stat``) over a window
with nobody watching, and over a window of the same length with the real
``boltctl top`` refreshing at ``--interval`` inside a detached tmux session
(a real terminal, so the dashboard draws exactly as it would for a person).
It also counts the ``STATS`` requests the server answered in the watched
window and the dashboard's own CPU. Results are printed as percent of one
core. Everything it started is stopped at the end.

Usage::

    python scripts/top_cpu.py [--seconds 30] [--interval 1] [--idle-clients 0]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bolt.testing import BoltDaemon  # noqa: E402

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid``."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND  # utime, stime


def measure(pids: list[int], seconds: float) -> list[float]:
    """Percent of one core each of ``pids`` used over the next ``seconds``."""
    before = [cpu_seconds(pid) for pid in pids]
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    return [
        100 * (cpu_seconds(pid) - used) / elapsed for pid, used in zip(pids, before, strict=True)
    ]


def stats_calls(daemon: BoltDaemon) -> int:
    """``STATS`` requests answered so far (this call included afterwards)."""
    client = daemon.client()
    try:
        return int(client.stats()["commands"].get("STATS", {}).get("calls", 0))
    finally:
        client.close()


def tmux(socket: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a tmux command on the private server ``socket``."""
    return subprocess.run(
        ["tmux", "-L", socket, *args], check=check, capture_output=True, text=True
    )


def main() -> int:
    """Run the measurement; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each window")
    parser.add_argument("--interval", default="1", help="boltctl top --interval")
    parser.add_argument("--idle-clients", type=int, default=0, help="extra connected clients")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is not installed (apt-get install tmux)", file=sys.stderr)
        return 2
    socket = f"bolt-top-cpu-{os.getpid()}"
    with (
        tempfile.TemporaryDirectory(prefix="bolt-top-cpu-") as data_dir,
        BoltDaemon.start(Path(data_dir), env={"BOLT_AUTH": "false"}) as daemon,
    ):
        clients = [daemon.client(client_name=f"idle-{n}") for n in range(args.idle_clients)]
        try:
            time.sleep(2)  # let start-up work (first snapshot, imports) settle
            (idle,) = measure([daemon.pid], args.seconds)
            command = (
                f"env PYTHONPATH={ROOT} BOLT_HOST={daemon.host} BOLT_PORT={daemon.port} "
                f"TERM=xterm-256color {sys.executable} -m bolt.cli.boltctl top "
                f"--interval {args.interval}"
            )
            tmux(socket, "new-session", "-d", "-s", "top", "-x", "80", "-y", "24", command)
            top_pid = int(tmux(socket, "list-panes", "-t", "top", "-F", "#{pane_pid}").stdout)
            time.sleep(3)  # the dashboard starts and connects
            calls_before = stats_calls(daemon)
            watched, dashboard = measure([daemon.pid, top_pid], args.seconds)
            requests = stats_calls(daemon) - calls_before - 1  # minus our own first call
        finally:
            tmux(socket, "kill-server", check=False)
            for client in clients:
                client.close()
    print(
        f"window {args.seconds:g} s, interval {args.interval} s, {args.idle_clients} idle clients"
    )
    print(f"daemon CPU idle:              {idle:6.2f} % of one core")
    print(f"daemon CPU with boltctl top:  {watched:6.2f} % of one core")
    print(f"cost of the dashboard:        {watched - idle:6.2f} % of one core")
    print(f"STATS requests answered:      {requests / args.seconds:6.2f} per second")
    print(f"boltctl top's own CPU:        {dashboard:6.2f} % of one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
