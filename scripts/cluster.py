#!/usr/bin/env python3
"""Start a local N-node Bolt cluster on loopback, and stop it cleanly on Ctrl-C.

Theory of operation
-------------------
Each node is a real ``bolt`` process (:class:`bolt.testing.LocalCluster`
with ``proxies=False``): node ids ``n1``..``nN``, a data directory each
under ``--data-dir`` (kept, so running the script again restarts the same
cluster, unless ``--fresh``), client ports picked by the OS, cluster ports
probed free up front so every node can name its peers, and one shared
``BOLT_CLUSTER_SECRET`` (random unless ``--secret`` is given). It prints
how to connect -- ``boltctl`` lines and a ``BoltClient.cluster`` line --
then waits; Ctrl-C (or SIGTERM) stops every node with SIGTERM, so each
flushes its log and writes a final snapshot.

Usage: ``python scripts/cluster.py [--nodes 3] [--data-dir ./bolt-cluster]
[--secret S] [--fresh] [--env BOLT_X=Y ...]``.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path

from bolt.testing import LocalCluster


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3, help="number of nodes (default 3)")
    parser.add_argument("--data-dir", type=Path, default=Path("bolt-cluster"))
    parser.add_argument("--secret", default=None, help="BOLT_CLUSTER_SECRET (default: random)")
    parser.add_argument("--fresh", action="store_true", help="delete the data directories first")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra BOLT_* setting"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.nodes <= 32:
        parser.error("--nodes must be between 1 and 32")
    return args


def _extra_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.startswith("BOLT_"):
            raise SystemExit(f"--env takes BOLT_NAME=VALUE, not {pair!r}")
        env[name] = value
    return env


def describe(cluster: LocalCluster) -> str:
    """How to connect to the running cluster."""
    lines = [f"bolt cluster of {cluster.size} nodes is up (secret: {cluster.secret})", ""]
    for i in range(cluster.size):
        node = cluster.node(i)
        lines.append(
            f"  {cluster.ids[i]}: client {node.host}:{node.port}  "
            f"cluster port {cluster.cluster_ports[i]}  data {cluster.data_dir(i)}"
        )
    first = cluster.node(0)
    nodes = ", ".join(
        f'"{cluster.node(i).host}:{cluster.node(i).port}"' for i in range(cluster.size)
    )
    lines += [
        "",
        "connect:",
        f"  boltctl --host {first.host} --port {first.port} cluster",
        f"  boltctl --host {first.host} --port {first.port} digest",
        f"  python -c 'import bolt_client as b; c = b.BoltClient.cluster(nodes=[{nodes}]);"
        ' c.put("k", "v"); print(c.get("k"))\'',
        "",
        "Ctrl-C stops every node cleanly.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Start the cluster, print how to connect, wait for Ctrl-C, stop it."""
    args = parse_args(argv)
    if args.fresh and args.data_dir.exists():
        shutil.rmtree(args.data_dir)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    secret = args.secret or secrets.token_urlsafe(18)
    cluster = LocalCluster(
        args.data_dir, args.nodes, secret=secret, proxies=False, env=_extra_env(args.env)
    )
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        cluster.start()
        print(describe(cluster), flush=True)
        while not stopping and len(cluster.live()) == cluster.size:
            time.sleep(0.2)
        if not stopping:
            print("a node exited on its own; stopping the others", file=sys.stderr)
    finally:
        for i in cluster.live():
            status = cluster.node(i).terminate()
            print(f"{cluster.ids[i]} stopped (exit {status})", file=sys.stderr)
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
