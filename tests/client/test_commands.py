"""Every SDK method sends the right request and returns the reply as is."""

from __future__ import annotations

from typing import Any

import pytest

from bolt.client import BoltClient

from .toy_server import ToyServer

DATA = True  # the request carries the client's database
SERVER = False  # the request carries no database

# (method, call args, command, wire args, canned reply, database scoped?)
CASES: list[tuple[str, tuple[Any, ...], str, list[Any], Any, bool]] = [
    ("put", ("k", "v"), "PUT", ["k", "v"], None, DATA),
    ("put", ("k", b"\x00\xff"), "PUT", ["k", b"\x00\xff"], None, DATA),
    ("get", ("k",), "GET", ["k"], "v", DATA),
    ("get", ("k",), "GET", ["k"], b"raw", DATA),
    ("get", ("missing",), "GET", ["missing"], None, DATA),
    ("delete", ("k",), "DEL", ["k"], "old", DATA),
    ("delete", ("list",), "DEL", ["list"], True, DATA),
    ("setex", ("k", "v", 300), "SETEX", ["k", "v", 300], None, DATA),
    ("ttl", ("k",), "TTL", ["k"], 299, DATA),
    ("ttl", ("k",), "TTL", ["k"], -1, DATA),
    ("exists", ("k",), "EXISTS", ["k"], True, DATA),
    ("key_type", ("k",), "TYPE", ["k"], "crdt_counter", DATA),
    ("keys", (), "KEYS", ["*"], ["a", "b"], DATA),
    ("keys", ("user:*",), "KEYS", ["user:*"], [], DATA),
    ("mset", ({"a": "1", "b": b"2"},), "MSET", ["a", "1", "b", b"2"], 2, DATA),
    ("mget", (["a", "b", "c"],), "MGET", ["a", "b", "c"], ["1", None, "3"], DATA),
    ("mdel", (["a", "b"],), "MDEL", ["a", "b"], 1, DATA),
    ("incr", ("n",), "INCR", ["n"], 1, DATA),
    ("decr", ("n",), "DECR", ["n"], -1, DATA),
    ("incrby", ("n", 10), "INCRBY", ["n", 10], 11, DATA),
    ("decrby", ("n", 3), "DECRBY", ["n", 3], 8, DATA),
    ("cincr", ("c",), "CINCR", ["c"], 1, DATA),
    ("cdecr", ("c",), "CDECR", ["c"], 0, DATA),
    ("cincrby", ("c", -5), "CINCRBY", ["c", -5], -5, DATA),
    ("cget", ("c",), "CGET", ["c"], 0, DATA),
    ("lpush", ("l", "a", "b"), "LPUSH", ["l", "a", "b"], 2, DATA),
    ("rpush", ("l", "c"), "RPUSH", ["l", "c"], 3, DATA),
    ("lpop", ("l",), "LPOP", ["l"], "b", DATA),
    ("rpop", ("l",), "RPOP", ["l"], None, DATA),
    ("lrange", ("l",), "LRANGE", ["l", 0, -1], ["a", "c"], DATA),
    ("lrange", ("l", 1, 2), "LRANGE", ["l", 1, 2], ["c"], DATA),
    ("llen", ("l",), "LLEN", ["l"], 2, DATA),
    ("sadd", ("s", "x", "y"), "SADD", ["s", "x", "y"], 2, DATA),
    ("srem", ("s", "x"), "SREM", ["s", "x"], 1, DATA),
    ("smembers", ("s",), "SMEMBERS", ["s"], ["y"], DATA),
    ("scard", ("s",), "SCARD", ["s"], 1, DATA),
    ("sismember", ("s", "y"), "SISMEMBER", ["s", "y"], True, DATA),
    ("ping", (), "PING", [], "PONG", SERVER),
    ("stats", (), "STATS", [], {"keys": 3}, SERVER),
    ("metrics", (), "METRICS", [], "# HELP bolt_keys_total\n", SERVER),
    ("cluster_status", (), "CLUSTER", [], {"mode": "standalone"}, SERVER),
    ("auth", ("bob", "pw"), "AUTH", ["bob", "pw"], {"user": "bob", "role": "readonly"}, SERVER),
    ("useradd", ("bob", "pw"), "USERADD", ["bob", "pw", "readwrite"], None, SERVER),
    ("useradd", ("eve", "pw", "admin"), "USERADD", ["eve", "pw", "admin"], None, SERVER),
    ("userdel", ("bob",), "USERDEL", ["bob"], True, SERVER),
    ("users", (), "USERS", [], [{"name": "admin", "role": "admin"}], SERVER),
    ("passwd", ("bob", "new"), "PASSWD", ["bob", "new"], None, SERVER),
    ("set_role", ("bob", "readonly"), "ROLE", ["bob", "readonly"], None, SERVER),
    ("whoami", (), "WHOAMI", [], {"user": "admin", "role": "admin"}, SERVER),
]
CASE_IDS = [f"{case[0]}-{index}" for index, case in enumerate(CASES)]


@pytest.mark.parametrize(
    ("method", "call", "command", "wire", "reply", "scoped"), CASES, ids=CASE_IDS
)
def test_method_builds_request_and_returns_reply(
    server: ToyServer,
    method: str,
    call: tuple[Any, ...],
    command: str,
    wire: list[Any],
    reply: Any,
    scoped: bool,
) -> None:
    server.canned[command] = reply
    with BoltClient(port=server.port, database="main", timeout=5) as client:
        assert getattr(client, method)(*call) == reply
        if scoped:
            getattr(client, method)(*call, database="other")
    sent = [request for request in server.requests if request.command == command]
    assert sent[0].args == wire
    assert sent[0].db == ("main" if scoped else None)
    if scoped:
        assert sent[1].db == "other"


def test_default_database_is_none(server: ToyServer) -> None:
    with BoltClient(port=server.port, timeout=5) as client:
        client.put("k", "v")
    assert server.requests[-1].db is None


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("put", (1, "v")),
        ("put", ("k", 1)),
        ("put", ("k", None)),
        ("get", (b"k",)),
        ("setex", ("k", "v", "300")),
        ("incrby", ("k", 1.5)),
        ("incrby", ("k", True)),
        ("mget", ("abc",)),
        ("mset", (["a", "b"],)),
        ("lpush", ("k", 1)),
        ("sadd", ("k", ["a"])),
        ("lrange", ("k", "0")),
        ("keys", (None,)),
        ("auth", ("bob", None)),
    ],
)
def test_bad_argument_types_raise_before_sending(
    server: ToyServer, method: str, call: tuple[Any, ...]
) -> None:
    with BoltClient(port=server.port, timeout=5) as client:
        with pytest.raises(TypeError):
            getattr(client, method)(*call)
        assert client.ping() == "PONG"  # the connection is still in sync
    assert server.commands() == ["PING"]


def test_bytes_like_values_are_sent_as_bytes(server: ToyServer) -> None:
    with BoltClient(port=server.port, timeout=5) as client:
        client.put("k", bytearray(b"ab"))
        client.put("m", memoryview(b"cd"))
        assert client.get("k") == b"ab"
        assert client.get("m") == b"cd"


def test_execute_command_sends_anything(server: ToyServer) -> None:
    server.canned["TASK.CREATE"] = {"id": "t1"}
    with BoltClient(port=server.port, database="main", timeout=5) as client:
        assert client.execute_command("TASK.CREATE", "research", {"q": 1}) == {"id": "t1"}
    assert server.requests[-1].args == ["research", {"q": 1}]
    assert server.requests[-1].db == "main"
