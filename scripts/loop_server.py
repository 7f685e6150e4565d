#!/usr/bin/env python3
"""Bolt's connection loop with an engine that does no work: what the loop alone costs.

Theory of operation
-------------------
It serves clients with the real :class:`bolt.server.Server` (admission,
sessions, permission checks, per-command counters, latency histograms, the
durability wait) in front of :class:`NoWorkEngine`, which answers every data
command with a canned reply and writes nothing. Measured against the floor
(``scripts/floor_server.py``) with the same load, the ratio says how much of
the benchmark targets' budget the server's own loop uses before any engine
work. Run it, then ``python scripts/compare.py --bolt 127.0.0.1:PORT -t
set,get`` (it measures the floor itself in the same run).

Usage: ``python scripts/loop_server.py [--host H] [--port P] [--value-size N]``;
it prints ``loop ready: host=H port=P`` on stderr and runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

try:
    import bolt  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trio

from bolt.bench._workload import make_value
from bolt.server import Server
from bolt.server._auth import MODE_DISABLED


class NoWorkEngine:
    """Stands in for :class:`bolt.node.Engine` where the server's loop calls it."""

    origin = "loop-server"
    writes_held = None  # never joining a cluster

    def __init__(self, value_size: int) -> None:
        self.value = make_value(value_size)

    def submit(self, command: str, args: Sequence[Any], db: str | None = None) -> tuple[Any, int]:
        """GET's canned value, ``None`` for anything else; nothing to wait for."""
        return (self.value if command == "GET" else None), -1

    async def wait_durable(self, offset: int) -> None:
        """Nothing is ever written, so nothing is waited for."""


async def serve(host: str, port: int, value_size: int) -> None:
    """Listen and serve until SIGINT or SIGTERM."""
    server = Server(NoWorkEngine(value_size), mode=MODE_DISABLED)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        chosen = await nursery.start(partial(server.serve, host, port))
        print(f"loop ready: host={host} port={chosen}", file=sys.stderr, flush=True)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                nursery.cancel_scope.cancel()
                return


def main(argv: list[str] | None = None) -> int:
    """Parse the options and serve."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    parser.add_argument("--value-size", type=int, default=16, help="bytes of each GET value")
    args = parser.parse_args(argv)
    trio.run(serve, args.host, args.port, args.value_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
