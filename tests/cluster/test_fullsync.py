"""Full sync pieces without processes: the messages, the decision, flow control,
staging, the chunks of a state, and log retention for peers."""

from __future__ import annotations

import struct
from typing import Any

import msgpack
import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from bolt.cluster._fullsync_receive import Staging, check_end, stage
from bolt.cluster._fullsync_retention import log_hold
from bolt.cluster._fullsync_send import (
    FullSyncWindow,
    events_behind,
    full_sync_reason,
    state_chunks,
)
from bolt.cluster._peer_state import PeerState
from bolt.errors import FullSyncError, PeerProtocolError, ProtocolError
from bolt.state import Keyspace, apply, merge_entries
from bolt.state.snapshot import decode_entry
from bolt.testing._clock import ManualClock
from bolt.wire import (
    FullSyncAck,
    FullSyncBegin,
    FullSyncChunk,
    FullSyncEnd,
    PeerCodec,
    encode_peer,
)
from tests.state._support import SimNode

# --- the messages ------------------------------------------------------------------------

names = st.text(min_size=1, max_size=12)
messages = st.one_of(
    st.builds(
        FullSyncBegin,
        st.integers(0, 2**62),
        st.integers(-1, 2**40),
        st.tuples(
            st.dictionaries(names, st.integers(0, 2**40), max_size=3),
            st.lists(st.tuples(names, st.integers(1, 99)).map(list), max_size=3),
        ).map(list),
        st.lists(st.lists(st.integers(-(2**40), 2**40), max_size=3), max_size=3),
        st.integers(0, 2**63),
    ),
    st.builds(
        FullSyncChunk,
        st.integers(0, 2**62),
        st.integers(0, 999),
        st.lists(st.tuples(names, st.binary(max_size=20)).map(list), max_size=4),
        st.lists(st.lists(st.integers(-(2**40), 2**40), max_size=3), max_size=3),
        st.integers(0, 2**63),
    ),
    st.builds(FullSyncEnd, st.integers(0, 2**62), st.integers(0, 999), st.integers(0, 10**9)),
    st.builds(FullSyncAck, st.integers(0, 2**62), st.integers(0, 999)),
)


def _authenticated() -> PeerCodec:
    codec = PeerCodec()
    codec.authenticated()
    return codec


@given(st.lists(messages, min_size=1, max_size=4))
def test_full_sync_messages_round_trip(sent: list[Any]) -> None:
    codec = _authenticated()
    codec.receive_data(b"".join(encode_peer(m) for m in sent))
    received = []
    while (message := codec.next_peer_message()) is not None:
        received.append(message)
    assert received == sent


@pytest.mark.parametrize(
    "obj",
    [
        [18, 1, 0, [{"a": 1}], [], 0],  # dots not [vector, exceptions]
        [18, 1, 0, [{"a": -1}, []], [], 0],  # a negative seq
        [18, -1, 0, [{}, []], [], 0],  # a negative sync id
        [18, 1, 0, [{}, []], "users", 0],
        [19, 1, 0, [["name"]], [], 0],  # an entry without its bytes
        [19, 1, 0, [[1, b"x"]], [], 0],  # a name that is not a string
        [19, 1, 0, [], "tasks", 0],
        [20, 1, 2, -5],
        [18, 1, 0, [{}, []], [], -1],  # a negative seen_hlc
        [19, 1, 0, [], []],  # without seen_hlc
        [21, 1],  # wrong arity
    ],
)
def test_malformed_full_sync_messages_are_protocol_errors(obj: object) -> None:
    payload = msgpack.packb(obj, use_bin_type=True)
    codec = _authenticated()
    codec.receive_data(struct.pack("<I", len(payload)) + payload)
    with pytest.raises(ProtocolError):
        codec.next_peer_message()


# --- deciding --------------------------------------------------------------------------------


def _reason(**changes: Any) -> str | None:
    arguments: dict[str, Any] = {
        "own_vector": {"a": 100, "b": 50},
        "remote_vector": {"a": 90, "b": 50},
        "threshold": 10,
        "next_offset": 40,
        "first_offset": 0,
        "last_offset": 99,
        "marked": False,
    }
    arguments.update(changes)
    return full_sync_reason(**arguments)


def test_the_decision() -> None:
    assert _reason() is None  # 10 behind: not more than the threshold
    assert "11 events behind" in (_reason(remote_vector={"a": 89, "b": 50}) or "")
    assert "log starts at 41" in (_reason(first_offset=41) or "")
    assert _reason(first_offset=41, next_offset=100) is None  # caught up: nothing to read
    assert "retention" in (_reason(marked=True) or "")
    # A wiped peer (empty vector) is behind by everything this node has.
    assert events_behind({"a": 100, "b": 50}, {}) == 150
    assert events_behind({"a": 5}, {"a": 9, "c": 3}) == 0  # ahead is not behind


# --- flow control and staging ------------------------------------------------------------------


@pytest.mark.trio
async def test_the_window_holds_at_most_the_limit_in_flight() -> None:
    window = FullSyncWindow()
    sync_id = window.start()
    sent = []

    async def sender() -> None:
        for number in range(10):
            await window.sent(number)
            sent.append(number)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender)
        await trio.testing.wait_all_tasks_blocked()
        assert sent == [0, 1, 2, 3]  # full_sync_chunks_in_flight_max
        window.acked(FullSyncAck(sync_id, 1))  # cumulative: 0 and 1
        await trio.testing.wait_all_tasks_blocked()
        assert sent == [0, 1, 2, 3, 4, 5]
        window.acked(FullSyncAck(sync_id + 1, 5))  # another sync's late ack: ignored
        await trio.testing.wait_all_tasks_blocked()
        assert len(sent) == 6
        with pytest.raises(PeerProtocolError):
            window.acked(FullSyncAck(sync_id, 9))  # never sent
        window.acked(FullSyncAck(sync_id, 5))
        await trio.testing.wait_all_tasks_blocked()
        assert len(sent) == 10
        nursery.cancel_scope.cancel()


def test_staging_takes_chunks_in_order_and_checks_the_end() -> None:
    begin = FullSyncBegin(7, 10, [{}, []], [], 0)
    staging = Staging(begin)
    with pytest.raises(PeerProtocolError):
        stage(None, FullSyncChunk(7, 0, [], [], 0))  # no sync begun
    stage(staging, FullSyncChunk(7, 0, [["a", b"x"]], [], 5))
    with pytest.raises(PeerProtocolError):
        stage(staging, FullSyncChunk(7, 2, [], [], 0))  # chunk 1 is missing
    with pytest.raises(PeerProtocolError):
        stage(staging, FullSyncChunk(8, 1, [], [], 0))  # another sync's chunk
    stage(staging, FullSyncChunk(7, 1, [["b", b"y"]], [[1]], 6))
    with pytest.raises(FullSyncError):
        check_end(staging, FullSyncEnd(7, 3, 2))  # the sender sent more
    with pytest.raises(FullSyncError):
        check_end(staging, FullSyncEnd(7, 2, 5))
    with pytest.raises(FullSyncError):
        check_end(None, FullSyncEnd(7, 2, 2))
    assert check_end(staging, FullSyncEnd(7, 2, 2)).entries == [["a", b"x", 5], ["b", b"y", 6]]


def test_the_chunks_of_a_state_rebuild_it() -> None:
    clock = ManualClock(1_700_000_000_000)
    node = SimNode("a", clock, shard_count=8)
    for n in range(5000):
        node.run("PUT", f"k{n}", f"v{n}")
    node.run("RPUSH", "list", "x", "y")
    node.run("SADD", "set", "m")
    node.run("TASK.CREATE", "t", "work", b"\x90")
    chunks = list(state_chunks(node.keyspace, node.keyspace.tasks.to_wire()))
    assert chunks[0] == ([], node.keyspace.tasks.to_wire())  # task rows come first
    assert all(len(entries) <= 2000 for entries, _ in chunks)
    copy = Keyspace(8)
    for entries, _ in chunks:
        merge_entries(copy, [(name, decode_entry(data)) for name, data in entries])
    assert copy.key_count() == node.keyspace.key_count() == 5002
    assert copy.get("list").bodies is not None  # type: ignore[union-attr]


def test_a_key_collected_while_the_chunks_are_walked_is_skipped() -> None:
    clock = ManualClock(1_700_000_000_000)
    node = SimNode("a", clock, shard_count=1)
    for n in range(3000):
        node.run("PUT", f"k{n}", "v")
    walk = state_chunks(node.keyspace, [])
    first, _ = next(walk)
    shard = node.keyspace.shards[0]
    node.keyspace.remove(shard, "k2999")  # gone (e.g. expired and swept) mid-walk
    node.keyspace.remove(shard, "k2998")
    rest = [name for entries, _ in walk for name, _data in entries]
    assert len(first) + len(rest) == 2998
    assert "k2999" not in rest


# --- retention ----------------------------------------------------------------------------


def _peers(*acked: int) -> list[PeerState]:
    return [PeerState(f"p{i}", "h", 1, offset) for i, offset in enumerate(acked)]


def _hold(peers: list[PeerState], now: float = 100.0, kept: int = 10, **changes: Any) -> Any:
    arguments: dict[str, Any] = {
        "now": now,
        "started_at": 0.0,
        "bytes_from": lambda offset: kept,
        "last_offset": 1000,
        "retention_bytes": 1000,
        "retention_ms": 60_000,
    }
    arguments.update(changes)
    return log_hold(peers, **arguments)


def test_every_peer_within_the_bound_holds_the_log_after_what_it_acknowledged() -> None:
    peers = _peers(500, 200)
    for peer in peers:
        peer.heard(99.0)
    assert _hold(peers) == 200
    assert not any(p.needs_full_sync for p in peers)


def test_a_peer_gone_too_long_or_too_far_behind_is_released_and_marked() -> None:
    peers = _peers(500, 200, 300)
    peers[0].heard(99.0)
    peers[1].heard(10.0)  # 90 s ago: past the 60 s bound
    peers[2].heard(99.0)
    assert _hold(peers, kept=10) == 300
    assert peers[1].needs_full_sync and not peers[2].needs_full_sync
    # Past the byte bound: released too, whatever its health.
    assert _hold(peers, kept=5000) is None
    assert all(p.needs_full_sync for p in peers)


def test_a_caught_up_peer_holds_nothing_whatever_the_segment_size() -> None:
    peers = _peers(1000)
    peers[0].heard(99.0)
    assert _hold(peers, kept=10**9) == 1000
    assert not peers[0].needs_full_sync


def test_a_full_sync_in_progress_holds_the_log_after_its_covered_offset() -> None:
    peers = _peers(5)
    peers[0].needs_full_sync = True
    peers[0].sync_hold = 700
    assert _hold(peers) == 700
    peers[0].acknowledged(700, 1.0, 1000)
    assert peers[0].sync_hold is None
    assert _hold(peers) is None  # marked, no sync: holds nothing


def test_a_marked_peer_that_catches_up_live_is_no_longer_marked() -> None:
    peers = _peers(5)
    peers[0].needs_full_sync = True
    peers[0].acknowledged(999, 1.0, 1000)
    assert peers[0].needs_full_sync  # still behind: the log it needs may be gone
    peers[0].acknowledged(1000, 2.0, 1000)
    assert not peers[0].needs_full_sync
    peers[0].heard(99.0)
    assert _hold(peers) == 1000  # it holds the log again, like any peer


def test_a_peer_never_heard_counts_as_gone_since_the_start() -> None:
    peers = _peers(100)
    assert _hold(peers, now=30.0) == 100
    assert _hold(peers, now=61.0) is None
    assert peers[0].needs_full_sync


def test_merged_events_are_not_applied_twice() -> None:
    # The log tail after a full sync may repeat events the state already holds.
    clock = ManualClock(1_700_000_000_000)
    node = SimNode("a", clock)
    events = node.run("RPUSH", "l", "x")[1] + node.run("CINCRBY", "c", 3)[1]
    copy = Keyspace(4)
    chunks = list(state_chunks(node.keyspace, []))
    merge_entries(copy, [(n, decode_entry(d)) for entries, _ in chunks for n, d in entries])
    for event in events:
        apply(copy, event)
    assert list(copy.get("l").bodies[3]) == ["x"]  # type: ignore[union-attr,index]
    assert copy.get("c").bodies[5].value() == 3  # type: ignore[union-attr,index]
