#!/usr/bin/env python3
"""A bounded chaos soak: N real nodes behind fault proxies, a mixed load, random faults.

Theory of operation
-------------------
:class:`bolt.testing.LocalCluster` starts ``--nodes`` daemons on loopback,
every directed link behind its own :class:`~bolt.testing.FaultProxy`, with
``BOLT_WAL_FSYNC=always`` so an acknowledged write survives ``kill -9``.
One writer thread per node runs a mixed load of every type (PUT, SETEX,
MSET, INCR, DEL, CINCR, SADD/SREM, RPUSH/LPOP) and records what was
**acknowledged** and what had an unknown outcome (the connection broke
before the answer). Meanwhile the main thread injects a random fault every
``--fault-interval`` seconds: a cut link or an isolated node (healed a few
seconds later), a delayed or duplicating link, ``kill -9`` and a restart,
a clean restart, a restart with a clock offset (the test-only
``BOLT_TESTING_CLOCK_OFFSET_MS``), and with ``--wipe`` (off by default)
a node whose data directory is deleted after it has shipped its log: it
rejoins by full sync.

After ``--duration`` seconds the load stops and everything is healed (links,
stopped nodes, clock offsets), then the checks run and a table is printed:

* digests: every node's ``DIGEST`` is the same (within ``--converge-timeout``);
* set-full: every acknowledged SADD member is present everywhere (and
  nothing that was never sent);
* counters: every CRDT counter equals its acknowledged increments (plus at
  most the ones with an unknown outcome);
* no resurrection: a key written and then deleted on one node, both
  acknowledged, and never written again, is absent everywhere;
* tombstones: once quiet, every node collects its tombstones (none left).

The exit status is 1 if any check fails, 0 otherwise. Usage:
``python scripts/chaos.py [--duration 60] [--nodes 5] [--seed N] [--wipe]``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bolt.errors import BoltConnectionError, BoltError, BoltTimeoutError
from bolt.testing import LocalCluster

UNKNOWN = (BoltConnectionError, BoltTimeoutError, OSError)
"""Errors after which a write may or may not have been applied."""


@dataclass
class Ledger:
    """What one writer saw acknowledged (or not) -- merged over the writers at the end."""

    members: dict[str, set[str]] = field(default_factory=dict)  # set key -> acked members
    maybe_members: dict[str, set[str]] = field(default_factory=dict)
    increments: Counter[str] = field(default_factory=Counter)  # counter -> acked increments
    maybe_increments: Counter[str] = field(default_factory=Counter)
    deleted: set[str] = field(default_factory=set)  # written then deleted, both acked
    ops: Counter[str] = field(default_factory=Counter)
    unknown: int = 0
    refused: int = 0

    def merge(self, other: Ledger) -> None:
        """Add ``other``'s records to these."""
        for target, source in (
            (self.members, other.members),
            (self.maybe_members, other.maybe_members),
        ):
            for key, values in source.items():
                target.setdefault(key, set()).update(values)
        self.increments.update(other.increments)
        self.maybe_increments.update(other.maybe_increments)
        self.deleted |= other.deleted
        self.ops.update(other.ops)
        self.unknown += other.unknown
        self.refused += other.refused


class Writer(threading.Thread):
    """The load on one node, until ``stop`` is set (reconnects after faults)."""

    def __init__(self, cluster: LocalCluster, index: int, seed: int, stop: threading.Event):
        super().__init__(name=f"writer-{index}", daemon=True)
        self.cluster = cluster
        self.index = index
        self.rng = random.Random(seed)
        self.stop_event = stop
        self.paused = threading.Event()  # set: leave this node alone (it is being wiped)
        self.ledger = Ledger()
        self.prefix = f"w{index}"
        self.counter = 0

    def run(self) -> None:
        client = None
        while not self.stop_event.is_set():
            if self.paused.is_set():
                time.sleep(0.05)
                continue
            if client is None:
                try:
                    client = self.cluster.node(self.index).client(timeout=5.0)
                except (*UNKNOWN, RuntimeError):
                    time.sleep(0.1)  # the node is down or restarting
                    continue
            try:
                self.step(client)
            except UNKNOWN:
                self.ledger.unknown += 1
                client.close()
                client = None
                time.sleep(0.1)
        if client is not None:
            client.close()

    def step(self, client: Any) -> None:
        """One random operation; its outcome goes to the ledger."""
        rng, ledger = self.rng, self.ledger
        self.counter += 1
        kind = rng.choice(
            ("put", "setex", "mset", "incr", "doomed", "cincr", "sadd", "srem", "list")
        )
        key = f"{kind}-{rng.randrange(20)}"
        try:
            if kind == "put":
                client.put(key, f"v{self.counter}")
            elif kind == "setex":
                client.setex(key, f"t{self.counter}", rng.choice((1, 2, 30)))
            elif kind == "mset":
                client.mset({f"mset-{rng.randrange(20)}": str(n) for n in range(3)})
            elif kind == "incr":
                client.incr(key)
            elif kind == "doomed":
                self._doomed(client)
            elif kind == "cincr":
                self._tracked(ledger.increments, ledger.maybe_increments, key, client.cincr, key)
            elif kind == "sadd":
                member = f"{self.prefix}-{self.counter}"
                self._tracked_member(key, member, client)
            elif kind == "srem":
                client.sadd("churn", f"{self.prefix}-{self.counter}", "x")
                client.srem("churn", "x", f"{self.prefix}-{self.counter - 1}")
            else:
                client.rpush(key, f"e{self.counter}", f"f{self.counter}")
                client.lpop(key)
            ledger.ops[kind] += 1
        except UNKNOWN:
            raise
        except BoltError:
            ledger.refused += 1  # refused by the server: nothing was applied

    def _doomed(self, client: Any) -> None:
        # Written then deleted through the same node: the delete's HLC is later.
        key = f"doomed-{self.prefix}-{self.counter}"
        client.put(key, "soon gone")
        client.delete(key)
        self.ledger.deleted.add(key)

    def _tracked(
        self, acked: Counter[str], maybe: Counter[str], key: str, call: Any, *args: Any
    ) -> None:
        try:
            call(*args)
        except UNKNOWN:
            maybe[key] += 1
            raise
        acked[key] += 1

    def _tracked_member(self, key: str, member: str, client: Any) -> None:
        try:
            client.sadd(key, member)
        except UNKNOWN:
            self.ledger.maybe_members.setdefault(key, set()).add(member)
            raise
        self.ledger.members.setdefault(key, set()).add(member)


class Faults:
    """Random faults on the cluster, and the means to undo them all."""

    def __init__(
        self, cluster: LocalCluster, rng: random.Random, wipe: bool, writers: list[Writer]
    ):
        self.cluster = cluster
        self.rng = rng
        self.wipe = wipe
        self.writers = writers
        self.down: dict[int, float] = {}  # node -> when to start it again
        self.offsets: set[int] = set()
        self.heal_at: float | None = None
        self.log: Counter[str] = Counter()

    def tick(self, now: float) -> None:
        """Undo faults that are due; then inject one new fault."""
        for i, when in list(self.down.items()):
            if when <= now:
                self.cluster.start_node(i)
                del self.down[i]
        if self.heal_at is not None and self.heal_at <= now:
            self.cluster.heal()
            self.heal_at = None
        self.inject(now)

    def inject(self, now: float) -> None:
        """One random fault (at most two nodes down at a time)."""
        rng, cluster = self.rng, self.cluster
        kinds = ["cut", "isolate", "delay", "duplicate", "kill", "restart", "clock"]
        if self.wipe:
            kinds.append("wipe")
        kind = rng.choice(kinds)
        up = [i for i in range(cluster.size) if i not in self.down]
        if kind in ("kill", "restart", "clock", "wipe") and len(self.down) >= 2:
            kind = "cut"
        i = rng.choice(up)
        if kind == "cut":
            j = rng.choice([n for n in range(cluster.size) if n != i])
            cluster.cut(i, j)
            self.heal_at = now + rng.uniform(1, 4)
        elif kind == "isolate":
            cluster.isolate(i)
            self.heal_at = now + rng.uniform(1, 4)
        elif kind in ("delay", "duplicate"):
            j = rng.choice([n for n in range(cluster.size) if n != i])
            proxy = cluster.proxies[(i, j)]
            proxy.delay(rng.uniform(5, 80)) if kind == "delay" else proxy.duplicate()
            self.heal_at = now + rng.uniform(1, 4)
        elif kind == "kill":
            cluster.kill(i)
            self.down[i] = now + rng.uniform(0.5, 3)
        elif kind == "restart":
            cluster.node(i).terminate()
            cluster.start_node(i)
        elif kind == "clock":
            cluster.node(i).terminate()
            offset = rng.choice((-1, 1)) * rng.randint(50, 400)
            cluster.start_node(i, env={"BOLT_TESTING_CLOCK_OFFSET_MS": str(offset)})
            self.offsets.add(i)
        else:
            self._wipe(i)
        self.log[kind] += 1

    def _wipe(self, i: int) -> None:
        # Only once the node has shipped everything it acknowledged, so no
        # acknowledged write is lost by definition; its writer waits meanwhile.
        writer = self.writers[i]
        writer.paused.set()
        try:
            _wait_shipped(self.cluster, i, timeout=20)
            self.cluster.kill(i)
            shutil.rmtree(self.cluster.data_dir(i))
            self.cluster.start_node(i)
        finally:
            writer.paused.clear()

    def heal_all(self) -> None:
        """Heal every link, start every stopped node, restart clock-offset nodes at 0."""
        self.cluster.heal()
        for i in list(self.down):
            self.cluster.start_node(i)
        self.down.clear()
        for i in sorted(self.offsets):
            self.cluster.node(i).terminate()
            self.cluster.start_node(i, env={"BOLT_TESTING_CLOCK_OFFSET_MS": "0"})
        self.offsets.clear()


def _wait_shipped(cluster: LocalCluster, i: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with cluster.node(i).client() as client:
                if client.cluster_status()["pending_replication"] == 0:
                    return
        except UNKNOWN:
            pass
        time.sleep(0.1)


# --- observing and checking ---------------------------------------------------------


@dataclass
class NodeView:
    """What one node shows at the end."""

    node_id: str
    digest: str
    members: dict[str, set[str]]
    counters: dict[str, int]
    present_deleted: list[str]
    tombstones: int


@dataclass(frozen=True)
class Row:
    """One line of the result table."""

    check: str
    passed: bool
    detail: str


def observe(client: Any, ledger: Ledger, digest: str) -> NodeView:
    """Read what ``ledger`` needs to be checked from one node (``digest``: its
    digest, read with every other node's by :func:`digests_now`)."""
    status = client.cluster_status()
    set_keys = set(ledger.members) | set(ledger.maybe_members)
    counter_keys = set(ledger.increments) | set(ledger.maybe_increments)
    return NodeView(
        node_id=status["node_id"],
        digest=digest,
        members={key: {str(m) for m in client.smembers(key)} for key in sorted(set_keys)},
        counters={key: int(client.cget(key)) for key in sorted(counter_keys)},
        present_deleted=[key for key in sorted(ledger.deleted) if client.exists(key)],
        tombstones=int(status["tombstones"]["live"]),
    )


def evaluate(views: list[NodeView], ledger: Ledger, converged: bool) -> list[Row]:
    """The checks of the module docstring, on what every node showed (pure)."""
    rows = [
        Row(
            "digests equal",
            converged and len({v.digest for v in views}) == 1,
            ", ".join(f"{v.node_id}={v.digest[:8]}" for v in views),
        )
    ]
    missing = extra = 0
    for view in views:
        for key, acked in ledger.members.items():
            shown = view.members.get(key, set())
            missing += len(acked - shown)
            extra += len(shown - acked - ledger.maybe_members.get(key, set()))
    total = sum(len(m) for m in ledger.members.values())
    rows.append(
        Row(
            "set-full (acked SADD everywhere)",
            missing == 0 and extra == 0,
            f"{total} members x {len(views)} nodes, {missing} missing, {extra} never sent",
        )
    )
    wrong = []
    for view in views:
        for key in set(ledger.increments) | set(ledger.maybe_increments):
            low = ledger.increments[key]
            value = view.counters.get(key, 0)
            if not low <= value <= low + ledger.maybe_increments[key]:
                wrong.append(f"{view.node_id}:{key}={value} (acked {low})")
    acked = sum(ledger.increments.values())
    rows.append(
        Row(
            "counters = acked increments",
            not wrong,
            f"{acked} acked, {sum(ledger.maybe_increments.values())} unknown"
            + (f"; wrong: {', '.join(wrong[:3])}" if wrong else ""),
        )
    )
    back = [f"{v.node_id}:{k}" for v in views for k in v.present_deleted]
    rows.append(
        Row(
            "no resurrection",
            not back,
            f"{len(ledger.deleted)} deleted keys" + (f"; back: {back[:3]}" if back else ""),
        )
    )
    left = {v.node_id: v.tombstones for v in views}
    rows.append(
        Row(
            "tombstones collected",
            all(n == 0 for n in left.values()),
            ", ".join(f"{n}={t}" for n, t in left.items()) + " left",
        )
    )
    return rows


def table(rows: list[Row]) -> str:
    """The result table (Markdown, so the README can hold it as is)."""
    lines = ["| check | result | detail |", "|---|---|---|"]
    lines += [f"| {r.check} | {'PASS' if r.passed else 'FAIL'} | {r.detail} |" for r in rows]
    return "\n".join(lines)


def _wait_tombstones_gone(cluster: LocalCluster, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = 0
        for i in range(cluster.size):
            with cluster.node(i).client() as client:
                left += client.cluster_status()["tombstones"]["live"]
        if left == 0:
            return
        time.sleep(0.5)
    for i in range(cluster.size):  # what kept them, for whoever reads the failure
        with cluster.node(i).client() as client:
            status = client.cluster_status()
        fields = ("node_id", "stable_hlc", "stable_vector", "tombstones")
        print({name: status.get(name) for name in fields}, file=sys.stderr)
        errors = [line for line in cluster.node(i).stderr_lines() if "Error" in line]
        print("\n".join(errors[-20:]), file=sys.stderr)


# --- the run ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load and faults")
    parser.add_argument("--nodes", type=int, default=5, help="cluster size (default 5)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--fault-interval", type=float, default=2.0, help="seconds between faults")
    parser.add_argument("--converge-timeout", type=float, default=60.0)
    parser.add_argument("--wipe", action="store_true", help="also wipe nodes (needs full sync)")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the data here")
    args = parser.parse_args(argv)
    if not 2 <= args.nodes <= 9:
        parser.error("--nodes must be between 2 and 9")
    if args.duration <= 0 or args.fault_interval <= 0:
        parser.error("--duration and --fault-interval must be positive")
    return args


def soak(args: argparse.Namespace, base: Path) -> int:
    """Run the soak in ``base``; print the table; the exit status."""
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    env = {"BOLT_WAL_FSYNC": "always"}
    started = time.monotonic()
    with LocalCluster(base, args.nodes, env=env, keep_logs=args.data_dir is not None) as cluster:
        stop = threading.Event()
        writers = [Writer(cluster, i, seed * 31 + i, stop) for i in range(args.nodes)]
        faults = Faults(cluster, rng, args.wipe, writers)
        for writer in writers:
            writer.start()
        while time.monotonic() - started < args.duration:
            time.sleep(args.fault_interval)
            faults.tick(time.monotonic())
        stop.set()
        for writer in writers:
            writer.join(30)
        faults.heal_all()
        ledger = Ledger()
        for writer in writers:
            ledger.merge(writer.ledger)
        try:
            seconds = cluster.wait_converged(timeout=args.converge_timeout)
            converged = True
        except TimeoutError:
            seconds, converged = args.converge_timeout, False
        _wait_tombstones_gone(cluster, timeout=30)
        digests = cluster.digests()
        views = []
        for i in range(args.nodes):
            with cluster.node(i).client() as client:
                views.append(observe(client, ledger, digests[i]))
    rows = evaluate(views, ledger, converged)
    faults_done = ", ".join(f"{k} {n}" for k, n in sorted(faults.log.items()))
    print(f"chaos: {args.nodes} nodes, {args.duration:.0f}s, seed {seed}")
    print(f"faults: {faults_done or 'none'}")
    print(
        f"acknowledged operations: {sum(ledger.ops.values())} ({dict(sorted(ledger.ops.items()))});"
        f" unknown outcome: {ledger.unknown}; refused: {ledger.refused}"
    )
    print(f"converged {seconds:.1f}s after the heal" if converged else "did NOT converge")
    print(table(rows))
    return 0 if all(r.passed for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    """Run the soak in ``--data-dir`` or a temporary directory."""
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so every node and proxy is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    if args.data_dir is not None:
        shutil.rmtree(args.data_dir, ignore_errors=True)
        return soak(args, args.data_dir)
    with tempfile.TemporaryDirectory(prefix="bolt-chaos-") as tmp:
        return soak(args, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
