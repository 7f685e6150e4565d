"""Hashes in the state layer: Redis semantics on one node, convergence across nodes,
exact memory accounting, snapshot round trips and the digest.

Commands run through the real handlers of ``bolt.state.COMMANDS`` and their
events through the pure ``apply`` (the :class:`SimNode` of ``_support``).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bolt.errors import (
    HashValueNotIntegerError,
    IntegerOverflowError,
    NotIntegerError,
    RequestError,
    WrongTypeError,
)
from bolt.events import HashFieldsDeleted, HashFieldsSet, decode_record, encode_record
from bolt.state._digest import state_digest
from bolt.state._entry import HASH
from bolt.state._snapshot import decode_entry, encode_entry
from bolt.testing._clock import ManualClock
from tests.crdt._support import NO_SHRINK
from tests.state._support import SimNode, assert_memory_exact

START = 1_700_000_000_000
FIELDS = ("f", "g", b"\xffh")
VALUES = ("1", "-2", "x", b"\x00", "")


def _node(origin: str = "n", clock: ManualClock | None = None, keep: bool = True) -> SimNode:
    return SimNode(origin, clock or ManualClock(START), keep_tombstones=keep)


def test_redis_semantics_on_one_node() -> None:
    node = _node()
    assert node.call("HSET", "h", "f", "1", "g", "2") == 2
    assert node.call("HSET", "h", "f", "10", "new", "3") == 1
    assert node.call("HGET", "h", "f") == "10"
    assert node.call("HGET", "h", "nope") is None
    assert node.call("HGET", "missing", "f") is None
    assert node.call("HMGET", "h", "f", "nope", "g") == ["10", None, "2"]
    assert node.call("HMGET", "missing", "f") == [None]
    assert list(node.call("HGETALL", "h").items()) == [("f", "10"), ("g", "2"), ("new", "3")]
    assert node.call("HKEYS", "h") == ["f", "g", "new"]
    assert node.call("HVALS", "h") == ["10", "2", "3"]
    assert node.call("HLEN", "h") == 3
    assert node.call("HEXISTS", "h", "g") is True
    assert node.call("HEXISTS", "h", "zz") is False
    assert node.call("HDEL", "h", "g", "g", "zz") == 1
    assert node.call("HINCRBY", "h", "f", 5) == 15
    assert node.call("HINCRBY", "h", "c", -3) == -3
    assert node.call("HGET", "h", "c") == "-3"
    assert node.call("TYPE", "h") == "hash"
    assert node.call("HDEL", "h", "f", "new", "c") == 3
    # The last field gone, the key is gone.
    assert node.call("EXISTS", "h") == 0
    assert node.call("TYPE", "h") is None
    assert node.call("HGETALL", "h") == {}
    assert node.call("HLEN", "h") == 0


def test_a_later_duplicate_field_in_one_hset_wins() -> None:
    node = _node()
    assert node.call("HSET", "h", "f", "1", "f", "2") == 1
    assert node.call("HGET", "h", "f") == "2"


@pytest.mark.parametrize(
    ("command", "args", "error"),
    [
        ("HSET", ["s", "f", "v"], WrongTypeError),
        ("HGET", ["s", "f"], WrongTypeError),
        ("HGETALL", ["s"], WrongTypeError),
        ("HDEL", ["s", "f"], WrongTypeError),
        ("HINCRBY", ["h", "text", 1], HashValueNotIntegerError),
        ("HINCRBY", ["h", "big", 1], IntegerOverflowError),
        ("HINCRBY", ["h", "f", "1"], NotIntegerError),
        ("HSET", ["h", "f"], RequestError),
        ("HSET", ["h", "f", "v", "g"], RequestError),
        ("HSET", ["h", "f", 7], RequestError),
        ("HGET", ["h"], RequestError),
    ],
)
def test_refused_requests_change_nothing_and_take_no_stamp(
    command: str, args: list[object], error: type[Exception]
) -> None:
    node = _node()
    node.call("PUT", "s", "string")
    node.call("HSET", "h", "text", "abc", "big", str(2**63 - 1), "f", "1")
    before = (state_digest(node.keyspace, node.clock()), node.stamps_taken)
    with pytest.raises(error):
        node.run(command, *args)
    assert (state_digest(node.keyspace, node.clock()), node.stamps_taken) == before


def test_hash_events_round_trip_through_a_record() -> None:
    node = _node()
    _, events = node.run("HSET", "h", "f", "1", b"\xff", b"\x00")
    _, more = node.run("HDEL", "h", "f")
    assert isinstance(events[0], HashFieldsSet) and isinstance(more[0], HashFieldsDeleted)
    assert decode_record(encode_record(events + more)) == events + more


def test_concurrent_set_beats_delete_and_different_fields_both_survive() -> None:
    clock = ManualClock(START)
    a, b = _node("a", clock), _node("b", clock)
    _, first = a.run("HSET", "h", "f", "1")
    b.deliver(first)
    clock.advance(5)
    _, deleted = b.run("HDEL", "h", "f")  # b saw only the first write
    _, rewritten = a.run("HSET", "h", "f", "2", "g", "x")  # concurrent with the delete
    _, other = b.run("HSET", "h", "k", "y")
    a.deliver(deleted + other)
    b.deliver(rewritten)
    for node in (a, b):
        assert node.call("HGETALL", "h") == {"f": "2", "g": "x", "k": "y"}
    assert state_digest(a.keyspace, clock()) == state_digest(b.keyspace, clock())


def test_concurrent_writes_of_one_field_keep_the_later_hlc() -> None:
    clock = ManualClock(START)
    a, b = _node("a", clock), _node("b", clock)
    _, early = a.run("HSET", "h", "f", "early")
    clock.advance(3)
    _, late = b.run("HSET", "h", "f", "late")
    a.deliver(late)
    b.deliver(early)
    assert a.call("HGET", "h", "f") == b.call("HGET", "h", "f") == "late"


def test_a_delete_of_the_key_hides_older_fields_and_newer_writes_resurrect() -> None:
    clock = ManualClock(START)
    a, b = _node("a", clock), _node("b", clock)
    _, old = a.run("HSET", "h", "old", "1")
    clock.advance(5)
    _, put = b.run("PUT", "h", "s")  # never saw "old", but is later
    _, deleted = b.run("DEL", "h")
    deleted = put + deleted
    clock.advance(5)
    _, new = a.run("HSET", "h", "new", "2")
    for node in (a, b):
        node.deliver(deleted + old + new)
        assert node.call("HGETALL", "h") == {"new": "2"}


def _random_op(rnd: random.Random) -> tuple[str, list[object]]:
    choice = rnd.randrange(10)
    key = rnd.choice(("h1", "h2"))
    if choice < 5:
        fields = rnd.sample(FIELDS, rnd.randint(1, 3))
        args: list[object] = [key]
        for f in fields:
            args += [f, rnd.choice(VALUES)]
        return "HSET", args
    if choice < 7:
        return "HDEL", [key, *rnd.sample(FIELDS, rnd.randint(1, 2))]
    if choice == 7:
        return "HINCRBY", [key, rnd.choice(FIELDS), rnd.randint(-5, 5)]
    if choice == 8:
        return "DEL", [key]
    return "PUT", [key, "s"]


@settings(max_examples=60, deadline=None, phases=NO_SHRINK)
@given(st.integers(0, 2**32))
def test_three_nodes_converge_in_any_delivery_order(seed: int) -> None:
    rnd = random.Random(seed)
    clock = ManualClock(START)
    nodes = [_node(f"n{i}", clock) for i in range(3)]
    made = []
    for _ in range(40):
        clock.advance(rnd.choice([0, 1, 5]))
        node = rnd.choice(nodes)
        if made and rnd.random() < 0.2:
            node.deliver(rnd.sample(made, rnd.randint(1, len(made))))
        command, args = _random_op(rnd)
        try:
            made += node.run(command, *args)[1]
        except RequestError:
            pass
    replicas = []
    for _ in range(3):
        order = made + rnd.sample(made, min(3, len(made)))
        rnd.shuffle(order)
        replica = _node("r", clock)
        replica.deliver(order)
        replicas.append(replica)
    for node in nodes:
        node.deliver(made)
    digests = [state_digest(n.keyspace, clock()) for n in nodes + replicas]
    assert all(d == digests[0] for d in digests)
    views = [
        {k: n.call("HGETALL", k) for k in ("h1", "h2") if n.call("TYPE", k) == "hash"}
        for n in nodes + replicas
    ]
    assert all(v == views[0] for v in views)


@settings(max_examples=60, deadline=None, phases=NO_SHRINK)
@given(st.integers(0, 2**32), st.booleans())
def test_memory_is_exact_after_every_hash_command(seed: int, keep: bool) -> None:
    rnd = random.Random(seed)
    clock = ManualClock(START)
    node, peer = _node("n", clock, keep), _node("p", clock)
    for _ in range(50):
        clock.advance(rnd.choice([0, 1]))
        command, args = _random_op(rnd)
        target = peer if rnd.random() < 0.2 else node
        try:
            _, events = target.run(command, *args)
        except RequestError:
            continue
        if target is peer:
            node.deliver(events)
        assert_memory_exact(node.keyspace)
    for _ in range(2):
        node.run("DEL", "h1")
        node.run("DEL", "h2")
    assert_memory_exact(node.keyspace)


def test_a_hash_entry_round_trips_through_the_snapshot_codec() -> None:
    clock = ManualClock(START)
    node, peer = _node("n", clock), _node("p", clock)
    node.call("HSET", "h", "f", "1", b"\xff", b"\x00")
    _, concurrent = peer.run("HSET", "h", "f", "2")
    _, early_delete = peer.run("HDEL", "h", "f")
    node.deliver(early_delete)  # a tombstone whose write has not arrived yet
    node.deliver(concurrent)
    name_entries = [(n, e) for s in node.keyspace.shards for n, e in s.entries.items()]
    ((name, entry),) = name_entries
    assert entry.bodies is not None and HASH in entry.bodies
    again = decode_entry(encode_entry(entry))
    assert again.bodies is not None
    assert again.bodies[HASH].state() == entry.bodies[HASH].state()
    assert again.estimate_size(name) == entry.estimate_size(name)
    assert encode_entry(again) == encode_entry(entry)


def test_the_digest_tells_hash_contents_apart() -> None:
    clock = ManualClock(START)
    a, b = _node("a", clock), _node("b", clock)
    a.call("HSET", "h", "f", "1")
    b.call("HSET", "h", "f", "2")
    assert state_digest(a.keyspace, clock()) != state_digest(b.keyspace, clock())
