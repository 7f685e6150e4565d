#!/usr/bin/env python3
"""Profile a live ``bolt`` daemon with py-spy under ``boltctl bench`` (issue 16's profile).

Starts a fresh daemon (``BOLT_WAL_FSYNC=batch``, no auth, a temporary data
directory), attaches ``py-spy record`` to it, runs ``boltctl bench`` against
it, and prints the functions with the most samples: self time (the function
itself was running) and inclusive time (it was on the stack), as a share of
all samples of the daemon's main thread (worker threads -- fsync in
``batch`` mode, snapshots -- are left out). Idle samples (the event loop waiting
in ``epoll``) are counted, so "idle" says how busy the daemon was.

Usage::

    python scripts/profile_daemon.py                     # SET, pipeline 1
    python scripts/profile_daemon.py -t get -P 16 --top 30

Needs ``py-spy`` (``pip install py-spy``; it reads the daemon's memory, so
it needs ptrace rights over it: root, or ``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import bolt  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bolt.testing import BoltDaemon

IDLE_FUNCTIONS = ("epoll", "select", "poll", "get_events")


def top_functions(collapsed: str, top: int) -> tuple[list[tuple[str, float, float]], float]:
    """``([(function, self %, inclusive %)], idle %)`` from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame.split(" (")[0] + _where(frame) for frame in stack.split(";")]
        if "_bootstrap" in frames[0]:
            continue  # a worker thread's stack (fsync, snapshot): not the event loop's
        total += count
        if any(name in frames[-1] for name in IDLE_FUNCTIONS):
            idle += count
            continue
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return [], 0.0
    rows = [
        (name, 100 * count / total, 100 * inclusive[name] / total)
        for name, count in own.most_common(top)
    ]
    return rows, 100 * idle / total


def _where(frame: str) -> str:
    """`` (module.py)`` of a py-spy frame ``function (path/module.py:line)``."""
    if " (" not in frame:
        return ""
    path = frame.split(" (", 1)[1].rstrip(")").rsplit(":", 1)[0]
    return f" ({Path(path).name})"


def main(argv: list[str] | None = None) -> int:
    """Profile the daemon; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-t", "--tests", default="set")
    parser.add_argument("-P", "--pipeline", type=int, default=1)
    parser.add_argument("-c", "--connections", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--save", type=Path, help="also keep py-spy's collapsed stacks here")
    options = parser.parse_args(argv)
    if shutil.which("py-spy") is None:
        print("py-spy is not installed (pip install py-spy)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bolt-profile-") as scratch:
        env = {"BOLT_WAL_FSYNC": "batch", "BOLT_AUTH": "false", "BOLT_LOG_LEVEL": "warning"}
        output = Path(scratch) / "profile.txt"
        with BoltDaemon.start(Path(scratch) / "data", env=env, timeout=20) as daemon:
            spy = subprocess.Popen(
                ["py-spy", "record", "--pid", str(daemon.pid), "--rate", str(options.rate),
                 "--format", "raw", "--output", str(output), "--nonblocking"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                subprocess.run(
                    [sys.executable, "-m", "bolt.cli.boltctl", "bench", "-p", str(daemon.port),
                     "-t", options.tests, "-P", str(options.pipeline),
                     "-c", str(options.connections), "--requests", str(options.requests)],
                    check=True,
                )  # fmt: skip
            finally:
                spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
                spy.wait(timeout=30)
        collapsed = output.read_text()
        if options.save is not None:
            options.save.write_text(collapsed)
        rows, idle = top_functions(collapsed, options.top)
    print(f"idle (waiting in the event loop): {idle:.1f}% of samples")
    print(f"{'self %':>7} {'incl %':>7}  function")
    for name, own, inclusive in rows:
        print(f"{own:7.1f} {inclusive:7.1f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
