"""The task link's peer messages (kinds 22, 23): round trips and refused shapes."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bolt.errors import ProtocolError
from bolt.wire import TaskReply, TaskRequest
from bolt.wire._peer import PeerCodec, encode_peer, to_peer_message

_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


def _decoded(message: TaskRequest | TaskReply) -> object:
    codec = PeerCodec()
    codec.authenticated()
    codec.receive_data(encode_peer(message))
    return codec.next_peer_message()


@given(
    request_id=st.integers(0, 2**63 - 1),
    command=st.sampled_from(["TASK.CLAIM", "TASK.COMPLETE"]),
    args=st.lists(_values, max_size=4),
    db=st.text(max_size=10),
)
def test_a_task_request_round_trips(request_id: int, command: str, args: list, db: str) -> None:
    message = TaskRequest(request_id, command, args, db)
    assert _decoded(message) == message


@given(request_id=st.integers(0, 2**63 - 1), value=_values)
def test_a_task_reply_round_trips(request_id: int, value: object) -> None:
    assert _decoded(TaskReply(request_id, True, value)) == TaskReply(request_id, True, value)
    error = TaskReply(request_id, False, [141, "STALE_ATTEMPT", "old attempt"])
    assert _decoded(error) == error


@pytest.mark.parametrize(
    "payload",
    [
        [22, -1, "TASK.CLAIM", [], ""],  # negative id
        [22, 1, 7, [], ""],  # command not a string
        [22, 1, "TASK.CLAIM", {}, ""],  # args not a list
        [22, 1, "TASK.CLAIM", []],  # missing db
        [23, 1, 1, None],  # ok not a boolean
        [23, 1, False, "boom"],  # an error must be [code, name, message]
        [23, 1, False, [1, 2, 3]],
    ],
)
def test_malformed_task_messages_are_refused(payload: list) -> None:
    with pytest.raises(ProtocolError):
        to_peer_message(msgpack.unpackb(msgpack.packb(payload), raw=False))
