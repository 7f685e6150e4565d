"""Command handlers: typed errors that change nothing, and the reply rules.

A refused request must raise the right ``bolt.errors`` class, take no stamp
(no event, no gap in the node's seq) and leave every view and the memory
total exactly as they were. Replies follow the seed's SDK table (TTL -1/None,
DEL returns the old value, emptied lists and sets disappear, KEYS globs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio

from bolt import limits
from bolt.errors import (
    BadRequestError,
    BoltError,
    IntegerOverflowError,
    NotIntegerError,
    TooLargeError,
    UnknownCommandError,
    WrongTypeError,
)
from bolt.node import Engine, EngineConfig
from bolt.testing._clock import ManualClock
from tests.state._support import SimNode, assert_memory_exact, view

START = 1_700_000_000_000

MAKERS: dict[str, tuple[str, list[Any]]] = {
    "string": ("PUT", ["k", "5"]),
    "counter": ("INCRBY", ["k", 5]),
    "list": ("RPUSH", ["k", "x"]),
    "set": ("SADD", ["k", "m"]),
    "crdt_counter": ("CINCR", ["k"]),
}

FAMILIES: dict[str, list[tuple[str, list[Any]]]] = {
    "string": [
        ("GET", ["k"]),
        ("INCR", ["k"]),
        ("DECR", ["k"]),
        ("INCRBY", ["k", 2]),
        ("DECRBY", ["k", 2]),
    ],
    "list": [
        ("LPUSH", ["k", "v"]),
        ("RPUSH", ["k", "v"]),
        ("LPOP", ["k"]),
        ("RPOP", ["k"]),
        ("LRANGE", ["k", 0, -1]),
        ("LLEN", ["k"]),
    ],
    "set": [
        ("SADD", ["k", "v"]),
        ("SREM", ["k", "m"]),
        ("SMEMBERS", ["k"]),
        ("SCARD", ["k"]),
        ("SISMEMBER", ["k", "m"]),
    ],
    "crdt_counter": [("CINCR", ["k"]), ("CDECR", ["k"]), ("CINCRBY", ["k", 3]), ("CGET", ["k"])],
}
ACCEPTS = {
    "string": "string",
    "counter": "string",
    "list": "list",
    "set": "set",
    "crdt_counter": "crdt_counter",
}


def _node() -> SimNode:
    return SimNode("n", ManualClock(START))


def assert_refused(
    node: SimNode, error: type[BoltError], command: str, *args: Any, db: str = ""
) -> None:
    """The command raises ``error`` and changes nothing at all."""
    keys = [(d, k) for d in ("", "db1") for k in ("k", "k2", "x")]
    before = view(node.keyspace, keys, node.clock())
    memory = node.keyspace.memory_used
    stamps = node.stamps_taken
    with pytest.raises(error):
        node.run(command, *args, db=db)
    assert node.stamps_taken == stamps, "a refused command took a stamp"
    assert view(node.keyspace, keys, node.clock()) == before
    assert node.keyspace.memory_used == memory
    assert_memory_exact(node.keyspace)


WRONG = [
    (held, family, command, args)
    for held in MAKERS
    for family, commands in FAMILIES.items()
    if ACCEPTS[held] != family
    for command, args in commands
]


@pytest.mark.parametrize(
    ("held", "family", "command", "args"), WRONG, ids=[f"{h}-{c}" for h, _, c, _ in WRONG]
)
def test_wrong_type_raises_and_writes_nothing(
    held: str, family: str, command: str, args: list[Any]
) -> None:
    node = _node()
    maker, maker_args = MAKERS[held]
    node.run(maker, *maker_args)
    assert node.call("TYPE", "k") == held
    assert_refused(node, WrongTypeError, command, *args)


@pytest.mark.parametrize("held", list(MAKERS))
def test_right_type_commands_work(held: str) -> None:
    node = _node()
    maker, maker_args = MAKERS[held]
    node.run(maker, *maker_args)
    for command, args in FAMILIES[ACCEPTS[held]]:
        node.run(command, *args)  # must not raise
        # ...and keeps the key in its family (INCR makes a string a counter).
        # Only a list or a set can be emptied, by a pop or a remove, and vanish.
        family: set[str | None] = {"string", "counter"} if ACCEPTS[held] == "string" else {held}
        if held in ("list", "set"):
            family.add(None)
        assert node.call("TYPE", "k") in family, f"after {command} {args}"


@pytest.mark.parametrize("held", list(MAKERS))
def test_whole_value_commands_work_on_every_type(held: str) -> None:
    node = _node()
    maker, maker_args = MAKERS[held]
    node.run(maker, *maker_args)
    assert node.call("EXISTS", "k") is True
    assert node.call("TTL", "k") == -1
    assert node.call("KEYS") == ["k"]
    assert node.call("MGET", "k") == (["5"] if held in ("string", "counter") else [None])
    assert node.call("DEL", "k") == ("5" if held in ("string", "counter") else True)
    assert node.call("EXISTS", "k") is False
    node.run(maker, *maker_args)
    node.call("PUT", "k", "over")  # PUT replaces any type
    assert node.call("GET", "k") == "over"
    assert node.call("TYPE", "k") == "string"
    assert_memory_exact(node.keyspace)


def test_put_over_a_crdt_counter_and_back_starts_from_zero() -> None:
    node = _node()
    node.call("CINCRBY", "k", 7)
    node.call("PUT", "k", "s")
    assert node.call("TYPE", "k") == "string"
    node.call("DEL", "k")
    assert node.call("CGET", "k") == 0
    assert node.call("CINCR", "k") == 1


@pytest.mark.parametrize(
    "stored", ["abc", "1.5", " 1", "", "1e3", "9223372036854775808", "--1", "+"]
)
def test_incr_on_a_non_integer_string(stored: str) -> None:
    node = _node()
    node.call("PUT", "k", stored)
    assert_refused(node, NotIntegerError, "INCR", "k")


def test_incr_on_integer_strings_and_bytes() -> None:
    node = _node()
    node.call("PUT", "k", "41")
    assert node.call("INCR", "k") == 42
    assert node.call("GET", "k") == "42"
    assert node.call("TYPE", "k") == "counter"
    node.call("PUT", "b", b"-7")
    assert node.call("DECRBY", "b", 3) == -10
    assert node.call("INCR", "missing") == 1


def test_integer_overflow() -> None:
    node = _node()
    node.call("PUT", "k", str(limits.int64_max))
    assert_refused(node, IntegerOverflowError, "INCR", "k")
    assert_refused(node, IntegerOverflowError, "INCRBY", "k", 1)
    node.call("PUT", "k", str(limits.int64_min))
    assert_refused(node, IntegerOverflowError, "DECR", "k")
    assert_refused(node, IntegerOverflowError, "INCRBY", "x", 2**63)
    assert_refused(node, IntegerOverflowError, "DECRBY", "x", limits.int64_min)
    node.call("CINCRBY", "c", limits.int64_max)
    with pytest.raises(IntegerOverflowError):
        node.run("CINCR", "c")
    node.call("INCRBY", "ok", limits.int64_max)
    assert node.call("GET", "ok") == str(limits.int64_max)


@pytest.mark.parametrize("bad", [True, False, 1.0, 2.5, None, "3", b"3", [1]])
def test_integer_arguments_refuse_other_types(bad: Any) -> None:
    node = _node()
    node.call("PUT", "k", "1")
    assert_refused(node, NotIntegerError, "INCRBY", "k", bad)
    assert_refused(node, NotIntegerError, "CINCRBY", "k2", bad)
    assert_refused(node, NotIntegerError, "SETEX", "x", "v", bad)
    assert_refused(node, NotIntegerError, "LRANGE", "x", bad, -1)


@pytest.mark.parametrize("bad", [True, None, 1, 1.5, ["a"], {"a": 1}])
def test_keys_values_and_members_refuse_other_types(bad: Any) -> None:
    node = _node()
    assert_refused(node, BadRequestError, "PUT", bad, "v")
    assert_refused(node, BadRequestError, "PUT", "k", bad)
    assert_refused(node, BadRequestError, "MSET", "k", "v", "k2", bad)
    assert_refused(node, BadRequestError, "RPUSH", "k", "ok", bad)
    assert_refused(node, BadRequestError, "SADD", "k", bad)
    assert_refused(node, BadRequestError, "GET", bad)


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("GET", []),
        ("GET", ["a", "b"]),
        ("PUT", ["k"]),
        ("MSET", []),
        ("MSET", ["k"]),
        ("MSET", ["k", "v", "k2"]),
        ("RPUSH", ["k"]),
        ("SADD", ["k"]),
        ("DEL", []),
        ("SETEX", ["k", "v"]),
        ("SETEX", ["k", "v", 0]),
        ("SETEX", ["k", "v", -5]),
        ("LRANGE", []),
        ("LRANGE", ["k", 0, 1, 2]),
        ("KEYS", ["a", "b"]),
        ("TTL", []),
    ],
)
def test_malformed_requests(command: str, args: list[Any]) -> None:
    assert_refused(_node(), BadRequestError, command, *args)


def test_oversized_keys_and_values() -> None:
    node = _node()
    too_long_key = "k" * (limits.key_bytes_max + 1)
    assert_refused(node, TooLargeError, "PUT", too_long_key, "v")
    assert_refused(node, TooLargeError, "GET", too_long_key)
    assert_refused(node, TooLargeError, "PUT", "é" * (limits.key_bytes_max // 2 + 1), "v")
    node.call("PUT", "k" * limits.key_bytes_max, "v")  # exactly at the limit is fine
    big = "v" * (limits.value_bytes_max + 1)
    assert_refused(node, TooLargeError, "PUT", "k", big)
    assert_refused(node, TooLargeError, "PUT", "k", big.encode())
    assert_refused(node, TooLargeError, "MSET", "k", "ok", "k2", big)
    assert_refused(node, TooLargeError, "RPUSH", "k", big)
    assert_refused(node, TooLargeError, "SADD", "k", big)
    node.call("PUT", "edge", "v" * limits.value_bytes_max)
    assert_refused(node, TooLargeError, "MGET", *(["k"] * (limits.batch_keys_max + 1)))


def test_lone_surrogates_are_refused_as_bad_requests() -> None:
    # A str that is not valid UTF-8 can neither be logged nor sent on the wire.
    node = _node()
    assert_refused(node, BadRequestError, "PUT", "\ud800", "v")
    assert_refused(node, BadRequestError, "PUT", "k", "\udfff")
    assert_refused(node, BadRequestError, "RPUSH", "k", "\ud800")


def test_emptied_list_and_set_disappear() -> None:
    for keep in (True, False):
        node = SimNode("n", ManualClock(START), keep_tombstones=keep)
        node.call("RPUSH", "l", "a", "b")
        node.call("SADD", "s", "m1", "m2")
        assert node.call("LPOP", "l") == "a"
        assert node.call("RPOP", "l") == "b"
        assert node.call("SREM", "s", "m1", "m2", "other") == 2
        for key in ("l", "s"):
            assert node.call("EXISTS", key) is False
            assert node.call("TYPE", key) is None
            assert node.call("TTL", key) is None
        assert node.call("KEYS") == []
        assert node.call("LPOP", "l") is None
        assert node.call("LLEN", "l") == 0
        assert node.call("SCARD", "s") == 0
        if not keep:
            # A standalone node keeps nothing of an emptied key (a cluster
            # node keeps the removals as tombstones until they are stable).
            assert node.keyspace.memory_used == 0
            assert node.keyspace.key_count() == 0
        assert_memory_exact(node.keyspace)
        # And they come back as fresh values.
        assert node.call("RPUSH", "l", "c") == 1
        assert node.call("LRANGE", "l", 0, -1) == ["c"]


def test_ttl_rules() -> None:
    node = _node()
    assert node.call("TTL", "missing") is None
    node.call("PUT", "forever", "v")
    assert node.call("TTL", "forever") == -1
    node.call("SETEX", "k", "v", 10)
    assert node.call("TTL", "k") == 10
    node.clock.advance(2_500)
    assert node.call("TTL", "k") in (7, 8)
    assert node.call("INCR", "n") == 1
    node.call("SETEX", "n", "5", 100)
    assert node.call("INCR", "n") == 6  # INCR keeps the expiry
    assert node.call("TTL", "n") == 100
    node.call("PUT", "n", "1")  # PUT clears it
    assert node.call("TTL", "n") == -1
    node.clock.advance(7_500)
    assert node.call("TTL", "k") is None
    assert node.call("GET", "k") is None
    assert node.call("EXISTS", "k") is False
    assert "k" not in node.call("KEYS")
    node.call("RPUSH", "l", "x")
    assert node.call("TTL", "l") == -1


def test_setex_over_a_list_replaces_it() -> None:
    node = _node()
    node.call("RPUSH", "k", "x")
    node.call("SETEX", "k", "v", 5)
    assert node.call("TYPE", "k") == "string"
    node.clock.advance(5_000)
    assert node.call("EXISTS", "k") is False
    assert node.call("RPUSH", "k", "y") == 1  # the old element does not come back
    assert node.call("LRANGE", "k", 0, -1) == ["y"]


def test_replies() -> None:
    node = _node()
    assert node.call("MSET", "a", "1", "b", "2", "a", "3") == 3
    assert node.call("GET", "a") == "3"  # the later pair wins
    assert node.call("MGET", "a", "b", "c") == ["3", "2", None]
    assert node.call("MGET") == []
    assert node.call("MDEL", "a", "c", "a") == 1
    assert node.call("DEL", "b") == "2"
    assert node.call("DEL", "b") is None
    assert node.call("PUT", "e", "") is None
    assert node.call("GET", "e") == ""  # an empty string is a value, not missing
    assert node.call("EXISTS", "e") is True
    assert node.call("PUT", "nl", "a\nb") is None
    assert node.call("GET", "nl") == "a\nb"
    assert node.call("RPUSH", "l", "a\nb", "") == 2
    assert node.call("LRANGE", "l", 0, -1) == ["a\nb", ""]
    assert node.call("SADD", "s", "x", "x", "y") == 2
    assert node.call("SADD", "s", "x") == 0
    assert node.call("SISMEMBER", "s", "x") is True
    assert node.call("SISMEMBER", "s", "z") is False
    assert node.call("SREM", "s", "z") == 0
    assert node.call("SREM", "nothing", "z") == 0
    assert node.call("CGET", "nothing") == 0
    assert node.call("CDECR", "c") == -1
    assert node.call("CINCRBY", "c", 5) == 4
    assert node.call("LPOP", "nothing") is None


KEY_SET = [
    "a.b",
    "axb",
    "a+b",
    "aab",
    "(x)",
    "x",
    "user*",
    "user1",
    "h?llo",
    "hello",
    "hallo",
    "hbllo",
    "[abc]",
    "a\\b",
    "b",
    "c",
    "d",
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*", sorted(KEY_SET)),
        ("a.b", ["a.b"]),
        ("a+b", ["a+b"]),
        ("(x)", ["(x)"]),
        ("a?b", ["a+b", "a.b", "a\\b", "aab", "axb"]),
        ("h[ae]llo", ["hallo", "hello"]),
        ("h[^e]llo", ["h?llo", "hallo", "hbllo"]),
        ("h[a-b]llo", ["hallo", "hbllo"]),
        ("[a-c]", ["b", "c"]),
        ("[^a-c]", ["d", "x"]),
        ("user\\*", ["user*"]),
        ("user*", ["user*", "user1"]),
        ("h\\?llo", ["h?llo"]),
        ("\\[abc\\]", ["[abc]"]),
        ("a\\\\b", ["a\\b"]),
        ("nomatch*", []),
    ],
)
def test_keys_glob(pattern: str, expected: list[str]) -> None:
    node = _node()
    for key in KEY_SET:
        node.call("PUT", key, "v")
    assert node.call("KEYS", pattern) == expected


def test_databases_are_isolated() -> None:
    node = _node()
    node.call("PUT", "k", "default")
    node.call("PUT", "k", "one", db="db1")
    node.call("RPUSH", "l", "x", db="db1")
    assert node.call("GET", "k") == "default"
    assert node.call("GET", "k", db="db1") == "one"
    assert node.call("KEYS") == ["k"]
    assert node.call("KEYS", db="db1") == ["k", "l"]
    assert node.call("EXISTS", "l") is False
    node.call("DEL", "k", db="db1")
    assert node.call("GET", "k") == "default"
    assert node.call("GET", "k", db="db1") is None
    # A key containing NUL in the default database does not leak into a db.
    node.call("PUT", "db1\0k", "tricky")
    assert node.call("GET", "k", db="db1") is None
    assert node.call("GET", "db1\0k") == "tricky"
    assert "db1\0k" in node.call("KEYS")
    assert_memory_exact(node.keyspace)


def _engine() -> Engine:
    return trio.run(Engine.open, EngineConfig(persist=False, shard_count=4))


@pytest.mark.parametrize("command", ["NOPE", "", "get ", "FLUSHALL"])
def test_unknown_command_through_the_engine(command: str) -> None:
    engine = _engine()
    before = engine.statistics()
    with pytest.raises(UnknownCommandError):
        engine.submit(command, [])
    after = engine.statistics()
    assert (after.seq, after.events_total, after.last_offset) == (
        before.seq,
        before.events_total,
        before.last_offset,
    )


@pytest.mark.parametrize(
    ("db", "error"),
    [
        ("x" * (limits.database_name_bytes_max + 1), TooLargeError),
        ("a\0b", BadRequestError),
        (5, BadRequestError),
    ],
)
def test_bad_database_names_through_the_engine(db: Any, error: type[BoltError]) -> None:
    engine = _engine()
    with pytest.raises(error):
        engine.submit("PUT", ["k", "v"], db)
    assert engine.statistics().seq == 0


def test_engine_submit_reads_and_writes() -> None:
    engine = _engine()
    reply, offset = engine.submit("PUT", ["k", "v"])
    assert reply is None and offset == 0
    assert engine.submit("GET", ["k"]) == ("v", -1)
    assert engine.submit("GET", ("k",)) == ("v", -1)  # any sequence of arguments
    reply, offset = engine.submit("DEL", ["missing"])
    assert (reply, offset) == (None, 0)  # nothing written; it waits for what it read
    refused: Callable[[], Any] = lambda: engine.submit("INCR", ["k"])  # noqa: E731
    with pytest.raises(NotIntegerError):
        refused()
    assert engine.statistics().seq == 1


def test_keystate_fingerprints_change_with_every_write_a_reader_could_see() -> None:
    clock = ManualClock(1_700_000_000_000)
    node, peer = SimNode("n1", clock), SimNode("n2", clock)
    keys = ["s", "l", "h", "absent"]
    node.call("PUT", "s", "v")
    node.call("RPUSH", "l", "a")
    node.call("HSET", "h", "f", "1")
    first = node.call("KEYSTATE", *keys)
    assert first[3] == 0 and all(first[:3])
    assert node.call("KEYSTATE", *keys) == first  # reading changes nothing
    assert node.call("KEYSTATE", "s", db="db1") == [0]  # per database
    clock.advance(1)
    node.call("PUT", "s", "v")  # the same value, a newer write: another fingerprint
    node.call("RPUSH", "l", "b")
    peer.deliver(node.run("HSET", "h", "f", "2")[1])
    second = node.call("KEYSTATE", *keys)
    assert [a != b for a, b in zip(first, second, strict=True)] == [True, True, True, False]
    node.call("SETEX", "s", "v", 5)
    before = node.call("KEYSTATE", "s")
    clock.advance(5_000)  # expired: absent
    assert before != [0] and node.call("KEYSTATE", "s") == [0]
    with pytest.raises(BadRequestError):
        node.call("KEYSTATE")
