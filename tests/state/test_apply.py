"""The conflict rules of DESIGN §4, one small hand-written case each.

Two or three simulated nodes (``_support.SimNode``) make concurrent writes;
their events are exchanged in both orders; every node must end with the
answer the design promises.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from bolt.events import (
    CounterSet,
    CrdtCounterChanged,
    Event,
    KeyDeleted,
    KeyPut,
    ListPushed,
    SetAdded,
    SetRemoved,
)
from bolt.state import Keyspace, apply
from bolt.testing._clock import ManualClock
from tests.state._support import SimNode, assert_memory_exact, read, view

START = 1_700_000_000_000


def _pair() -> tuple[SimNode, SimNode, ManualClock]:
    clock = ManualClock(START)
    return SimNode("a", clock), SimNode("b", clock), clock


def _all_orders(events: list[Event]) -> list[Keyspace]:
    """A fresh keyspace per permutation of ``events``."""
    result = []
    for order in itertools.permutations(events):
        keyspace = Keyspace(4)
        for event in order:
            apply(keyspace, event)
        assert_memory_exact(keyspace)
        result.append(keyspace)
    return result


def _same_everywhere(events: list[Event], key: str, now: int) -> Any:
    views = [view(ks, [("", key)], now) for ks in _all_orders(events)]
    assert all(v == views[0] for v in views), views
    return views[0][("", key)]


def test_later_hlc_wins_for_strings() -> None:
    a, b, clock = _pair()
    _, first = a.run("PUT", "k", "from-a")
    clock.advance(1)
    _, second = b.run("PUT", "k", "from-b")
    a.deliver(second)
    b.deliver(first)
    assert a.call("GET", "k") == b.call("GET", "k") == "from-b"
    assert _same_everywhere(first + second, "k", clock())[0] == "from-b"


def test_equal_hlc_ties_break_by_node_id() -> None:
    # Same HLC on both nodes: the larger node id wins everywhere (never both).
    events: list[Event] = [
        KeyPut("a", 1, 100, "", "k", "from-a", 0),
        KeyPut("b", 1, 100, "", "k", "from-b", 0),
    ]
    assert _same_everywhere(events, "k", START)[0] == "from-b"


def test_concurrent_cincr_on_two_nodes_both_count() -> None:
    a, b, clock = _pair()
    made = []
    for node in (a, b):
        for _ in range(3):
            made += node.run("CINCR", "c")[1]
    made += b.run("CDECR", "c")[1]
    a.deliver(made)
    b.deliver(made)
    assert a.call("CGET", "c") == b.call("CGET", "c") == 5
    # Events carry totals, not deltas: b's last two events alone hold its 3 - 1.
    assert _same_everywhere(made[:3] + made[-2:], "c", clock())[5] == 5


def test_plain_counter_is_last_writer_wins() -> None:
    a, b, clock = _pair()
    _, first = a.run("INCRBY", "n", 5)
    clock.advance(1)
    _, second = b.run("INCRBY", "n", 7)
    a.deliver(second)
    b.deliver(first)
    assert a.call("GET", "n") == b.call("GET", "n") == "7"  # one increment lost (documented)


def test_concurrent_sadd_beats_srem() -> None:
    a, b, clock = _pair()
    _, added = a.run("SADD", "s", "m")
    b.deliver(added)
    clock.advance(1)
    _, removed = b.run("SREM", "s", "m")  # b removes the add it saw
    _, readded = a.run("SADD", "s", "m")  # a adds concurrently: no-op reply...
    assert readded == []  # ...because m is already there on a
    _, other = a.run("SADD", "s", "n")
    b2 = SimNode("c", clock)
    _, concurrent = b2.run("SADD", "s", "m")  # a third node adds m concurrently
    everything = added + removed + other + concurrent
    result = _same_everywhere(everything, "s", clock())
    assert result[4] == ["m", "n"]


def test_remove_only_removes_what_it_observed() -> None:
    a, b, clock = _pair()
    _, add_a = a.run("SADD", "s", "m")
    clock.advance(1)
    _, add_b = b.run("SADD", "s", "m")
    b.deliver(add_a)
    clock.advance(1)
    _, removed = b.run("SREM", "s", "m")  # b saw both tags: m is gone
    assert _same_everywhere(add_a + add_b + removed, "s", clock())[1] is None


def test_sadd_then_srem_of_one_member_arrives_first() -> None:
    # SADD s b a makes one event (one tag); SREM s a cancels only a.
    a, b, clock = _pair()
    _, added = a.run("SADD", "s", "b", "a")
    b.deliver(added)
    clock.advance(1)
    _, removed = b.run("SREM", "s", "a")
    assert b.call("SMEMBERS", "s") == ["b"]
    assert _same_everywhere(added + removed, "s", clock())[4] == ["b"]


def test_concurrent_pushes_both_survive_in_one_agreed_order() -> None:
    a, b, clock = _pair()
    _, from_a = a.run("RPUSH", "l", "a1", "a2")
    _, from_b = b.run("RPUSH", "l", "b1")  # same millisecond, other node
    a.deliver(from_b)
    b.deliver(from_a)
    assert a.call("LRANGE", "l", 0, -1) == b.call("LRANGE", "l", 0, -1)
    assert sorted(a.call("LRANGE", "l", 0, -1)) == ["a1", "a2", "b1"]
    assert _same_everywhere(from_a + from_b, "l", clock())[3] == a.call("LRANGE", "l", 0, -1)


def test_concurrent_pops_of_one_element_may_both_return_it() -> None:
    a, b, _ = _pair()
    _, pushed = a.run("RPUSH", "l", "x", "y")
    b.deliver(pushed)
    popped_a, pop_a = a.run("LPOP", "l")
    popped_b, pop_b = b.run("LPOP", "l")
    assert popped_a == popped_b == "x"  # at-least-once (documented)
    a.deliver(pop_b)
    b.deliver(pop_a)
    assert a.call("LRANGE", "l", 0, -1) == b.call("LRANGE", "l", 0, -1) == ["y"]


def test_a_delete_is_not_undone_by_a_replayed_older_write() -> None:
    a, b, clock = _pair()
    _, put = a.run("PUT", "k", "old")
    _, pushed = a.run("RPUSH", "l", "x")
    _, added = a.run("SADD", "s", "m")
    b.deliver(put + pushed + added)
    clock.advance(5)
    deletes = b.run("DEL", "k")[1] + b.run("DEL", "l")[1] + b.run("DEL", "s")[1]
    a.deliver(deletes)
    a.deliver(put + pushed + added)  # a late replay of the older writes
    for key in ("k", "l", "s"):
        assert a.call("EXISTS", key) is False
        assert _same_everywhere(put + pushed + added + deletes, key, clock())[2] is False


def test_a_newer_write_resurrects() -> None:
    a, b, clock = _pair()
    _, put = a.run("PUT", "k", "v1")
    clock.advance(1)
    _, deleted = a.run("DEL", "k")
    clock.advance(1)
    _, put2 = b.run("PUT", "k", "v2")  # b never saw the delete: newer HLC wins
    events = put + deleted + put2
    assert _same_everywhere(events, "k", clock())[0] == "v2"


def test_a_delete_keeps_concurrent_counter_increments() -> None:
    a, b, clock = _pair()
    _, first = a.run("CINCRBY", "c", 5)
    b.deliver(first)
    clock.advance(1)
    _, deleted = a.run("DEL", "c")  # observed a=5
    _, concurrent = b.run("CINCRBY", "c", 2)  # b did not see the delete
    events = first + deleted + concurrent
    assert _same_everywhere(events, "c", clock())[5] == 2


def test_lpush_of_several_values_gives_them_reversed() -> None:
    a, _, _ = _pair()
    assert a.call("LPUSH", "l", "a", "b", "c") == 3
    assert a.call("LRANGE", "l", 0, -1) == ["c", "b", "a"]


@pytest.mark.parametrize("seed", range(20))
def test_sequential_lpush_rpush_lpop_rpop_match_a_python_list(seed: int) -> None:
    import random

    rnd = random.Random(seed)
    a, _, clock = _pair()
    model: list[Any] = []
    for step in range(60):
        if rnd.random() < 0.5:
            clock.advance(rnd.choice([0, 1]))
        command = rnd.choice(["LPUSH", "RPUSH", "LPOP", "RPOP", "LRANGE"])
        if command in ("LPUSH", "RPUSH"):
            values = [f"v{step}.{i}" for i in range(rnd.randint(1, 3))]
            length = a.call(command, "l", *values)
            if command == "LPUSH":
                for value in values:
                    model.insert(0, value)
            else:
                model.extend(values)
            assert length == len(model)
        elif command in ("LPOP", "RPOP"):
            expected = (model.pop(0) if command == "LPOP" else model.pop()) if model else None
            assert a.call(command, "l") == expected
        else:
            start, stop = rnd.randint(-5, 5), rnd.randint(-5, 5)
            length = len(model)
            s = max(length + start, 0) if start < 0 else start
            e = length + stop if stop < 0 else stop
            assert a.call("LRANGE", "l", start, stop) == (model[s : e + 1] if e >= 0 else [])
        assert a.call("LRANGE", "l", 0, -1) == model
        assert a.call("LLEN", "l") == len(model)
        assert a.call("EXISTS", "l") is bool(model)
    assert_memory_exact(a.keyspace)


def test_ttl_is_an_absolute_instant_on_every_node() -> None:
    a, b, clock = _pair()
    _, put = a.run("SETEX", "k", "v", 10)
    b.deliver(put)
    clock.advance(9_999)
    assert a.call("GET", "k") == b.call("GET", "k") == "v"
    clock.advance(1)
    assert a.call("GET", "k") is None and b.call("GET", "k") is None


def test_two_types_written_concurrently_resolve_the_same_everywhere() -> None:
    # Same HLC on two nodes, different types: every order must agree.
    events: list[Event] = [
        CrdtCounterChanged("b", 1, 100, "", "k", 0, 1),
        SetAdded("a", 1, 100, "", "k", ("m",)),
    ]
    result = _same_everywhere(events, "k", START)
    assert result[1] in ("set", "crdt_counter")


def test_list_and_set_bodies_with_equal_hlc_resolve_the_same_everywhere() -> None:
    events: list[Event] = [
        ListPushed("a", 1, 100, "", "k", False, ("x",)),
        SetAdded("b", 1, 100, "", "k", ("m",)),
    ]
    _same_everywhere(events, "k", START)


def test_reset_versus_element_operations() -> None:
    # A string written after a push hides the list; a push after it shows it again.
    events: list[Event] = [
        ListPushed("a", 1, 100, "", "k", False, ("x",)),
        KeyPut("b", 1, 200, "", "k", "s", 0),
        ListPushed("a", 2, 300, "", "k", False, ("y",)),
    ]
    result = _same_everywhere(events, "k", START)
    assert result[1] == "list"
    assert result[3] == ["y"]


def test_counter_set_and_delete_order() -> None:
    events: list[Event] = [
        CounterSet("a", 1, 100, "", "n", 5, 0),
        KeyDeleted("b", 1, 150, "", "n", {}, ""),
        CounterSet("a", 2, 120, "", "n", 6, 0),
    ]
    result = _same_everywhere(events, "n", START)
    assert result[2] is False


def test_removes_of_a_never_written_key_leave_nothing_behind() -> None:
    # Two nodes remove the same member concurrently; a third node receives
    # the removes before the add. It must hold what the others hold.
    tag = (100, "a")
    events: list[Event] = [
        SetAdded("a", 1, 100, "", "s", ("m",)),
        SetRemoved("b", 1, 200, "", "s", (("m", (tag,)),)),
        SetRemoved("c", 1, 201, "", "s", (("m", (tag,)),)),
    ]
    memory = {ks.memory_used for ks in _all_orders(events)}
    assert len(memory) == 1, memory
    keys = {ks.key_count() for ks in _all_orders(events)}
    assert len(keys) == 1, keys


def test_reads_take_no_stamp() -> None:
    a, _, clock = _pair()
    a.call("PUT", "k", "v")
    before = a.stamps_taken
    for command, args in [
        ("GET", ["k"]),
        ("EXISTS", ["k"]),
        ("TYPE", ["k"]),
        ("TTL", ["k"]),
        ("KEYS", []),
        ("MGET", ["k", "x"]),
        ("LRANGE", ["x"]),
        ("SMEMBERS", ["x"]),
    ]:
        read(a.keyspace, command, *args, now=clock())
        a.call(command, *args)
    assert a.stamps_taken == before
