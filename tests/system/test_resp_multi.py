"""MULTI/EXEC/DISCARD on the RESP port: the same replies as a real redis-server
for fixed scripts (queueing, EXECABORT, errors at EXEC time, nesting), and no
other client's command runs inside an EXEC."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.system._resp_support import RedisServer, client, start_resp_daemon
from tests.system.conftest import DaemonFactory

pytestmark = pytest.mark.slow

SCRIPTS: list[list[list[Any]]] = [
    [["MULTI"], ["SET", "a", "1"], ["INCR", "a"], ["LPUSH", "a", "x"], ["GET", "a"], ["EXEC"]],
    [["MULTI"], ["SET", "a", "1"], ["NOSUCH"], ["EXEC"], ["GET", "a"]],
    [["MULTI"], ["SET", "a"], ["EXEC"], ["EXISTS", "a"]],
    [["MULTI"], ["MULTI"], ["SET", "a", "2"], ["EXEC"], ["GET", "a"]],
    [["EXEC"], ["DISCARD"], ["MULTI"], ["RPUSH", "l", "1", "2"], ["DISCARD"], ["LLEN", "l"]],
    [["MULTI"], ["HSET", "h", "f", "1"], ["HINCRBY", "h", "f", 2], ["HGETALL", "h"], ["EXEC"]],
    [["MULTI"], ["EXEC"]],
    [["MULTI"], ["RPUSH", "l", "a"], ["BLPOP", "l", "0"], ["BRPOP", "l", "0"], ["EXEC"]],
    # WATCH: a watched key written since (here by the same client) fails EXEC
    [["WATCH", "w"], ["SET", "w", "1"], ["MULTI"], ["GET", "w"], ["EXEC"], ["GET", "w"]],
    [["WATCH", "w", "v"], ["MULTI"], ["SET", "w", "2"], ["EXEC"], ["GET", "w"]],
    [["SET", "w", "x"], ["WATCH", "w"], ["SET", "w", "x"], ["MULTI"], ["DEL", "w"], ["EXEC"]],
    [["WATCH", "w"], ["DEL", "w"], ["MULTI"], ["SET", "w", "3"], ["EXEC"]],  # nothing to delete
    [["WATCH", "w"], ["SET", "w", "1"], ["UNWATCH"], ["MULTI"], ["INCR", "w"], ["EXEC"]],
    [["MULTI"], ["WATCH", "w"], ["SET", "w", "4"], ["EXEC"], ["GET", "w"]],
    [["WATCH"], ["WATCH", "w"], ["RPUSH", "w", "a"], ["DISCARD"], ["MULTI"], ["EXEC"]],
    [["WATCH", "w"], ["MULTI"], ["UNWATCH"], ["SET", "w", "5"], ["EXEC"], ["GET", "w"]],
]


def _run(conn: redis.Redis, command: list[Any]) -> Any:
    try:
        reply = conn.execute_command(*command)
    except redis.ResponseError as exc:
        return ("error", str(exc))
    if isinstance(reply, list):  # EXEC: errors come back as exception objects
        return [("error", str(r)) if isinstance(r, Exception) else r for r in reply]
    return reply


@pytest.fixture
def pair(bolt_daemon_factory: DaemonFactory, tmp_path: Path) -> Any:
    real = RedisServer(tmp_path / "redis")
    try:
        _, port = start_resp_daemon(bolt_daemon_factory)
        bolt_client = redis.Redis(port=port, socket_timeout=10)
        redis_client = redis.Redis(port=real.port, socket_timeout=10)
        yield bolt_client, redis_client, port
        bolt_client.close()
        redis_client.close()
    finally:
        real.stop()


@pytest.mark.parametrize("script", range(len(SCRIPTS)))
def test_transactions_answer_like_redis(pair: Any, script: int) -> None:
    bolt_client, redis_client, _ = pair
    for conn in (bolt_client, redis_client):
        conn.flushdb()
    for step, command in enumerate(SCRIPTS[script]):
        expected, got = _run(redis_client, command), _run(bolt_client, command)
        assert got == expected, f"step {step}: {command}: redis {expected!r}, bolt {got!r}"


def test_a_watched_key_written_by_another_client_fails_the_exec(pair: Any) -> None:
    bolt_client, _, port = pair
    other = redis.Redis(port=port, socket_timeout=10)
    try:
        bolt_client.set("balance", 10)
        with bolt_client.pipeline() as pipe:
            pipe.watch("balance")
            current = int(pipe.get("balance"))
            other.incrby("balance", 5)  # lands between the read and the EXEC
            pipe.multi()
            pipe.set("balance", current - 3)
            with pytest.raises(redis.WatchError):
                pipe.execute()
        assert bolt_client.get("balance") == b"15"  # the other write stands
        with bolt_client.pipeline() as pipe:  # the usual retry: nothing in between
            pipe.watch("balance")
            current = int(pipe.get("balance"))
            pipe.multi()
            pipe.set("balance", current - 3)
            assert pipe.execute() == [True]
        assert bolt_client.get("balance") == b"12"
    finally:
        other.close()


def test_no_other_command_runs_inside_an_exec(pair: Any) -> None:
    _, _, port = pair
    writer, other = client(port), client(port)
    stop = threading.Event()

    def interfere() -> None:
        while not stop.is_set():
            other.set("counter", "interfered")

    thread = threading.Thread(target=interfere, daemon=True)
    thread.start()
    try:
        for _ in range(50):
            pipe = writer.pipeline(transaction=True)
            pipe.set("counter", "0")
            for _ in range(20):
                pipe.incr("counter")
            replies = pipe.execute()
            assert replies[1:] == list(range(1, 21))  # nothing came between them
    finally:
        stop.set()
        thread.join(10)
        writer.close()
        other.close()
