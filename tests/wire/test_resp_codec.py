"""Properties and edge cases of the sans-IO RESP codec (bolt.wire._resp)."""

from __future__ import annotations

from typing import Any

import hiredis
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bolt.errors import ProtocolError, WrongProtocolError
from bolt.wire import Codec
from bolt.wire._resp import (
    RESP_ARGUMENTS_MAX,
    RESP_INLINE_BYTES_MAX,
    RespCodec,
    RespError,
    Status,
    encode_command,
    encode_reply,
    split_inline,
    wrong_port_line,
)

commands = st.lists(st.lists(st.binary(max_size=40), min_size=1, max_size=6), max_size=8)


def feed(codec: RespCodec, data: bytes, cuts: list[int]) -> list[list[bytes]]:
    out: list[list[bytes]] = []
    start = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        codec.receive_data(data[start:cut])
        out.extend(codec.next_commands())
        start = cut
    return out


@given(commands, st.lists(st.integers(0, 2000), max_size=6))
def test_arrays_round_trip_cut_anywhere(batch: list[list[bytes]], cuts: list[int]) -> None:
    data = b"".join(encode_command(c) for c in batch)
    codec = RespCodec()
    assert feed(codec, data, [c % (len(data) + 1) for c in cuts]) == batch
    assert codec.buffered_bytes == 0


words = st.binary(min_size=1, max_size=10).filter(
    lambda w: not any(c in w for c in b" \t\r\n\v\f\"'")
)
lines = st.lists(words, min_size=1, max_size=5).filter(lambda c: not c[0].startswith(b"*"))


@given(st.lists(lines, max_size=5))
def test_inline_commands(batch: list[list[bytes]]) -> None:
    data = b"".join(b" ".join(c) + b"\r\n" for c in batch)
    assert feed(RespCodec(), data, []) == batch


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'SET k "a b"', [b"SET", b"k", b"a b"]),
        (b"SET k 'it is'", [b"SET", b"k", b"it is"]),
        (b'ECHO "tab\\there\\x41"', [b"ECHO", b"tab\there\x41"]),
        (b"  PING   ", [b"PING"]),
        (b'SET k "open', None),
        (b'SET k "a"b', None),
    ],
)
def test_inline_quoting_like_sdssplitargs(line: bytes, expected: list[bytes] | None) -> None:
    assert split_inline(line) == expected


def test_empty_lines_and_null_arrays_are_skipped() -> None:
    codec = RespCodec()
    codec.receive_data(b"\r\n*-1\r\n*0\r\nPING\n")
    assert codec.next_commands() == [[b"PING"]]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"*x\r\n", "invalid multibulk length"),
        (b"*%d\r\n" % (RESP_ARGUMENTS_MAX + 1), "invalid multibulk length"),
        (b"*1\r\n$-1\r\n", "invalid bulk length"),
        (b"*1\r\n$1x\r\n", "invalid bulk length"),
        (b"*1\r\n:1\r\n", "expected '$', got ':'"),
        (b"*1\r\n$1\r\nab\r\n", "bulk string not followed by CRLF"),
        (b"x" * (RESP_INLINE_BYTES_MAX + 1), "too big inline request"),
        (b"*" + b"1" * (RESP_INLINE_BYTES_MAX + 1), "too big inline request"),
    ],
)
def test_bad_bytes_fail_the_codec_for_good(data: bytes, message: str) -> None:
    codec = RespCodec()
    codec.receive_data(data)
    with pytest.raises(ProtocolError) as caught:
        codec.next_commands()
    assert caught.value.message == f"Protocol error: {message}"
    with pytest.raises(ProtocolError):
        codec.receive_data(b"PING\r\n")
    with pytest.raises(ProtocolError):
        codec.next_commands()


def test_bulk_length_is_checked_before_the_payload_arrives() -> None:
    codec = RespCodec(max_frame_bytes=1000)
    codec.receive_data(b"*1\r\n$1001\r\n")  # no payload sent yet
    with pytest.raises(ProtocolError, match="invalid bulk length"):
        codec.next_commands()
    total = RespCodec(max_frame_bytes=1000)
    total.receive_data(b"*2\r\n$600\r\n" + b"a" * 600 + b"\r\n$600\r\n")
    with pytest.raises(ProtocolError, match="larger than 1000 bytes"):
        total.next_commands()


def test_commands_before_bad_bytes_are_returned_first() -> None:
    codec = RespCodec()
    codec.receive_data(encode_command([b"PING"]) + b"*1\r\n+x\r\n")
    assert codec.next_commands() == [[b"PING"]]
    assert codec.failure == "Protocol error: expected '$', got '+'"
    with pytest.raises(ProtocolError):
        codec.next_commands()


@given(st.binary(max_size=300))
def test_garbage_raises_only_protocol_errors(data: bytes) -> None:
    codec = RespCodec(max_frame_bytes=100)
    try:
        codec.receive_data(data)
        codec.next_commands()
    except ProtocolError:
        pass


# --- replies ------------------------------------------------------------------------

replies = st.recursive(
    st.none() | st.integers(-(2**63), 2**63 - 1) | st.binary(max_size=20) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4),
    max_leaves=15,
)


def parse(data: bytes, protocol: int) -> Any:
    reader = hiredis.Reader()
    reader.feed(data)
    value = reader.gets()
    assert reader.gets() is False  # exactly one reply
    return value


def _plain(value: Any) -> Any:
    if type(value) is str:
        return value.encode()
    if type(value) is list:
        return [_plain(v) for v in value]
    return value


@given(replies, st.sampled_from([2, 3]))
def test_replies_parse_back_with_hiredis(value: Any, protocol: int) -> None:
    assert parse(encode_reply(value, protocol), protocol) == _plain(value)


def test_reply_shapes() -> None:
    assert encode_reply(None, 2) == b"$-1\r\n"
    assert encode_reply(None, 3) == b"_\r\n"
    assert encode_reply(True, 2) == b":1\r\n"
    assert encode_reply(False, 3) == b"#f\r\n"
    assert encode_reply({"a": 1}, 2) == b"*2\r\n$1\r\na\r\n:1\r\n"
    assert encode_reply({"a": 1}, 3) == b"%1\r\n$1\r\na\r\n:1\r\n"
    assert encode_reply({b"m"}, 3) == b"~1\r\n$1\r\nm\r\n"
    assert encode_reply(Status("OK")) == b"+OK\r\n"
    assert encode_reply(RespError("ERR two\r\nlines")) == b"-ERR two  lines\r\n"
    with pytest.raises(TypeError):
        encode_reply(object())


# --- the Bolt codec meets a Redis client ----------------------------------------------


@pytest.mark.parametrize("first", [encode_command([b"PING"]), b"PING\r\n", b"*3\r\n$3\r\nSET"])
def test_bolt_codec_recognises_a_redis_client(first: bytes) -> None:
    codec = Codec(server_side=True)
    with pytest.raises(WrongProtocolError):
        codec.receive_data(first)
    with pytest.raises(ProtocolError):
        codec.next_messages()
    # A client's codec reading a reply that starts so (HTTP/...) says only
    # that the frame is too big: the peer is no Bolt server, not a Redis client.
    client = Codec(max_frame_bytes=100)
    with pytest.raises(ProtocolError) as caught:
        client.receive_data(first)
    assert type(caught.value) is ProtocolError


def test_bolt_codec_oversize_frame_is_not_mistaken_for_redis() -> None:
    codec = Codec(max_frame_bytes=100)
    with pytest.raises(ProtocolError) as caught:
        codec.receive_data(b"\xff\xff\x00\x01")
    assert type(caught.value) is ProtocolError


def test_wrong_port_line_is_one_resp_error_line() -> None:
    assert wrong_port_line(6379) == (
        b"-ERR this is Bolt's own protocol port; Redis clients (RESP) connect to port 6379\r\n"
    )
    assert b"BOLT_RESP_PORT" in wrong_port_line(None)
