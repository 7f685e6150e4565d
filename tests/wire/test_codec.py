"""Properties and edge cases of the sans-IO wire codec."""

from __future__ import annotations

import struct
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bolt import errors
from bolt.wire import (
    PROTOCOL_VERSION,
    Codec,
    ErrorReply,
    Message,
    Push,
    Request,
    Response,
    encode_error,
    encode_push,
    encode_request,
    encode_response,
)
from tests.wire._support import decode_all, frame, ids, messages, values

# --- round trips ---------------------------------------------------------------


@given(messages)
def test_every_message_kind_round_trips(message: Message) -> None:
    assert decode_all(Codec().encode(message)) == [message]


@given(st.lists(messages, max_size=8), st.data())
def test_any_chunking_yields_the_same_messages(batch: list[Message], data: st.DataObject) -> None:
    stream = Codec().encode_many(batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    codec = Codec()
    decoded: list[Message] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        codec.receive_data(stream[start:cut])
        start = cut
        if data.draw(st.booleans()):
            decoded.extend(codec.next_messages())
        else:
            while (message := codec.next_message()) is not None:
                decoded.append(message)
    assert decoded == batch
    assert codec.buffered_bytes == 0


@given(ids, st.text(max_size=10), st.lists(values, max_size=4), st.none() | st.text(max_size=5))
def test_fast_paths_match_codec_encode(
    request_id: int, command: str, args: list[Any], db: str | None
) -> None:
    codec = Codec()
    assert encode_request(request_id, command, args, db) == codec.encode(
        Request(request_id, command, args, db)
    )
    assert encode_response(request_id, args) == codec.encode(Response(request_id, args))
    assert encode_push(command, args) == codec.encode(Push(command, args))


def test_str_stays_str_and_bytes_stay_bytes() -> None:
    (message,) = decode_all(encode_request(7, "PUT", ["k", b"\x00\xffraw"], "db1"))
    assert message == Request(7, "PUT", ["k", b"\x00\xffraw"], "db1")
    assert type(message.args[0]) is str
    assert type(message.args[1]) is bytes


def test_encode_error_carries_code_name_and_message() -> None:
    (message,) = decode_all(encode_error(5, errors.WrongTypeError("not a list")))
    assert message == ErrorReply(5, 102, "WRONGTYPE", "not a list")


def test_protocol_version_is_one() -> None:
    assert PROTOCOL_VERSION == 1


# --- error replies rebuild the exact class ----------------------------------------


def bolt_error_classes() -> list[type[errors.BoltError]]:
    return sorted(
        {
            value
            for value in vars(errors).values()
            if isinstance(value, type) and issubclass(value, errors.BoltError)
        },
        key=lambda cls: cls.code,
    )


@pytest.mark.parametrize("cls", bolt_error_classes(), ids=lambda cls: cls.__name__)
def test_error_reply_rebuilds_the_exact_class(cls: type[errors.BoltError]) -> None:
    (message,) = decode_all(encode_error(3, cls("boom")))
    assert isinstance(message, ErrorReply)
    error = message.to_exception()
    assert type(error) is cls
    assert str(error) == "boom"


def test_unknown_error_code_gives_a_bolt_error_with_code_and_name() -> None:
    error = ErrorReply(1, 9999, "FUTURE_THING", "from a newer server").to_exception()
    assert type(error) is errors.BoltError
    assert (error.code, error.name, str(error)) == (9999, "FUTURE_THING", "from a newer server")


def test_oversized_length_prefix_fails_before_the_payload_is_fed() -> None:
    codec = Codec(max_frame_bytes=100)
    with pytest.raises(errors.ProtocolError, match="over the limit"):
        codec.receive_data(struct.pack("<I", 101))
    codec = Codec(max_frame_bytes=100)
    codec.receive_data(encode_request(1, "PING", [], None) + struct.pack("<I", 2**32 - 1))
    with pytest.raises(errors.ProtocolError, match="over the limit"):
        codec.next_messages()


def test_oversized_prefix_split_across_reads_is_refused_once_complete() -> None:
    codec = Codec(max_frame_bytes=100)
    codec.receive_data(b"\xff\xff")
    assert codec.next_message() is None
    codec.receive_data(b"\x00")
    assert codec.next_messages() == []
    with pytest.raises(errors.ProtocolError):
        codec.receive_data(b"\x00")  # the fourth byte completes a 65535-byte prefix


def test_frame_of_length_zero_is_invalid() -> None:
    with pytest.raises(errors.ProtocolError, match="length 0"):
        Codec().receive_data(b"\x00\x00\x00\x00")


@pytest.mark.parametrize(
    "obj",
    [
        {"not": "an array"},
        "text",
        42,
        [],
        [True, 1, "GET", [], None],  # a bool is not a kind
        [9, 1, "GET", [], None],  # unknown kind
        [1, 1, "GET", [], None, "extra"],
        [1, "1", "GET", [], None],
        [1, -1, "GET", [], None],
        [1, True, "GET", [], None],
        [1, 1, b"GET", [], None],
        [1, 1, "GET", {"a": 1}, None],
        [1, 1, "GET", [], 5],
        [2, 1],
        [2, None, "x"],
        [2, -1, "x"],
        [3, 1, "102", "WRONGTYPE", "m"],
        [3, 1, 102, "WRONGTYPE"],
        [3, -1, 102, "WRONGTYPE", "m"],
        [3, 1, 102, b"WRONGTYPE", "m"],
        [3, 1, 102, "WRONGTYPE", None],
        [4, b"topic", 1],
        [4, "topic"],
    ],
)
def test_wrong_shapes_are_protocol_errors(obj: Any) -> None:
    with pytest.raises(errors.ProtocolError):
        decode_all(frame(msgpack.packb(obj, use_bin_type=True)))


@pytest.mark.parametrize(
    "payload",
    [
        msgpack.packb([2, 1, msgpack.ExtType(5, b"abc")]),
        msgpack.packb([2, 1, msgpack.ExtType(5, b"")]),
        msgpack.packb([2, 1, msgpack.Timestamp(1, 2)]),
        msgpack.packb([2, 1, None]) + b"\x00",  # trailing bytes
        b"\x93\x02\x01",  # truncated array
        b"\xc1",  # never-used byte
        b"\x93\x02\x01\xa2\xff\xfe",  # invalid UTF-8
        b"\x93\x02\x01" + b"\x91" * 5000 + b"\xc0",  # nesting too deep
        b"\x93\x02\x01\xdd\xff\xff\xff\xff",  # array claims 4 billion entries
        b"\x93\x02\x01\x81\x01\x01",  # integer map key
    ],
)
def test_bad_msgpack_is_a_protocol_error(payload: bytes) -> None:
    with pytest.raises(errors.ProtocolError):
        decode_all(frame(payload))


def test_codec_stays_failed_after_a_protocol_error() -> None:
    codec = Codec()
    codec.receive_data(frame(b"\xc1"))
    with pytest.raises(errors.ProtocolError):
        codec.next_messages()
    for call in (codec.next_messages, codec.next_message, lambda: codec.receive_data(b"x")):
        with pytest.raises(errors.ProtocolError):
            call()


def test_messages_before_a_bad_frame_are_discarded_with_it() -> None:
    codec = Codec()
    codec.receive_data(encode_request(1, "PING", [], None) + frame(b"\xc1"))
    with pytest.raises(errors.ProtocolError):
        codec.next_messages()


def test_large_payload_is_decoded_in_place() -> None:
    blob = bytes(range(256)) * 4096  # 1 MiB, over the zero-copy threshold
    codec = Codec()
    data = encode_response(9, blob)
    codec.receive_data(data[:1000])
    assert codec.next_message() is None
    codec.receive_data(data[1000:] + encode_response(10, "after"))
    assert codec.next_messages() == [Response(9, blob), Response(10, "after")]
    codec.receive_data(b"\x05\x00")  # the buffer is not pinned by a leftover view
    assert codec.buffered_bytes == 2


# --- encoding limits -------------------------------------------------------------


def test_encoding_over_the_limit_is_too_large() -> None:
    with pytest.raises(errors.TooLargeError):
        encode_request(1, "PUT", ["k", "x" * 100], None, max_frame_bytes=50)
    with pytest.raises(errors.TooLargeError):
        encode_response(1, "x" * 100, max_frame_bytes=50)


@pytest.mark.parametrize("bad", [{1, 2}, object(), 2**64, "\ud800"])
def test_unencodable_values_are_bad_requests(bad: Any) -> None:
    with pytest.raises(errors.BadRequestError):
        encode_request(1, "PUT", ["k", bad], None)


def test_encode_rejects_non_messages() -> None:
    with pytest.raises(TypeError):
        Codec().encode(("not", "a", "message"))  # type: ignore[arg-type]


def test_max_frame_bytes_is_validated() -> None:
    with pytest.raises(ValueError):
        Codec(0)
    with pytest.raises(ValueError):
        Codec(2**32)
