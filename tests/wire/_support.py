"""Hypothesis strategies for wire messages, shared by the codec tests."""

from __future__ import annotations

import struct

from hypothesis import strategies as st

from bolt import limits
from bolt.wire import Codec, ErrorReply, Message, Push, Request, Response

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=8) | st.binary(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
ids = st.integers(min_value=0, max_value=2**64 - 1)
requests = st.builds(
    Request,
    ids,
    st.text(max_size=12),
    st.lists(values, max_size=6),
    st.none() | st.text(max_size=8),
)
responses = st.builds(Response, ids, values)
error_replies = st.builds(
    ErrorReply,
    ids,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(max_size=12),
    st.text(max_size=40),
)
pushes = st.builds(Push, st.text(max_size=12), values)
messages = requests | responses | error_replies | pushes


def frame(payload: bytes) -> bytes:
    return struct.pack("<I", len(payload)) + payload


def decode_all(data: bytes, max_frame_bytes: int = limits.frame_bytes_max) -> list[Message]:
    codec = Codec(max_frame_bytes)
    codec.receive_data(data)
    return codec.next_messages()
