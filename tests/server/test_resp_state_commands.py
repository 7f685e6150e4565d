"""The engine commands added for Redis clients (bolt.state._commands_redis):
each one's replies and events, and convergence of histories that use them."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from bolt.errors import (
    BadRequestError,
    KeyNotFoundError,
    NotFloatError,
    NotIntegerError,
    RequestError,
    WrongTypeError,
)
from bolt.events import CounterSet, Event, KeyDeleted, KeyPut, ListPopped
from bolt.state import Keyspace, apply
from bolt.state._commands_redis import format_float
from bolt.state._commands_redis_keys import key_hash
from bolt.testing._clock import ManualClock
from tests.state._support import SimNode, assert_memory_exact, random_write, view

NOW = 1_700_000_000_000


@pytest.fixture
def node() -> SimNode:
    return SimNode("n1", ManualClock(NOW))


def test_setcond_conditions_expiry_and_get(node: SimNode) -> None:
    assert node.call("SETCOND", "k", "v1", "NX", "", 0, False) == [True, None]
    assert node.call("SETCOND", "k", "v2", "NX", "", 0, True) == [False, "v1"]
    assert node.call("SETCOND", "k", "v2", "XX", "PX", 5000, True) == [True, "v1"]
    assert node.call("PTTL", "k") == 5000
    assert node.call("SETCOND", "k", "v3", "", "KEEPTTL", 0, False) == [True, None]
    assert node.call("PTTL", "k") == 5000 and node.call("GET", "k") == "v3"
    assert node.call("SETCOND", "absent", "v", "XX", "", 0, False) == [False, None]
    reply, events = node.run("SETCOND", "k", "v4", "", "PXAT", NOW - 1, False)
    assert reply == [True, None] and [type(e) for e in events] == [KeyDeleted]
    assert node.call("EXISTS", "k") is False
    node.call("RPUSH", "list", "a")
    with pytest.raises(WrongTypeError):
        node.run("SETCOND", "list", "v", "", "", 0, True)
    assert node.call("LLEN", "list") == 1  # refused: nothing written
    with pytest.raises(BadRequestError):
        node.run("SETCOND", "k", "v", "MAYBE", "", 0, False)


def test_getdel_append_strlen(node: SimNode) -> None:
    node.call("SETEX", "k", "ab", 100)
    assert node.call("APPEND", "k", "cé") == 5
    assert node.call("GET", "k") == "abcé" and node.call("PTTL", "k") == 100_000
    assert node.call("APPEND", "k", b"\xff") == 6
    assert node.call("GET", "k") == "abcé".encode() + b"\xff"
    assert node.call("STRLEN", "k") == 6 and node.call("STRLEN", "none") == 0
    node.call("INCR", "n")
    assert node.call("APPEND", "n", "0") == 2 and node.call("GET", "n") == "10"
    assert node.call("GETDEL", "n") == "10" and node.call("GETDEL", "n") is None


def test_incrbyfloat(node: SimNode) -> None:
    assert node.call("INCRBYFLOAT", "f", "1.5") == "1.5"
    assert node.call("INCRBYFLOAT", "f", "-0.5") == "1"
    assert node.call("INCRBYFLOAT", "f", "1e20") == "100000000000000000001"[:-1] + "0"
    node.call("PUT", "t", "abc")
    for bad_key, bad_delta in (("t", "1"), ("f", "x"), ("f", " 1"), ("f", "nan")):
        with pytest.raises(NotFloatError):
            node.run("INCRBYFLOAT", bad_key, bad_delta)
    node.call("PUT", "big", "1e308")
    with pytest.raises(BadRequestError, match="NaN or Infinity"):
        node.run("INCRBYFLOAT", "big", "1e308")
    assert format_float(0.1 + 0.2) == "0.30000000000000004"
    assert format_float(-0.0) == "0"


def test_expiry_on_existing_keys(node: SimNode) -> None:
    node.call("PUT", "s", "v")
    node.call("INCR", "c")
    reply, events = node.run("PEXPIREAT", "s", NOW + 10_000, "")
    assert reply is True and type(events[0]) is KeyPut and events[0].expires_at_ms == NOW + 10_000
    reply, events = node.run("PEXPIREAT", "c", NOW + 10_000, "NX")
    assert reply is True and type(events[0]) is CounterSet
    assert node.call("PEXPIREAT", "c", NOW + 20_000, "NX") is False
    assert node.call("PEXPIREAT", "c", NOW + 5_000, "GT") is False
    assert node.call("PEXPIREAT", "c", NOW + 5_000, "LT") is True
    assert node.call("PTTL", "c") == 5_000 and node.call("GET", "c") == "1"
    assert node.call("PERSIST", "c") is True and node.call("PERSIST", "c") is False
    assert node.call("PTTL", "c") == -1
    assert node.call("PEXPIREAT", "c", NOW + 1, "XX") is False
    assert node.call("PEXPIREAT", "missing", NOW + 1, "") is False
    assert node.call("PEXPIREAT", "s", NOW - 1, "") is True
    assert node.call("EXISTS", "s") is False
    node.call("SADD", "set", "m")
    with pytest.raises(WrongTypeError, match="strings and counters only"):
        node.run("PEXPIREAT", "set", NOW + 1000, "")


@pytest.mark.parametrize("write", [("SADD", "m"), ("RPUSH", "x"), ("HSET", "f", "v"), ("CINCR",)])
@pytest.mark.parametrize("at", [NOW + 1000, NOW - 1])
def test_expiry_on_a_container_is_refused_and_keeps_it(
    node: SimNode, write: tuple, at: int
) -> None:
    node.call(write[0], "c", *write[1:])
    before = view(node.keyspace, [("", "c")], NOW)
    with pytest.raises(WrongTypeError, match="strings and counters only"):
        node.run("PEXPIREAT", "c", at, "")
    assert view(node.keyspace, [("", "c")], NOW) == before


def test_pop_many_lindex_smismember(node: SimNode) -> None:
    node.call("RPUSH", "l", "a", "b", "c", "d")
    reply, events = node.run("LPOPN", "l", 2)
    assert reply == ["a", "b"] and len(events) == 1 and len(events[0].positions) == 2
    assert type(events[0]) is ListPopped
    assert node.call("RPOPN", "l", 10) == ["d", "c"]
    assert node.call("LPOPN", "l", 1) is None  # the emptied list is gone
    with pytest.raises(BadRequestError):
        node.run("LPOPN", "l", -1)
    node.call("RPUSH", "l", "x", "y")
    assert node.call("LPOPN", "l", 0) == []
    assert [node.call("LINDEX", "l", i) for i in (0, 1, 2, -1, -2, -3)] == [
        "x",
        "y",
        None,
        "y",
        "x",
        None,
    ]
    node.call("SADD", "s", "m1", "m2")
    assert node.call("SMISMEMBER", "s", "m1", "zz", "m2") == [True, False, True]
    assert node.call("SMISMEMBER", "nope", "m1") == [False]
    with pytest.raises(NotIntegerError):
        node.run("LINDEX", "l", "1")


def test_scan_visits_each_key_once_and_filters(node: SimNode) -> None:
    keys = [f"key:{i}" for i in range(57)]
    node.call("MSET", *[x for k in keys for x in (k, "v")])
    node.call("RPUSH", "a-list", "x")
    seen: list[str] = []
    cursor = 0
    while True:
        cursor, page = node.call("SCAN", cursor, "key:*", 5, None)
        seen += page
        if cursor == 0:
            break
        assert cursor > 0
    assert sorted(seen) == sorted(keys)
    assert node.call("SCAN", 0, "*", 1000, ["list"]) == [0, ["a-list"]]
    assert node.call("DBSIZE") == 58
    assert node.call("DBSIZE", db="other") == 0
    assert key_hash("") == 1  # never 0: 0 ends a scan


def test_rename(node: SimNode) -> None:
    node.call("SETEX", "a", "v", 100)
    node.call("RPUSH", "b", "old")
    assert node.call("RENAME", "a", "b") is None
    assert node.call("GET", "b") == "v" and node.call("PTTL", "b") == 100_000
    assert node.call("EXISTS", "a") is False
    node.call("RPUSH", "l", "1", "2")
    node.call("SADD", "t", "m")
    node.call("RENAME", "l", "t")
    assert node.call("LRANGE", "t", 0, -1) == ["1", "2"] and node.call("TYPE", "t") == "list"
    node.call("RENAME", "t", "t")
    assert node.call("LRANGE", "t", 0, -1) == ["1", "2"]
    with pytest.raises(KeyNotFoundError):
        node.run("RENAME", "nothing", "x")
    node.call("CINCR", "cc")
    with pytest.raises(WrongTypeError):
        node.run("RENAME", "cc", "x")


# --- convergence ------------------------------------------------------------------------

KEYS = ("k1", "k2", "k3")
VALUES = ("a", "7", "1.5", "")
MEMBERS = ("m1", "m2")


def _redis_write(rnd: random.Random, now: int) -> tuple[str, list[Any]]:
    key, other = rnd.choice(KEYS), rnd.choice(KEYS)
    choice = rnd.randrange(9)
    if choice == 0:
        condition = rnd.choice(["", "NX", "XX"])
        mode = rnd.choice(["", "PX", "KEEPTTL"])
        return "SETCOND", [key, rnd.choice(VALUES), condition, mode, 5000, rnd.random() < 0.5]
    if choice == 1:
        return "APPEND", [key, rnd.choice(VALUES)]
    if choice == 2:
        return "INCRBYFLOAT", [key, rnd.choice(["1.5", "-2", "0.25"])]
    if choice == 3:
        return "PEXPIREAT", [
            key,
            now + rnd.choice([-1, 3000, 90_000]),
            rnd.choice(["", "NX", "GT"]),
        ]
    if choice == 4:
        return "PERSIST", [key]
    if choice == 5:
        return rnd.choice(["LPOPN", "RPOPN"]), [key, rnd.randint(0, 3)]
    if choice == 6:
        return "RENAME", [key, other]
    if choice == 7:
        return "GETDEL", [key]
    return random_write(rnd, KEYS, VALUES, MEMBERS)


@settings(max_examples=60, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(st.integers(0, 2**32), st.integers(5, 60))
def test_histories_with_redis_commands_converge(seed: int, steps: int) -> None:
    rnd = random.Random(seed)
    clock = ManualClock(NOW)
    nodes = [SimNode(f"node{i}", clock) for i in range(3)]
    events: list[Event] = []
    for _ in range(steps):
        clock.advance(rnd.choice([0, 1, 400, 1500]))
        if rnd.random() < 0.2 and events:
            rnd.choice(nodes).deliver(rnd.sample(events, rnd.randint(1, len(events))))
            continue
        command, args = _redis_write(rnd, clock())
        try:
            events.extend(rnd.choice(nodes).run(command, *args)[1])
        except RequestError:
            continue
    keyspaces = []
    for _ in range(3):
        order = events + rnd.choices(events, k=min(len(events), 4))
        rnd.shuffle(order)
        fresh = Keyspace(4)
        for event in order:
            apply(fresh, event)
        keyspaces.append(fresh)
    for node in nodes:
        node.deliver(rnd.sample(events, len(events)))
        keyspaces.append(node.keyspace)
    names = [("", key) for key in KEYS]
    for now in (clock(), clock() + 120_000):
        views = [view(ks, names, now) for ks in keyspaces]
        assert all(v == views[0] for v in views), f"seed={seed} at now={now}"
    for ks in keyspaces:
        assert_memory_exact(ks)
