"""The codec under damaged input: never anything but a typed error, and what
decodes is well formed (frames before the damage decode exactly as sent).

Random bytes almost never decode, so the properties start from valid frames
and damage them the ways a network or a buggy peer would (bytes, whole
frames) and the ways a confused encoder would (msgpack arrays); a guard test
keeps a good share of them decoding.
"""

from __future__ import annotations

import struct
from collections import Counter
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from bolt import errors, limits
from bolt.wire import (
    Codec,
    ErrorReply,
    Message,
    Push,
    Request,
    Response,
)
from tests._damage import BYTE_MUTATIONS, edit_array, mutate_bytes
from tests.wire._support import decode_all, frame, messages, values

# Bytes that mean something to msgpack: small ints (message kinds), nil, bools,
# empty and small arrays and maps, empty strings, type markers, the never-used
# 0xc1, a negative fixint.
_MSGPACK_BYTES = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x80, 0x81, 0x90, 0x93, 0x95, 0xA0]
_MSGPACK_BYTES += [0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xCA, 0xCB, 0xCC, 0xD0, 0xD9, 0xDC, 0xFF]
# A field replaced by a value of another type, or out of range, is what a
# decoder must refuse; any value at all tests what it accepts.
_CONFUSERS = [-1, 0, 5, 2**64 - 1, -(2**63), "", "PUT", b"", b"x", None, True, 1.5, [], {}]
_REPLACEMENTS = st.sampled_from(_CONFUSERS) | values


def _mutate_structure(draw: st.DrawFn, how: str, payload: bytes) -> bytes:
    """Drop, repeat, replace or insert one element of some array of a message, or
    give one of the message's own fields a value of another type or range."""
    message = msgpack.unpackb(payload, raw=False)
    if how == "field":
        if isinstance(message, list) and len(message) > 1:
            message[draw(st.integers(1, len(message) - 1))] = draw(st.sampled_from(_CONFUSERS))
            return bytes(msgpack.packb(message, use_bin_type=True))
        how = "replace"  # no fields left to give a wrong value
    arrays: list[list[Any]] = []
    pending = [message]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            arrays.append(item)
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
    # The message's own array first: that is where its fields are.
    edit_array(draw, how, draw(st.sampled_from(arrays)), 0, _REPLACEMENTS)
    return bytes(msgpack.packb(message, use_bin_type=True))


_ARRAY_MUTATIONS = ["array drop", "array repeat", "array insert", "array replace", "array field"]
_ARRAY_MUTATIONS += ["array replace", "array field", "array field"]
_FRAME_MUTATIONS = ["repeat frame", "drop frame", "swap frames"]


@st.composite
def mutated_payloads(draw: st.DrawFn) -> tuple[Message, bytes]:
    """A valid message, and its payload (no length prefix) after one or two mutations."""
    message = draw(messages)
    payload = Codec().encode(message)[4:]
    donor = Codec().encode(draw(messages))[4:]
    for _ in range(draw(st.sampled_from([1, 1, 1, 2]))):
        how = draw(st.sampled_from(BYTE_MUTATIONS + _ARRAY_MUTATIONS))
        if how.startswith("array "):
            try:
                payload = _mutate_structure(draw, how.removeprefix("array "), payload)
                continue
            except (ValueError, TypeError, msgpack.UnpackException):
                how = "flip"  # an earlier mutation left no msgpack to edit
        if payload:
            payload = mutate_bytes(draw, how, payload, donor, _MSGPACK_BYTES)
    return message, payload


@st.composite
def mutated_streams(draw: st.DrawFn) -> tuple[list[Message], bytes]:
    """Valid messages, and their frames after one or two mutations of bytes,
    of one frame's msgpack, or of whole frames (repeated, dropped, swapped)."""
    batch = draw(st.lists(messages, min_size=1, max_size=4))
    frames = [Codec().encode(message) for message in batch]
    donor = Codec().encode(draw(messages))
    for _ in range(draw(st.sampled_from([1, 1, 1, 2]))):
        how = draw(st.sampled_from(BYTE_MUTATIONS + _ARRAY_MUTATIONS + _FRAME_MUTATIONS))
        if not frames:
            break
        at = len(frames) - 1 - draw(st.integers(0, len(frames) - 1))
        if how == "repeat frame":
            frames.insert(draw(st.integers(0, len(frames))), frames[at])
        elif how == "drop frame":
            del frames[at]
        elif how == "swap frames":
            other = draw(st.integers(0, len(frames) - 1))
            frames[at], frames[other] = frames[other], frames[at]
        elif how.startswith("array "):
            try:
                payload = _mutate_structure(draw, how.removeprefix("array "), frames[at][4:])
            except (ValueError, TypeError, msgpack.UnpackException):
                continue  # an earlier mutation left no msgpack to edit
            frames[at] = frame(payload)
        else:
            stream = mutate_bytes(draw, how, b"".join(frames), donor, _MSGPACK_BYTES)
            frames = [stream] if stream else []
    return batch, b"".join(frames)


def _assert_well_formed(message: Message) -> None:
    """A decoded message has every field of its kind, each of the right type."""
    if type(message) is Request:
        assert type(message.id) is int and message.id >= 0
        assert type(message.command) is str
        assert type(message.args) is list
        assert message.db is None or type(message.db) is str
    elif type(message) is Response:
        assert type(message.id) is int and message.id >= 0
    elif type(message) is ErrorReply:
        assert type(message.id) is int and message.id >= 0
        assert type(message.code) is int
        assert type(message.name) is str
        assert type(message.message) is str
    else:
        assert type(message) is Push
        assert type(message.topic) is str
    assert len(message) == len(type(message)._fields)
    # Fields in their places: encoded again, it decodes to the same frame
    # (compared as bytes: a damaged float may have become NaN).
    again = Codec().encode(message)
    assert Codec().encode(decode_all(again)[0]) == again


def _intact_frames(original: bytes, damaged: bytes) -> int:
    """How many of ``original``'s frames lie wholly before the first changed byte."""
    same = 0
    while same < min(len(original), len(damaged)) and original[same] == damaged[same]:
        same += 1
    count = position = 0
    while position + 4 <= len(original):
        position += 4 + struct.unpack_from("<I", original, position)[0]
        if position > same:
            break
        count += 1
    return count


def _read(stream: bytes, max_frame_bytes: int, one_at_a_time: bool) -> tuple[list[Message], bool]:
    """Feed ``stream`` to a new Codec and take its messages with ``next_messages``
    or, one at a time, with ``next_message``; also whether a ProtocolError came."""
    codec = Codec(max_frame_bytes)
    decoded: list[Message] = []
    try:
        codec.receive_data(stream)
        if one_at_a_time:
            while (message := codec.next_message()) is not None:
                decoded.append(message)
        else:
            decoded = codec.next_messages()
    except errors.ProtocolError:
        event("protocol error")
        return decoded, True
    event(["no whole frame", "1 message", "2+ messages"][min(len(decoded), 2)])
    return decoded, False


_EITHER_READER = pytest.mark.parametrize(
    "one_at_a_time", [False, True], ids=["next_messages", "next_message"]
)


@_EITHER_READER
@given(st.binary(max_size=200) | mutated_streams().map(lambda pair: pair[1]))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_garbage_is_incomplete_or_a_protocol_error(one_at_a_time: bool, garbage: bytes) -> None:
    decoded, _failed = _read(garbage, 1024, one_at_a_time)
    # Whatever did decode (with next_message, even before a bad frame) is a
    # well-formed message, never a half-parsed value.
    for message in decoded:
        _assert_well_formed(message)


@_EITHER_READER
@given(mutated_streams())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_damaged_streams_give_their_intact_frames_or_a_protocol_error(
    one_at_a_time: bool, pair: tuple[list[Message], bytes]
) -> None:
    batch, stream = pair
    intact = _intact_frames(Codec().encode_many(batch), stream)
    # The default limit: an intact frame is never over it.
    decoded, failed = _read(stream, limits.frame_bytes_max, one_at_a_time)
    for message in decoded:
        _assert_well_formed(message)
    if failed and not one_at_a_time:
        return  # next_messages discards a bad frame's whole buffer (tested in test_codec)
    # The frames before the damage are decoded exactly as they were sent.
    assert decoded[:intact] == batch[:intact]
    assert len(decoded) >= intact, "an intact frame was not decoded"


@given(st.binary(min_size=1, max_size=200) | mutated_payloads().map(lambda pair: pair[1]))
def test_garbage_payload_in_a_valid_frame_never_raises_anything_else(payload: bytes) -> None:
    if not payload:
        return  # a frame of length 0 is refused on receipt (tested below)
    codec = Codec()
    codec.receive_data(frame(payload))
    try:
        messages = codec.next_messages()
    except errors.ProtocolError:
        event("protocol error")
        return
    event("decoded")
    assert len(messages) == 1  # the garbage happened to be a valid message
    _assert_well_formed(messages[0])


@given(mutated_payloads())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_a_mutated_payload_decodes_to_a_well_formed_message_or_fails(
    pair: tuple[Message, bytes],
) -> None:
    original, payload = pair
    if not payload:
        return
    try:
        (message,) = decode_all(frame(payload))
    except errors.ProtocolError:
        event("protocol error")
        return
    event("decoded")
    _assert_well_formed(message)
    if payload == Codec().encode(original)[4:]:  # a mutation that changed nothing
        assert message == original


@given(st.integers(min_value=1, max_value=4096), st.data())
def test_any_oversized_prefix_fails_on_its_four_bytes(limit: int, data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=limit + 1, max_value=2**32 - 1))
    header = struct.pack("<I", size)
    cut = data.draw(st.integers(0, 3))
    codec = Codec(max_frame_bytes=limit)
    codec.receive_data(header[:cut])
    assert codec.next_messages() == []
    with pytest.raises(errors.ProtocolError, match="over the limit"):
        codec.receive_data(header[cut:])  # not one payload byte was fed


def _outcomes(streams: st.SearchStrategy[tuple[list[Message], bytes]], count: int) -> list[str]:
    """How ``count`` damaged streams fare in a Codec (derandomized: the share is stable)."""
    outcomes: list[str] = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(streams)
    def sample(pair: tuple[list[Message], bytes]) -> None:
        sent, stream = pair
        decoded, failed = _read(stream, 1024, one_at_a_time=False)
        if failed:
            outcomes.append("protocol error")
        else:
            outcomes.append("same" if decoded == sent else "decoded" if decoded else "incomplete")

    sample()
    return outcomes


@pytest.mark.parametrize(
    "streams",
    [
        mutated_streams(),
        mutated_payloads().map(lambda pair: ([pair[0]], frame(pair[1]))),
    ],
    ids=["streams", "payloads"],
)
def test_a_good_share_of_mutated_frames_decode_to_other_messages(
    streams: st.SearchStrategy[tuple[list[Message], bytes]],
) -> None:
    # Keeps the properties above from degenerating into "nothing ever decodes"
    # (as random bytes alone did: 0 of 500) without anyone noticing.
    outcomes = _outcomes(streams, 300)
    assert outcomes.count("decoded") >= len(outcomes) // 10, Counter(outcomes)
    assert outcomes.count("protocol error") >= len(outcomes) // 10, Counter(outcomes)
