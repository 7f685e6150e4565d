"""BLPOP/BRPOP against the real daemon, on the RESP port and the Bolt port:
wake-up by a push from another client, timeouts, fairness (first waiter
first), exactly-once delivery, and a client that disconnects while blocked."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
import redis

from bolt.errors import WrongTypeError
from tests.system._resp_support import client, start_resp_daemon
from tests.system.conftest import DaemonFactory

pytestmark = pytest.mark.slow


@pytest.fixture
def resp(bolt_daemon_factory: DaemonFactory) -> Any:
    daemon, port = start_resp_daemon(bolt_daemon_factory)
    return daemon, port


def _in_thread(target: Any, *args: Any) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(target(*args)), daemon=True)
    thread.start()
    return thread, result


def _blocked_count(port: int, expected: int, timeout: float = 10) -> None:
    """Wait until ``expected`` clients are blocked (CLIENT LIST shows their command)."""
    probe = client(port)
    deadline = time.monotonic() + timeout
    try:
        while True:
            listing = probe.execute_command("CLIENT", "LIST")
            text = listing if isinstance(listing, str) else listing.decode()
            lines = [
                line
                for line in text.splitlines()
                if "cmd=blpop" in line.lower() or "cmd=brpop" in line.lower()
            ]
            if len(lines) >= expected:
                return
            assert time.monotonic() < deadline, text
            time.sleep(0.02)
    finally:
        probe.close()


def test_resp_blpop_is_woken_by_a_push_and_times_out(resp: Any) -> None:
    _, port = resp
    waiter, pusher = client(port), client(port, "python-resp3")
    try:
        started = time.monotonic()
        assert waiter.blpop(["empty"], timeout=0.3) is None
        elapsed = time.monotonic() - started
        assert 0.29 <= elapsed < 2.0, elapsed

        thread, result = _in_thread(waiter.blpop, ["q1", "q2"], 0)
        time.sleep(0.2)
        assert not result  # still blocked
        pusher.rpush("q2", "job")
        thread.join(10)
        assert result in ([(b"q2", b"job")], [[b"q2", b"job"]])
        assert pusher.llen("q2") == 0

        pusher.rpush("q1", "a", "b", "c")
        assert waiter.brpop(["q1"], timeout=1) in ((b"q1", b"c"), [b"q1", b"c"])
        assert waiter.blpop(["q1"], timeout=1) in ((b"q1", b"a"), [b"q1", b"a"])
        pusher.set("s", "v")
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            waiter.blpop(["s"], timeout=1)
        with pytest.raises(redis.ResponseError, match="timeout is negative"):
            waiter.blpop(["q1"], timeout=-1)
        with pytest.raises(redis.ResponseError, match="not a float"):
            waiter.execute_command("BLPOP", "q1", "soon")
        assert waiter.ping() is True
    finally:
        waiter.close()
        pusher.close()


def test_first_waiter_first_and_each_element_to_exactly_one(resp: Any) -> None:
    _, port = resp
    clients = [client(port) for _ in range(5)]
    pusher = client(port)
    try:
        threads = []
        for index, waiter in enumerate(clients):
            threads.append(_in_thread(waiter.blpop, ["jobs"], 4))
            _blocked_count(port, index + 1)  # queued strictly in this order
        for n in range(3):
            pusher.rpush("jobs", f"job{n}")
        for thread, _ in threads:
            thread.join(15)
        got = [result[0] for _, result in threads]
        # The three oldest waiters got one element each, in push order; the
        # other two timed out with nothing; nothing was popped twice.
        assert [None if g is None else g[1] for g in got] == [
            b"job0",
            b"job1",
            b"job2",
            None,
            None,
        ]
        assert pusher.llen("jobs") == 0
    finally:
        for c in [*clients, pusher]:
            c.close()


def test_a_client_that_disconnects_while_blocked_takes_nothing(resp: Any) -> None:
    _, port = resp
    raw = socket.create_connection(("127.0.0.1", port))
    raw.sendall(b"*3\r\n$5\r\nBLPOP\r\n$4\r\ngone\r\n$1\r\n0\r\n")
    _blocked_count(port, 1)
    raw.close()
    probe = client(port)
    try:
        deadline = time.monotonic() + 10
        while True:  # the daemon notices the disconnect and forgets the waiter
            listing = probe.execute_command("CLIENT", "LIST")
            text = listing if isinstance(listing, str) else listing.decode()
            if "cmd=blpop" not in text.lower():
                break
            assert time.monotonic() < deadline, text
            time.sleep(0.02)
        probe.rpush("gone", "kept")
        time.sleep(0.3)
        assert probe.lrange("gone", 0, -1) == [b"kept"]
        # A later waiter gets it.
        assert probe.blpop(["gone"], timeout=2) in ((b"gone", b"kept"), [b"gone", b"kept"])
    finally:
        probe.close()


def test_bolt_sdk_blpop_and_brpop(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory()
    with daemon.client() as waiter, daemon.client() as pusher:
        started = time.monotonic()
        assert waiter.blpop("nothing", timeout=0.25) is None
        assert 0.24 <= time.monotonic() - started < 2.0

        thread, result = _in_thread(waiter.blpop, ["a", "b"], 5)
        time.sleep(0.2)
        pusher.rpush("b", "x", "y")
        thread.join(10)
        assert result == [["b", "x"]]
        assert waiter.brpop("b", timeout=1) == ["b", "y"]
        pusher.rpush("other", "z", database="db2")
        assert waiter.blpop("other", timeout=1, database="db2") == ["other", "z"]
        pusher.put("s", "v")
        with pytest.raises(WrongTypeError):
            waiter.blpop("s", timeout=1)
        with pytest.raises(TypeError):
            waiter.blpop("a", timeout=-1)
        assert waiter.ping() == "PONG"
