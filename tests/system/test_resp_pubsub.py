"""Node-local pub/sub on the real daemon's RESP port, with redis-py."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from bolt.testing import BoltDaemon
from tests.system._resp_support import client, start_resp_daemon

pytestmark = pytest.mark.slow


@pytest.fixture
def port(bolt_daemon_factory: Callable[..., BoltDaemon]) -> int:
    return start_resp_daemon(bolt_daemon_factory)[1]


def next_message(pubsub: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=1)
        if message is not None and message["type"] in ("message", "pmessage"):
            return message
    raise AssertionError("no message arrived")


@pytest.mark.parametrize("parser", ["python-resp2", "hiredis-resp3"])
def test_publish_reaches_channel_and_pattern_subscribers(port: int, parser: str) -> None:
    subscriber = client(port, parser).pubsub()
    subscriber.subscribe("news")
    subscriber.psubscribe("agent:*")
    publisher = client(port)
    deadline = time.monotonic() + 5
    while publisher.publish("news", "hello") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)  # until the subscription is in place
    assert next_message(subscriber)["data"] == b"hello"
    assert publisher.publish("agent:7", "task done") == 1
    message = next_message(subscriber)
    assert message["type"] == "pmessage"
    assert (message["pattern"], message["channel"], message["data"]) == (
        b"agent:*",
        b"agent:7",
        b"task done",
    )
    assert publisher.publish("nobody-listens", "x") == 0
    subscriber.unsubscribe("news")
    subscriber.punsubscribe()
    time.sleep(0.1)
    assert publisher.publish("news", "gone") == 0
    subscriber.close()


def test_subscribed_resp2_session_may_only_subscribe_and_ping(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"SUBSCRIBE a b\r\nGET k\r\nPING\r\nUNSUBSCRIBE\r\nGET k\r\n")
        expected = (
            b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
            b"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"
            b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT"
            b" / RESET are allowed in this context\r\n"
            b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
            b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n"
            b"*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n"
            b"$-1\r\n"
        )
        reply = b""
        while len(reply) < len(expected):
            chunk = raw.recv(4096)
            assert chunk, reply
            reply += chunk
    assert reply == expected


def test_a_subscriber_that_never_reads_is_dropped(port: int) -> None:
    slow = socket.create_connection(("127.0.0.1", port), timeout=10)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(b"SUBSCRIBE firehose\r\n")
    time.sleep(0.2)
    publisher = client(port)
    payload = "x" * 10_000
    delivered = [publisher.publish("firehose", payload) for _ in range(3000)]
    assert delivered[0] == 1 and delivered[-1] == 0  # dropped once its outbox filled
    assert publisher.ping() is True  # the publisher never waited
    slow.close()
