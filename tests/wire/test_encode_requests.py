"""``encode_requests``: a batch of requests framed into one buffer (the SDK's pipelines)."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bolt.errors import BadRequestError, TooLargeError
from bolt.wire import Codec, Request, encode_request, encode_requests


class Call(NamedTuple):
    command: str
    args: list[Any]
    db: str | None


values = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=20), st.binary())
calls = st.lists(
    st.builds(
        Call,
        st.text(min_size=1, max_size=10),
        st.lists(values, max_size=5),
        st.one_of(st.none(), st.text(max_size=5)),
    ),
    min_size=1,
    max_size=30,
)


@given(st.integers(1, 2**40), calls)
def test_the_batch_is_the_requests_framed_one_by_one(first: int, batch: list[Call]) -> None:
    joined = b"".join(
        encode_request(first + index, call.command, call.args, call.db)
        for index, call in enumerate(batch)
    )
    encoded = encode_requests(first, batch)
    assert bytes(encoded) == joined
    codec = Codec(server_side=True)
    codec.receive_data(encoded)
    assert codec.next_messages() == [
        Request(first + index, call.command, call.args, call.db) for index, call in enumerate(batch)
    ]


def test_a_request_that_cannot_be_framed_refuses_the_batch() -> None:
    with pytest.raises(BadRequestError):
        encode_requests(1, [Call("PUT", ["a", "1"], None), Call("PUT", ["b"], 5)])  # type: ignore[arg-type]
    with pytest.raises(BadRequestError):
        encode_requests(1, [Call("PUT", ["a", object()], None), Call("GET", ["a"], None)])
    with pytest.raises(TooLargeError):
        encode_requests(
            1, [Call("GET", ["a"], None), Call("PUT", ["b", "x" * 100], None)], max_frame_bytes=64
        )
