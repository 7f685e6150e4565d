"""The peer role of the sans-IO codec: round trips, garbage, limits."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bolt import limits
from bolt.errors import ProtocolError
from bolt.wire import encode_request
from bolt.wire._peer import (
    Ack,
    Batch,
    Heartbeat,
    PeerChallenge,
    PeerCodec,
    PeerHello,
    PeerProof,
    PeerReady,
    PeerRefusal,
    encode_peer,
)

ids = st.text(min_size=1, max_size=20)
nonces = st.binary(min_size=limits.peer_nonce_bytes, max_size=limits.peer_nonce_bytes)
offsets = st.integers(min_value=-1, max_value=2**62)
statuses = st.fixed_dictionaries(
    {
        "version_vector": st.dictionaries(ids, st.integers(0, 2**62), max_size=4),
        "hlc": offsets,
        "last_offset": offsets,
        "client_port": st.integers(-1, 65535),
    }
)


stabilities = st.fixed_dictionaries(
    {
        "vector": st.dictionaries(ids, st.integers(0, 2**40), max_size=3),
        "seq": st.integers(0, 2**40),
        "seq_hlc": st.integers(0, 2**62),
        "stable_hlc": st.integers(0, 2**62),
    }
)


@st.composite
def batches(draw: st.DrawFn) -> Batch:
    first = draw(st.integers(0, 2**40))
    count = draw(st.integers(1, 5))
    records = draw(st.lists(st.binary(min_size=1, max_size=30), max_size=count))
    return Batch(first, first + count - 1, records)


messages = st.one_of(
    st.builds(PeerHello, st.integers(0, 9), ids, ids, nonces),
    st.builds(PeerChallenge, st.integers(0, 9), ids, nonces, st.binary(max_size=40)),
    st.builds(PeerProof, st.binary(max_size=40), statuses),
    st.builds(PeerReady, statuses),
    st.builds(Heartbeat, offsets, offsets, offsets, stability=st.none() | stabilities),
    batches(),
    st.builds(Ack, offsets),
    st.builds(PeerRefusal, st.integers(0, 999), st.text(max_size=10), st.text(max_size=30)),
)


@given(st.lists(messages, min_size=1, max_size=5), st.integers(1, 7))
def test_round_trip_in_any_chunks(sent: list, chunk: int) -> None:
    data = b"".join(encode_peer(m) for m in sent)
    codec = PeerCodec(limits.peer_frame_bytes_max)
    received = []
    for start in range(0, len(data), chunk):
        codec.receive_data(data[start : start + chunk])
        while (message := codec.next_peer_message()) is not None:
            received.append(message)
    assert received == sent


def test_client_frames_are_refused() -> None:
    codec = PeerCodec()
    codec.receive_data(encode_request(1, "PUT", ["k", "v"], None))
    with pytest.raises(ProtocolError, match="unknown peer message kind 1"):
        codec.next_peer_message()
    with pytest.raises(ProtocolError):  # a failed codec stays failed
        codec.receive_data(b"x")


def test_large_frames_are_refused_before_authentication() -> None:
    codec = PeerCodec()
    with pytest.raises(ProtocolError, match="over the limit"):
        codec.receive_data(struct.pack("<I", limits.peer_handshake_frame_bytes_max + 1))
    codec = PeerCodec()
    codec.authenticated()
    codec.receive_data(struct.pack("<I", limits.peer_handshake_frame_bytes_max + 1))
    assert codec.next_peer_message() is None  # waits for the payload now
    codec = PeerCodec()
    codec.authenticated()
    with pytest.raises(ProtocolError):
        codec.receive_data(struct.pack("<I", limits.peer_frame_bytes_max + 1))


@pytest.mark.parametrize(
    "obj",
    [
        [10, 1, "a", "b", b"short"],  # nonce of the wrong size
        [10, 1, "", "b", b"x" * limits.peer_nonce_bytes],  # empty id
        [13, {"hlc": 1}],  # incomplete status
        [13, {"version_vector": {"a": -1}, "hlc": 0, "last_offset": 0, "client_port": 0}],
        [15, 5, 4, []],  # first > last
        [15, 0, 0, [b"a", b"b"]],  # more records than offsets
        [15, 0, 1, [b""]],  # empty record
        [16, "x"],
        [14, 1, 2],  # wrong arity
        [99],
        {"not": "a list"},
    ],
)
def test_malformed_messages(obj: object) -> None:
    import msgpack

    payload = msgpack.packb(obj, use_bin_type=True)
    codec = PeerCodec()
    codec.receive_data(struct.pack("<I", len(payload)) + payload)
    with pytest.raises(ProtocolError):
        codec.next_peer_message()


@given(st.binary(min_size=1, max_size=200))
def test_garbage_raises_only_protocol_errors(data: bytes) -> None:
    codec = PeerCodec()
    try:
        codec.receive_data(data)
        while codec.next_peer_message() is not None:
            pass
    except ProtocolError:
        pass
