"""Helpers for the state tests: simulated nodes, views, the memory invariant.

A :class:`SimNode` is what the engine is, minus the log: a Keyspace, a node id,
a seq counter and a HybridClock fed by a shared ManualClock. ``run`` calls a
command handler from ``bolt.state.COMMANDS`` exactly as ``Engine.submit``
does and applies the events it returns; ``deliver`` applies a peer's event
(after letting the HLC observe it), as replication will.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

from bolt.crdt import HybridClock
from bolt.errors import BoltError, RequestError
from bolt.events import Event
from bolt.state import COMMANDS, Keyspace, apply
from bolt.testing._clock import ManualClock


class SimNode:
    """One simulated node (see the module docstring)."""

    def __init__(
        self,
        origin: str,
        clock: ManualClock,
        *,
        shard_count: int = 4,
        keep_tombstones: bool = True,
    ) -> None:
        self.origin = origin
        self.clock = clock
        self.seq = 0
        self.hlc = HybridClock(clock)
        self.keyspace = Keyspace(shard_count, keep_tombstones=keep_tombstones)
        self.stamps_taken = 0

    def stamp(self) -> tuple[int, int]:
        """A fresh ``(seq, hlc)`` (the Stamper protocol)."""
        self.seq += 1
        self.stamps_taken += 1
        return self.seq, self.hlc.tick()

    def run(self, command: str, *args: Any, db: str = "") -> tuple[Any, list[Event]]:
        """Run a command handler now and apply its events; ``(reply, events)``."""
        spec = COMMANDS[command]
        reply, events = spec.handler(self.keyspace, self, db, list(args), self.clock())
        for event in events or []:
            apply(self.keyspace, event)
        return reply, list(events or [])

    def call(self, command: str, *args: Any, db: str = "") -> Any:
        """``run`` and return only the reply."""
        return self.run(command, *args, db=db)[0]

    def deliver(self, events: Iterable[Event]) -> None:
        """Apply peers' events (duplicates are skipped by ``apply``)."""
        for event in events:
            self.hlc.observe(event.hlc)
            apply(self.keyspace, event)


WRITE_COMMANDS = (
    "PUT",
    "SETEX",
    "DEL",
    "MSET",
    "MDEL",
    "INCR",
    "INCRBY",
    "CINCR",
    "CDECR",
    "CINCRBY",
    "LPUSH",
    "RPUSH",
    "LPOP",
    "RPOP",
    "SADD",
    "SREM",
    "HSET",
    "HDEL",
)
"""The write commands of random histories: every event kind a key can get."""


def random_write(
    rnd: random.Random, keys: Sequence[str], values: Sequence[Any], members: Sequence[str]
) -> tuple[str, list[Any]]:
    """A random write command and its arguments, drawn from ``keys``, ``values``
    and ``members`` (some are refused when run: wrong type, not an integer)."""
    command = rnd.choice(WRITE_COMMANDS)
    key = rnd.choice(keys)
    some = min(3, len(keys))
    if command == "PUT":
        return command, [key, rnd.choice(values)]
    if command == "SETEX":
        return command, [key, rnd.choice(values), rnd.choice([1, 2, 60])]
    if command in ("DEL", "INCR", "CINCR", "CDECR", "LPOP", "RPOP"):
        return command, [key]
    if command == "MSET":
        pairs: list[Any] = []
        for chosen in rnd.sample(keys, rnd.randint(1, some)):
            pairs += [chosen, rnd.choice(values)]
        return command, pairs
    if command == "MDEL":
        return command, rnd.sample(keys, rnd.randint(1, some))
    if command in ("INCRBY", "CINCRBY"):
        return command, [key, rnd.randint(-9, 9)]
    if command in ("LPUSH", "RPUSH"):
        return command, [key, *rnd.choices(values, k=rnd.randint(1, 3))]
    if command == "HSET":
        fields = rnd.sample(members, rnd.randint(1, min(2, len(members))))
        return command, [key, *[x for f in fields for x in (f, rnd.choice(values))]]
    if command == "HDEL":
        return command, [key, *rnd.sample(members, rnd.randint(1, min(2, len(members))))]
    return command, [key, *rnd.sample(members, rnd.randint(1, min(3, len(members))))]


class _NoStamps:
    origin = "reader"

    def stamp(self) -> tuple[int, int]:
        raise AssertionError("a read must not take a stamp")


def read(keyspace: Keyspace, command: str, *args: Any, db: str = "", now: int) -> Any:
    """Run a read command against ``keyspace``; errors are returned as their class."""
    try:
        reply, events = COMMANDS[command].handler(keyspace, _NoStamps(), db, list(args), now)
    except BoltError as exc:
        return type(exc)
    assert events is None
    return reply


def view(keyspace: Keyspace, keys: Iterable[tuple[str, str]], now: int) -> dict[Any, Any]:
    """Everything a client can see about ``keys`` (``(db, key)`` pairs) at ``now``."""
    result: dict[Any, Any] = {}
    for db, key in keys:
        members = read(keyspace, "SMEMBERS", key, db=db, now=now)
        ttl = read(keyspace, "TTL", key, db=db, now=now)
        result[(db, key)] = (
            read(keyspace, "GET", key, db=db, now=now),
            read(keyspace, "TYPE", key, db=db, now=now),
            read(keyspace, "EXISTS", key, db=db, now=now),
            read(keyspace, "LRANGE", key, 0, -1, db=db, now=now),
            sorted(members, key=repr) if isinstance(members, list) else members,
            read(keyspace, "CGET", key, db=db, now=now),
            read(keyspace, "HGETALL", key, db=db, now=now),
            "none" if ttl is None else ("forever" if ttl == -1 else "expiring"),
        )
    for db in {db for db, _ in keys}:
        result[("KEYS", db)] = read(keyspace, "KEYS", db=db, now=now)
    return result


def memory_breakdown(keyspace: Keyspace) -> tuple[int, int, int]:
    """``(memory_used less the tasks', sum of shard memory, sum of every entry's estimate)``."""
    return (
        keyspace.memory_used - keyspace.tasks.memory,
        sum(shard.memory for shard in keyspace.shards),
        sum(
            entry.estimate_size(name)
            for shard in keyspace.shards
            for name, entry in shard.entries.items()
        ),
    )


def assert_memory_exact(keyspace: Keyspace) -> None:
    """The exact memory invariant (and each entry's cached size is its estimate)."""
    used, shards, estimated = memory_breakdown(keyspace)
    assert used == shards == estimated, (used, shards, estimated)
    for shard in keyspace.shards:
        assert shard.memory == sum(e.size for e in shard.entries.values())
        for name, entry in shard.entries.items():
            assert entry.size == entry.estimate_size(name), name
    tasks = keyspace.tasks
    assert tasks.memory == sum(t.size for t in tasks.tasks.values())
    assert all(t.size == t.measure() for t in tasks.tasks.values())


HISTORY_KEYS = ("k1", "k2", "k3")
HISTORY_DBS = ("", "db1")
HISTORY_VALUES = ("a", "b", "7", "-3", "", b"\x00z")
HISTORY_MEMBERS = ("m1", "m2", "m3")


def random_history(
    seed: int,
    node_count: int,
    steps: int,
    keys: Sequence[str] = HISTORY_KEYS,
    dbs: Sequence[str] = HISTORY_DBS,
) -> tuple[list[SimNode], list[Event], ManualClock]:
    """A random history on ``node_count`` simulated nodes: random writes of every
    type on random nodes, and now and then a delivery of some events made so far
    (in random order, with duplicates) to some node. Returns the nodes, every
    event made (in the order made) and the shared clock."""
    rnd = random.Random(seed)
    clock = ManualClock(1_700_000_000_000)
    nodes = [SimNode(f"node{i}", clock) for i in range(node_count)]
    events: list[Event] = []
    for _ in range(steps):
        clock.advance(rnd.choice([0, 0, 1, 7, 400, 1500]))
        if rnd.random() < 0.2 and events:
            target = rnd.choice(nodes)
            batch = rnd.sample(events, rnd.randint(1, len(events)))
            batch += rnd.choices(events, k=rnd.randint(0, 3))
            target.deliver(batch)
            continue
        node = rnd.choice(nodes)
        command, args = random_write(rnd, keys, HISTORY_VALUES, HISTORY_MEMBERS)
        try:
            _, made = node.run(command, *args, db=rnd.choice(dbs))
        except RequestError:
            continue  # wrong type, not an integer...: refused, nothing made
        events.extend(made)
    return nodes, events, clock
