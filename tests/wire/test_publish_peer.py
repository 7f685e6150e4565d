"""The cluster pub/sub peer message (kind 24): round trips and refused shapes."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bolt.errors import ProtocolError
from bolt.wire import Publish
from bolt.wire._peer import PeerCodec, encode_peer, to_peer_message


@given(channel=st.binary(max_size=64), message=st.binary(max_size=4096))
def test_a_publish_round_trips(channel: bytes, message: bytes) -> None:
    codec = PeerCodec()
    codec.authenticated()
    codec.receive_data(encode_peer(Publish(channel, message)))
    assert codec.next_peer_message() == Publish(channel, message)


@pytest.mark.parametrize(
    "payload",
    [
        [24, "text channel", b"m"],  # the channel must be bytes
        [24, b"c", 5],  # the message must be bytes
        [24, b"c"],  # missing the message
        [24, b"c", b"m", b"extra"],
    ],
)
def test_malformed_publishes_are_refused(payload: list) -> None:
    with pytest.raises(ProtocolError):
        to_peer_message(msgpack.unpackb(msgpack.packb(payload, use_bin_type=True), raw=False))
