#!/usr/bin/env python3
"""Capture ``boltctl top`` as a real terminal shows it, without a terminal.

Starts a throw-away ``bolt`` daemon, puts a mixed background load on it
(several named clients: PUT, GET, INCR, SADD, SETEX, a few errors), runs
``boltctl top`` inside a detached tmux session of the chosen size (80x24 by
default), waits for the dashboard to fill, and saves the screen with
``tmux capture-pane``: a plain-text file and an ANSI-coloured one for each
panel (commands, then ``tab`` to clients and storage; a standalone daemon
without tasks has no Replication or Tasks panel). Everything
it started (tmux server on a private socket, load threads, daemon) is
stopped at the end, also on errors and Ctrl-C.

Usage::

    python scripts/top_tmux.py [--size 80x24] [--seconds 6] [--out DIR]

It prints the paths of the captures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bolt.errors import BoltError  # noqa: E402
from bolt.testing import BoltDaemon  # noqa: E402


def load(daemon: BoltDaemon, name: str, stop: threading.Event) -> None:
    """Keep one named client busy until ``stop`` is set."""
    client = daemon.client(client_name=name)
    count = 0
    try:
        while not stop.is_set():
            with client.pipeline() as pipe:
                for _ in range(20):
                    count += 1
                    pipe.put(f"{name}:k{count % 5000}", "x" * (count % 200))
                    pipe.get(f"{name}:k{(count * 7) % 6000}")
                    pipe.incr(f"{name}:counter")
                pipe.sadd(f"{name}:set", str(count % 100))
                pipe.setex(f"{name}:session:{count}", "token", 2)
                pipe.execute()
            try:
                client.incr(f"{name}:k1")  # a WRONGTYPE error now and then
            except BoltError:
                pass
            time.sleep(0.002)
    except (BoltError, OSError):
        pass  # the daemon went away: the capture is over
    finally:
        client.close()


def tmux(socket: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a tmux command on the private server ``socket``."""
    return subprocess.run(
        ["tmux", "-L", socket, *args], check=check, capture_output=True, text=True
    )


def capture(socket: str, out: Path, stem: str) -> list[Path]:
    """Save the pane as ``stem.txt`` (plain) and ``stem.ansi`` (with colours)."""
    plain = out / f"{stem}.txt"
    ansi = out / f"{stem}.ansi"
    plain.write_text(tmux(socket, "capture-pane", "-p", "-t", "top").stdout)
    ansi.write_text(tmux(socket, "capture-pane", "-p", "-e", "-t", "top").stdout)
    return [plain, ansi]


def main() -> int:
    """Run the capture; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="80x24", help="terminal size, COLSxROWS")
    parser.add_argument("--seconds", type=float, default=6.0, help="load time before capturing")
    parser.add_argument("--clients", type=int, default=3, help="load clients")
    parser.add_argument("--out", type=Path, default=None, help="directory for the captures")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is not installed (apt-get install tmux)", file=sys.stderr)
        return 2
    columns, rows = (int(part) for part in args.size.lower().split("x"))
    out = args.out or Path(tempfile.mkdtemp(prefix="bolt-top-capture-"))
    out.mkdir(parents=True, exist_ok=True)
    socket = f"bolt-top-{os.getpid()}"
    stop = threading.Event()
    threads: list[threading.Thread] = []
    with (
        tempfile.TemporaryDirectory(prefix="bolt-top-data-") as data_dir,
        BoltDaemon.start(
            Path(data_dir), env={"BOLT_AUTH": "false", "BOLT_SHARD_COUNT": "16"}
        ) as daemon,
    ):
        try:
            for index in range(args.clients):
                thread = threading.Thread(
                    target=load, args=(daemon, f"agent-{index + 1}", stop), daemon=True
                )
                thread.start()
                threads.append(thread)
            env = {
                "PYTHONPATH": str(ROOT),
                "BOLT_HOST": daemon.host,
                "BOLT_PORT": str(daemon.port),
                "TERM": "xterm-256color",
                "COLORTERM": "truecolor",
            }
            command = " ".join(
                [
                    "env",
                    *(f"{name}={value}" for name, value in env.items()),
                    sys.executable,
                    "-m",
                    "bolt.cli.boltctl",
                    "top",
                ]
            )
            tmux(
                socket,
                "new-session",
                "-d",
                "-s",
                "top",
                "-x",
                str(columns),
                "-y",
                str(rows),
                command,
            )
            time.sleep(args.seconds)
            saved = []
            for index, panel in enumerate(("commands", "clients", "storage")):
                if index:
                    tmux(socket, "send-keys", "-t", "top", "Tab")
                    time.sleep(1.2)
                saved += capture(socket, out, f"top-{columns}x{rows}-{panel}")
            tmux(socket, "send-keys", "-t", "top", "q")
            time.sleep(0.5)
        finally:
            tmux(socket, "kill-server", check=False)
            stop.set()
            for thread in threads:
                thread.join(5)
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
