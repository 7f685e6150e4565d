"""redis-cli against the real daemon, the Bolt port's answer to a Redis client,
and garbage on the RESP port."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable

import pytest
import redis

from bolt.testing import BoltDaemon
from tests.system._resp_support import os_tool, start_resp_daemon

pytestmark = pytest.mark.slow

DaemonFactory = Callable[..., BoltDaemon]


def redis_cli(port: int, *args: str, stdin: str | None = None) -> str:
    binary = os_tool("redis-cli")
    result = subprocess.run(
        [binary, "-p", str(port), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.stdout + result.stderr


@pytest.fixture
def node(bolt_daemon_factory: DaemonFactory) -> tuple[BoltDaemon, int]:
    return start_resp_daemon(bolt_daemon_factory)


def test_redis_cli_commands(node: tuple[BoltDaemon, int]) -> None:
    _, port = node
    assert redis_cli(port, "PING").strip() == "PONG"
    assert redis_cli(port, "SET", "greeting", "hello world").strip() == "OK"
    assert redis_cli(port, "GET", "greeting").strip() == "hello world"
    assert redis_cli(port, "RPUSH", "jobs", "a", "b").strip() == "2"
    assert redis_cli(port, "LRANGE", "jobs", "0", "-1").split() == ["a", "b"]
    assert redis_cli(port, "INCRBY", "n", "5").strip() == "5"
    assert redis_cli(port, "-n", "2", "SET", "k", "in two").strip() == "OK"
    assert redis_cli(port, "-n", "2", "DBSIZE").strip() == "1"
    assert "unknown command 'FROB'" in redis_cli(port, "FROB", "x")
    assert "redis_version:" in redis_cli(port, "INFO", "server")


def test_redis_cli_interactive_session_and_hints(node: tuple[BoltDaemon, int]) -> None:
    _, port = node
    # Interactive redis-cli asks COMMAND DOCS first; lines are sent as RESP arrays.
    out = redis_cli(port, stdin="SET a 1\nINCR a\nGET a\nNOPE\nGET a\n")
    assert out.split("\n")[:3] == ["OK", "2", "2"]
    assert "unknown command 'NOPE'" in out
    assert out.rstrip().endswith("2")


def test_inline_commands_over_a_raw_socket(node: tuple[BoltDaemon, int]) -> None:
    _, port = node
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"SET quoted \"two words\\n\"\r\nGET quoted\r\n\r\nECHO 'it is'\r\n")
        reply = b""
        while not reply.endswith(b"$5\r\nit is\r\n"):
            reply += raw.recv(4096)
    assert reply == b"+OK\r\n$10\r\ntwo words\n\r\n$5\r\nit is\r\n"


def test_bolt_port_tells_a_redis_client_where_to_go(node: tuple[BoltDaemon, int]) -> None:
    daemon, port = node
    out = redis_cli(daemon.port, "PING")
    assert (
        f"ERR this is Bolt's own protocol port; Redis clients (RESP) connect to port {port}" in out
    )
    with pytest.raises(redis.ResponseError, match=f"connect to port {port}"):
        redis.Redis(port=daemon.port, socket_timeout=5).get("k")
    # The server carries on for Bolt clients.
    with daemon.client() as bolt:
        bolt.put("still", "fine")
        assert bolt.get("still") == "fine"


def test_bolt_port_without_resp_names_the_setting(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory()
    with socket.create_connection((daemon.host, daemon.port), timeout=10) as raw:
        raw.sendall(b"*1\r\n$4\r\nPING\r\n")
        reply = raw.recv(4096)
    assert reply.startswith(b"-ERR this is Bolt's own protocol port")
    assert b"BOLT_RESP_PORT" in reply and reply.endswith(b"\r\n") and reply.count(b"\r\n") == 1


@pytest.mark.parametrize(
    ("garbage", "error"),
    [
        (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n+PING\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n"),
        (b"*2000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n$999999999999\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"x" * 70_000, b"-ERR Protocol error: too big inline request\r\n"),
        (b'SET a "unbalanced\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    ],
)
def test_garbage_closes_only_that_connection(
    node: tuple[BoltDaemon, int], garbage: bytes, error: bytes
) -> None:
    _, port = node
    healthy = redis.Redis(port=port, socket_timeout=10)
    healthy.set("before", "1")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"PING\r\n" + garbage)
        reply = b""
        while True:
            chunk = raw.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply == b"+PONG\r\n" + error
    assert healthy.get("before") == b"1"


def test_sigterm_with_redis_clients_connected_stops_cleanly(
    node: tuple[BoltDaemon, int],
) -> None:
    daemon, port = node
    idle = redis.Redis(port=port, socket_timeout=10)
    idle.set("kept", "yes")
    busy = socket.create_connection(("127.0.0.1", port), timeout=10)
    busy.sendall(b"PING\r\n")
    assert busy.recv(100) == b"+PONG\r\n"
    assert daemon.terminate(timeout=15) == 0
    assert busy.recv(100) == b""  # closed politely, not left hanging
    busy.close()
    assert "stopped cleanly" in daemon.stderr_text()
