"""Every kind of bad input against the real daemon: a clear typed error, nothing changed.

Request-level mistakes (wrong types, bad integers, overflow, oversized keys
and values, unknown commands, wrong arity) get an error reply with the
request's id and a stable code; the connection carries on and the log does
not move (``STATS wal.last_offset`` is unchanged: nothing was written).
Byte-level garbage (bad length prefixes, undecodable msgpack, truncated
frames, frames that are not requests) closes that one connection after an
error with id 0. In every case a *witness* client connected since before
stays served and its acknowledged data stays intact, also across a restart.

The SDK checks types before sending, so wrong types are sent with a raw
wire connection built on :mod:`bolt.wire`.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

from bolt import limits
from bolt.client import BoltClient
from bolt.errors import (
    IntegerOverflowError,
    NotIntegerError,
    TooLargeError,
    UnknownCommandError,
    WrongTypeError,
)
from bolt.testing import BoltDaemon
from bolt.wire import ErrorReply, Response, encode_request
from tests.system._support import RawConnection

MAX_INT64 = 2**63 - 1


def frame(obj: Any) -> bytes:
    payload = msgpack.packb(obj, use_bin_type=True)
    return struct.pack("<I", len(payload)) + payload


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoltDaemon]:
    with BoltDaemon.start(tmp_path_factory.mktemp("bad-input") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def witness(daemon: BoltDaemon) -> Iterator[BoltClient]:
    """A client connected before any bad input, holding acknowledged data."""
    client = daemon.client(client_name="witness")
    client.put("w:string", "kept")
    client.rpush("w:list", "a", "b")
    client.incrby("w:counter", 7)
    yield client
    client.close()


def assert_witness_intact(witness: BoltClient) -> None:
    """The old connection is still served and every acknowledged write is there."""
    assert witness.ping() == "PONG"
    assert witness.get("w:string") == "kept"
    assert witness.lrange("w:list") == ["a", "b"]
    assert witness.get("w:counter") == "7"


def last_offset(client: BoltClient) -> int:
    return int(client.stats()["wal"]["last_offset"])


@pytest.fixture
def raw(daemon: BoltDaemon) -> Iterator[RawConnection]:
    connection = RawConnection(daemon)
    yield connection
    connection.close()


REQUEST_ERRORS = [
    # wrong types
    ("PUT", [1, "v"], None, "BAD_REQUEST"),
    ("PUT", [{"a": 1}, "v"], None, "BAD_REQUEST"),
    ("PUT", [["a"], "v"], None, "BAD_REQUEST"),
    ("PUT", ["k", 1.5], None, "BAD_REQUEST"),
    ("PUT", ["k", None], None, "BAD_REQUEST"),
    ("MGET", [1, 2], None, "BAD_REQUEST"),
    ("KEYS", [5], None, "BAD_REQUEST"),
    ("SADD", ["s", {"m": 1}], None, "BAD_REQUEST"),
    # wrong arity
    ("PUT", ["k"], None, "BAD_REQUEST"),
    ("GET", ["k", "extra"], None, "BAD_REQUEST"),
    ("TTL", [], None, "BAD_REQUEST"),
    ("MSET", ["odd"], None, "BAD_REQUEST"),
    ("SADD", ["s"], None, "BAD_REQUEST"),
    # bad integers
    ("INCRBY", ["n", "x"], None, "NOT_INTEGER"),
    ("INCRBY", ["n", True], None, "NOT_INTEGER"),
    ("INCRBY", ["n", 1.0], None, "NOT_INTEGER"),
    ("SETEX", ["k", "v", "10"], None, "NOT_INTEGER"),
    ("SETEX", ["k", "v", 0], None, "BAD_REQUEST"),
    ("SETEX", ["k", "v", -5], None, "BAD_REQUEST"),
    ("LRANGE", ["l", "0", "-1"], None, "NOT_INTEGER"),
    # integers out of range
    ("INCRBY", ["n", 2**63], None, "OVERFLOW"),
    ("INCRBY", ["n", 2**64 - 1], None, "OVERFLOW"),
    ("CINCRBY", ["c", 2**63], None, "OVERFLOW"),
    # sizes
    ("PUT", ["x" * (limits.key_bytes_max + 1), "v"], None, "TOO_LARGE"),
    ("PUT", ["k", "x" * (limits.value_bytes_max + 1)], None, "TOO_LARGE"),
    ("PUT", ["k", b"x" * (limits.value_bytes_max + 1)], None, "TOO_LARGE"),
    ("RPUSH", ["l", "ok", "y" * (limits.value_bytes_max + 1)], None, "TOO_LARGE"),
    ("PUT", ["k", "v"], "d" * (limits.database_name_bytes_max + 1), "TOO_LARGE"),
    ("PUT", ["k", "v"], "a\0b", "BAD_REQUEST"),
    # unknown commands (names are case-sensitive)
    ("NOPE", [], None, "UNKNOWN_COMMAND"),
    ("get", ["k"], None, "UNKNOWN_COMMAND"),
    ("", [], None, "UNKNOWN_COMMAND"),
    # server commands
    ("HELLO", ["1"], None, "BAD_REQUEST"),
    ("AUTH", ["only-user"], None, "BAD_REQUEST"),
    ("USERADD", ["bob", "pw", "superuser"], None, "BAD_REQUEST"),
    ("USERADD", ["", "pw", "readonly"], None, "BAD_REQUEST"),
    ("PASSWD", ["nobody", "pw"], None, "NOT_FOUND"),
    ("DIGEST", [None, -1], None, "BAD_REQUEST"),
    ("DIGEST", [None, "1700000000000"], None, "BAD_REQUEST"),
    ("DIGEST", [None, True], None, "BAD_REQUEST"),
    ("DIGEST", [None, 1, 2], None, "BAD_REQUEST"),
]


@pytest.mark.parametrize(
    ("command", "args", "db", "error"),
    REQUEST_ERRORS,
    ids=[f"{c}-{e}-{i}" for i, (c, _, _, e) in enumerate(REQUEST_ERRORS)],
)
def test_bad_request_gets_typed_error_and_changes_nothing(
    raw: RawConnection,
    witness: BoltClient,
    command: str,
    args: list[Any],
    db: str | None,
    error: str,
) -> None:
    before = last_offset(witness)
    reply = raw.call(command, args, db)
    assert isinstance(reply, ErrorReply), reply
    assert reply.name == error, reply
    assert reply.message  # a human-readable reason
    assert raw.call("PING", []) == Response(raw.next_id - 1, "PONG")  # same connection goes on
    assert last_offset(witness) == before  # nothing was logged
    assert_witness_intact(witness)


def test_type_errors_leave_the_value_unchanged(witness: BoltClient) -> None:
    witness.put("t:string", "abc")
    witness.put("t:big", str(MAX_INT64))
    witness.rpush("t:list", "x")
    with pytest.raises(NotIntegerError):
        witness.incr("t:string")
    with pytest.raises(IntegerOverflowError):
        witness.incr("t:big")
    with pytest.raises(IntegerOverflowError):
        witness.decrby("t:big", -1)
    with pytest.raises(WrongTypeError):
        witness.lpush("t:string", "y")
    with pytest.raises(WrongTypeError):
        witness.incr("t:list")
    with pytest.raises(WrongTypeError):
        witness.sadd("t:list", "m")
    with pytest.raises(TooLargeError):
        witness.put("t:string", "x" * (limits.value_bytes_max + 1))
    assert witness.get("t:string") == "abc"
    assert witness.get("t:big") == str(MAX_INT64)
    assert witness.lrange("t:list") == ["x"]
    assert_witness_intact(witness)


def test_a_digest_judges_expiry_at_the_instant_asked(witness: BoltClient) -> None:
    witness.setex("d:ttl", "v", 30)
    now = int(time.time() * 1000)
    assert witness.digest(at_ms=now) == witness.digest(at_ms=now + 5_000)
    later = witness.digest(at_ms=now + 31_000)  # the key has expired by then
    assert later["keys"] == witness.digest(at_ms=now)["keys"] - 1
    assert later["digest"] != witness.digest()["digest"]
    with pytest.raises(TypeError):
        witness.digest(at_ms="soon")  # type: ignore[arg-type]


def test_unknown_command_through_the_sdk_is_answered(witness: BoltClient) -> None:
    with pytest.raises(UnknownCommandError):
        witness.execute_command("FLUSHALL")
    assert_witness_intact(witness)


GARBAGE = [
    pytest.param(b"GET key\r\n", id="text-protocol"),
    pytest.param(b"\x00\x00\x00\x00", id="zero-length-frame"),
    pytest.param(struct.pack("<I", limits.frame_bytes_max + 1), id="oversized-prefix"),
    pytest.param(b"\xff\xff\xff\xff" + b"x" * 100, id="huge-prefix"),
    pytest.param(b"\x05\x00\x00\x00\xc1\xc1\xc1\xc1\xc1", id="undecodable-msgpack"),
    pytest.param(frame({"not": "an array"}), id="not-an-array"),
    pytest.param(frame([9, 1, "PING", [], None]), id="unknown-kind"),
    pytest.param(frame([1, -1, "PING", [], None]), id="negative-id"),
    pytest.param(frame([1, 1, "PING", "not-a-list", None]), id="args-not-a-list"),
    pytest.param(frame([1, 1, "PING", [], 5]), id="db-not-a-string"),
    pytest.param(frame([2, 1, "a response"]), id="response-from-client"),
    pytest.param(frame([4, "topic", "a push"]), id="push-from-client"),
    pytest.param(frame([1, 1, "PING", []]) + b"trailing", id="short-request"),
    pytest.param(b"\x03\x00\x00\x00\x93\x01\x01", id="payload-shorter-than-array"),
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_closes_only_that_connection(
    daemon: BoltDaemon, witness: BoltClient, garbage: bytes
) -> None:
    before = last_offset(witness)
    connection = RawConnection(daemon)
    connection.send(garbage)
    last = connection.read()
    assert isinstance(last, ErrorReply), last
    assert (last.id, last.name) == (0, "PROTOCOL_ERROR")
    assert connection.read() is None  # then the server closes it
    connection.close()
    assert last_offset(witness) == before
    assert_witness_intact(witness)


def test_garbage_before_hello_and_random_bytes(daemon: BoltDaemon, witness: BoltClient) -> None:
    rng_bytes = [os.urandom(n) for n in (1, 3, 4, 5, 17, 64, 1000, 70_000)]
    for blob in rng_bytes:
        connection = RawConnection(daemon, hello=False)
        connection.send(blob)
        connection.sock.shutdown(socket.SHUT_WR)
        # Either an id-0 error and EOF, or EOF at once (an incomplete frame).
        message = connection.read()
        assert message is None or (isinstance(message, ErrorReply) and message.id == 0)
        assert connection.read() is None
        connection.close()
    assert_witness_intact(witness)


def test_truncated_frame_then_close(daemon: BoltDaemon, witness: BoltClient) -> None:
    request = encode_request(1, "PUT", ["t:truncated", "never"], None)
    for cut in (1, 3, 4, 5, len(request) - 1):
        connection = RawConnection(daemon)
        connection.send(request[:cut])
        connection.close()
    connection = RawConnection(daemon)
    assert connection.call("GET", ["t:truncated"]) == Response(2, None)
    connection.close()
    assert_witness_intact(witness)
    daemon.wait_for_stderr("in the middle of a frame")


def test_pipelined_good_requests_before_garbage_are_not_lost(
    daemon: BoltDaemon, witness: BoltClient
) -> None:
    connection = RawConnection(daemon)
    connection.send(encode_request(10, "PUT", ["t:before-garbage", "acked"], None))
    assert connection.read() == Response(10, None)
    connection.send(b"\xc1" * 64)
    last = connection.read()
    assert isinstance(last, ErrorReply) and last.id == 0
    assert connection.read() is None
    connection.close()
    assert witness.get("t:before-garbage") == "acked"
    assert_witness_intact(witness)


def test_protocol_errors_are_logged_with_the_peer(daemon: BoltDaemon) -> None:
    connection = RawConnection(daemon)
    port = connection.sock.getsockname()[1]
    connection.send(b"\x00\x00\x00\x00")
    assert isinstance(connection.read(), ErrorReply)
    connection.close()
    daemon.wait_for_stderr(rf"127\.0\.0\.1:{port}\b.*frame of length 0")


def test_wrong_protocol_version_is_refused_and_closed(daemon: BoltDaemon) -> None:
    connection = RawConnection(daemon, hello=False)
    reply = connection.call("HELLO", [2, {}])
    assert isinstance(reply, ErrorReply)
    assert reply.name == "PROTOCOL_ERROR"
    assert "protocol version 2" in reply.message
    assert connection.read() is None
    connection.close()


def test_acknowledged_data_survives_bad_input_and_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with BoltDaemon.start(data_dir) as first:
        with first.client() as client:
            client.put("keep", "me")
            client.sadd("set", "a", "b")
        for blob in (b"\xff" * 8, b"\x00" * 4, frame([2, 1, None])):
            connection = RawConnection(first)
            connection.send(blob)
            assert isinstance(connection.read(), ErrorReply)
            connection.close()
        assert first.terminate() == 0
    with BoltDaemon.start(data_dir) as second, second.client() as client:
        assert client.get("keep") == "me"
        assert sorted(client.smembers("set")) == ["a", "b"]
