"""The sending side of a full sync: this node's whole state, in chunks.

Theory of operation
-------------------
A link that would have to ship a peer more than ``BOLT_FULL_SYNC_THRESHOLD``
events, or records the log no longer holds (:class:`~bolt.errors.LogTrimmedError`),
or a peer marked by retention, sends the **state** instead
(:func:`full_sync_reason` decides; it is pure).

:func:`send_full_sync` notes, in one step on the event loop, the last log
offset ``covered``, the dot set, the users and the task rows (one consistent
instant ``t0``), then walks the shards: each shard's key names are listed at
once and their entries are encoded chunk by chunk, yielding to trio between
chunks, so other clients are served meanwhile. An entry encoded later than
``t0`` may already hold some events after ``covered``; that is harmless,
because the sender then ships its log from ``covered + 1`` as usual and
applying an event whose effect a state already holds changes nothing (every
key type is a CRDT join; tasks come from the ``t0`` rows). So the receiver
gets at least everything up to ``covered`` and the log gives it the rest.

Before each chunk is sent, the log is made durable up to the last record
applied (``wait_durable``), as for batches: a peer must never hold an event
this node could still lose in a crash. At most
``full_sync_chunks_in_flight_max`` chunks are unacknowledged (flow control,
:class:`FullSyncWindow`). While the sync runs, retention keeps the log after
``covered`` until the peer acknowledges it (``PeerState.sync_hold``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import trio

from bolt import limits
from bolt.cluster._peer_state import PeerState
from bolt.cluster._stream import PeerStream
from bolt.errors import FullSyncError, PeerProtocolError
from bolt.state import Keyspace, user_to_wire
from bolt.state.snapshot import encode_entry
from bolt.wire import FullSyncAck, FullSyncBegin, FullSyncChunk, FullSyncEnd

if TYPE_CHECKING:
    from bolt.cluster._service import ClusterService

logger = logging.getLogger("bolt.cluster")


def events_behind(own: Mapping[str, int], remote: Mapping[str, int]) -> int:
    """Events this node has applied that a node with vector ``remote`` lacks."""
    return sum(max(0, seq - remote.get(origin, 0)) for origin, seq in own.items())


def full_sync_reason(
    *,
    own_vector: Mapping[str, int],
    remote_vector: Mapping[str, int],
    threshold: int,
    next_offset: int,
    first_offset: int,
    last_offset: int,
    marked: bool,
) -> str | None:
    """Why the peer should get a full sync now, or None to ship the log (pure).

    Args:
        own_vector: this node's version vector.
        remote_vector: the peer's, from its handshake.
        threshold: ``BOLT_FULL_SYNC_THRESHOLD``.
        next_offset: the first offset of this node's log the peer needs.
        first_offset: the oldest offset the log still holds.
        last_offset: the newest offset of the log.
        marked: retention marked the peer as needing a full sync.
    """
    if marked:
        return "it was gone past the log retention bound"
    if next_offset <= last_offset and next_offset < first_offset:
        return f"it needs offset {next_offset} and the log starts at {first_offset}"
    behind = events_behind(own_vector, remote_vector)
    if behind > threshold:
        return f"it is {behind} events behind (BOLT_FULL_SYNC_THRESHOLD {threshold})"
    return None


class FullSyncWindow:
    """Flow control of one link's full syncs: chunks sent but not yet staged."""

    def __init__(self) -> None:
        self._room = trio.Semaphore(limits.full_sync_chunks_in_flight_max)
        self._sync_id = -1
        self._unacked: list[int] = []

    def start(self) -> int:
        """A new sync id (random: a receiver never mixes two syncs' chunks)."""
        self._sync_id = secrets.randbits(62)
        while self._unacked:
            self._unacked.pop()
            self._room.release()
        return self._sync_id

    async def sent(self, number: int) -> None:
        """Wait for room, then count chunk ``number`` as in flight."""
        await self._room.acquire()
        self._unacked.append(number)

    def acked(self, message: FullSyncAck) -> None:
        """The receiver staged a chunk (acks are cumulative).

        Raises:
            PeerProtocolError: an ack of a chunk that was never sent.
        """
        if message.sync_id != self._sync_id:
            return  # a late ack of an earlier sync of this link
        if message.number not in self._unacked:
            raise PeerProtocolError(
                f"full-sync ack of chunk {message.number} of sync {message.sync_id}, not in flight"
            )
        while self._unacked and self._unacked[0] <= message.number:
            self._unacked.pop(0)
            self._room.release()


def _encoded(name: str, entry: Any) -> list[Any]:
    data = encode_entry(entry)
    if len(data) + len(name) > limits.peer_frame_bytes_max - limits.MIB:
        raise FullSyncError(
            f"key {name!r} holds {len(data)} bytes, more than one cluster frame carries"
        )
    return [name, data]


def state_chunks(
    keyspace: Keyspace, task_rows: list[list[Any]]
) -> Iterator[tuple[list[list[Any]], list[list[Any]]]]:
    """``(entries, task rows)`` chunks of the state, encoded lazily (a generator).

    Each shard's names are listed when the walk reaches it; an entry gone by
    the time its chunk is encoded is skipped (it was collected: the log tail
    carries whatever removed it). Chunks hold at most
    ``full_sync_chunk_entries_max`` items and about ``full_sync_chunk_bytes_max``.
    """
    step = limits.full_sync_chunk_entries_max
    for start in range(0, len(task_rows), step):
        yield [], task_rows[start : start + step]
    chunk: list[list[Any]] = []
    size = 0
    for shard in keyspace.shards:
        entries = shard.entries
        for name in list(entries):
            entry = entries.get(name)
            if entry is None:
                continue
            item = _encoded(name, entry)
            chunk.append(item)
            size += len(item[1]) + len(name)
            if len(chunk) >= step or size >= limits.full_sync_chunk_bytes_max:
                yield chunk, []
                chunk, size = [], 0
    if chunk:
        yield chunk, []


async def send_full_sync(
    service: ClusterService,
    stream: PeerStream,
    peer: PeerState,
    window: FullSyncWindow,
    reason: str,
) -> int:
    """Send this node's whole state to ``peer``; the log offset it covers.

    The caller ships the log from the returned offset + 1 on. The peer
    acknowledges that offset (a plain :class:`~bolt.wire.Ack`) once it has
    merged and persisted the state.

    Raises:
        BoltConnectionError: the connection broke (the peer keeps its state).
        FullSyncError: a key is too large for one frame.
    """
    engine = service.engine
    keyspace = engine.keyspace
    sync_id = window.start()
    covered = engine.last_offset
    # This node holds every event at or below ``seen`` (and only more later): an
    # element that old which a chunk encoded from now on lacks was removed here.
    seen = service.local_stable_hlc()
    begin = FullSyncBegin(
        sync_id,
        covered,
        keyspace.dots.to_wire(),
        [user_to_wire(user) for user in keyspace.users.values()],
        seen,
    )
    task_rows = keyspace.tasks.to_wire()
    logger.info(
        "full sync to peer %s: %s; sending %d keys and %d tasks covering offset %d",
        peer.node_id,
        reason,
        keyspace.key_count(),
        len(task_rows),
        covered,
    )
    started = trio.current_time()
    # Retention keeps the log after ``covered`` until the peer acknowledges it
    # (or the link ends): the tail must still be there when the merge is done.
    peer.sync_hold = covered
    await engine.wait_durable(covered)
    await stream.send(begin)
    number = total = 0
    try:
        for entries, tasks in state_chunks(keyspace, task_rows):
            through = engine.last_offset  # the chunk holds nothing newer than this
            await window.sent(number)
            await engine.wait_durable(through)
            await stream.send(FullSyncChunk(sync_id, number, entries, tasks, seen))
            number += 1
            total += len(entries)
            peer.full_sync = f"sending: {total} keys in {number} chunks"
            # Read just before the next chunk is encoded (the generator runs
            # with no await): a tombstone collected since is covered too.
            seen = service.local_stable_hlc()
        await stream.send(FullSyncEnd(sync_id, number, total))
    finally:
        peer.full_sync = None
    peer.full_syncs_sent += 1
    peer.needs_full_sync = False
    logger.info(
        "full sync to peer %s sent: %d keys in %d chunks, %.2fs",
        peer.node_id,
        total,
        number,
        trio.current_time() - started,
    )
    return covered
