"""The receiving side of a full sync: stage, merge, persist, then acknowledge.

Theory of operation
-------------------
The chunks of a full sync (:mod:`bolt.cluster._fullsync_send`) arrive on the
answering connection in order, between batches, and are handled by the
same task that applies batches, so nothing of the sender's log is applied
in the middle of a sync. They are **staged**: kept as received (encoded
entries, task rows), not applied, and each is acknowledged so the sender
sends more. The live views do not change while a sync streams: a cut in the
middle (the connection ends, a chunk is missing, the counts do not match)
drops the staging and leaves this node's state exactly as it was; the
sender starts again on the next connection (a restart, not a resume).

At the end the staged state is **merged** into the live views
(:mod:`bolt.state._merge`: a CRDT join per type, so this node's own writes
that the sender lacks are kept, and flow back to it by normal shipping),
``full_sync_merge_entries_per_yield`` keys at a time with a yield to trio in
between, so clients keep being served. The other way round too: the
sender collects a removed element's tombstone once the element's *push* is
stable, so its state may lack both the element and the tombstone while this
node still holds the element (it has not applied the removal yet). The
messages say at or below which HLC the sender held every event (the begin,
for its key list; each chunk, as it was encoded); this node's
elements that old which the sender's entry lacks, or whose key it did not
send at all, were removed there and are dropped (``forget_bodies``,
``forget_unsent``). What the sender's (older) state
holds at or below the highest stable HLC at which this node collected a
tombstone, and this node lacks, was removed here and is not brought back
(``Keyspace.collected_hlc``, :func:`bolt.state.forget_seen`). Only when every key is in are the
sender's users, tasks and dots joined (the dots last: until then, a crash
or a cut leaves this node asking for another full sync, and a join twice
changes nothing). Then a snapshot round writes every shard (the merged
state is not in this node's log, so the snapshot is what makes it durable)
and only then is the sender's ``covered`` offset acknowledged: an
acknowledgement promises the data survives a crash here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgpack
import trio
import trio.lowlevel

from bolt import limits
from bolt.cluster._peer_state import PeerState
from bolt.cluster._stream import PeerStream
from bolt.crdt import DotSet
from bolt.errors import (
    ClockSkewError,
    CorruptionError,
    FullSyncError,
    PeerProtocolError,
)
from bolt.state import (
    forget_unsent,
    merge_dots,
    merge_entries,
    merge_tasks,
    merge_users,
    task_from_wire,
    user_from_wire,
)
from bolt.state.snapshot import decode_entry
from bolt.wire import Ack, FullSyncAck, FullSyncBegin, FullSyncChunk, FullSyncEnd

if TYPE_CHECKING:
    from bolt.cluster._service import ClusterService

logger = logging.getLogger("bolt.cluster")

FULL_SYNC_MESSAGES = (FullSyncBegin, FullSyncChunk, FullSyncEnd)
"""Messages the answering side hands to :func:`receive_full_sync`."""


@dataclass
class Staging:
    """One full sync being received: what arrived so far, not yet applied."""

    begin: FullSyncBegin
    entries: list[list[Any]] = field(default_factory=list)
    tasks: list[list[Any]] = field(default_factory=list)
    chunks: int = 0
    bytes: int = 0


def stage(staging: Staging | None, message: Any) -> Staging:
    """Add a chunk to the staging (pure bookkeeping, nothing applied).

    Raises:
        PeerProtocolError: a chunk without a begun sync, of another sync,
            or out of order.
    """
    if staging is None:
        raise PeerProtocolError("a full-sync chunk arrived without a full sync begun")
    if message.sync_id != staging.begin.sync_id or message.number != staging.chunks:
        raise PeerProtocolError(
            f"full-sync chunk {message.number} of sync {message.sync_id} arrived, "
            f"expected chunk {staging.chunks} of sync {staging.begin.sync_id}"
        )
    staging.entries.extend([*item, message.seen_hlc] for item in message.entries)
    staging.tasks.extend(message.tasks)
    staging.chunks += 1
    staging.bytes += sum(len(item[0]) + len(item[1]) for item in message.entries)
    return staging


def check_end(staging: Staging | None, end: FullSyncEnd) -> Staging:
    """The staging is complete per the sender's count.

    Raises:
        FullSyncError: chunks or keys are missing (nothing is applied).
    """
    if staging is None or end.sync_id != staging.begin.sync_id:
        raise FullSyncError(f"the end of full sync {end.sync_id} arrived without its start")
    if end.chunks != staging.chunks or end.entries_total != len(staging.entries):
        raise FullSyncError(
            f"full sync {end.sync_id} ended with {staging.chunks} chunks and "
            f"{len(staging.entries)} keys, the sender says {end.chunks} and {end.entries_total}"
        )
    return staging


async def receive_full_sync(
    service: ClusterService,
    stream: PeerStream,
    peer: PeerState,
    staging: Staging | None,
    message: Any,
) -> Staging | None:
    """Handle one full-sync message on the applying task; the staging after it.

    Raises:
        PeerProtocolError: messages out of order (the link is closed).
        FullSyncError: the sync is incomplete or could not be persisted
            (nothing acknowledged; the link is closed and the sender retries).
    """
    if type(message) is FullSyncBegin:
        if staging is not None:
            logger.info("peer %s restarted its full sync: dropping the staged one", peer.node_id)
        peer.full_sync = "receiving"
        return Staging(message)
    if type(message) is FullSyncChunk:
        staging = stage(staging, message)
        peer.full_sync = f"receiving: {len(staging.entries)} keys in {staging.chunks} chunks"
        await stream.send(FullSyncAck(message.sync_id, message.number))
        return staging
    staging = check_end(staging, message)
    try:
        await merge_staged(service, peer, staging)
    finally:
        peer.full_sync = None
    await stream.send(Ack(staging.begin.covered_offset))
    peer.full_syncs_received += 1
    return None


def _decoded(items: list[list[Any]]) -> list[tuple[str, Any]]:
    try:
        return [(item[0], decode_entry(item[1])) for item in items]
    except (ValueError, TypeError, KeyError, msgpack.UnpackException) as exc:
        raise CorruptionError(f"a full-sync entry does not decode: {exc}") from exc


async def merge_staged(service: ClusterService, peer: PeerState, staging: Staging) -> None:
    """Join the staged state into the live views, then persist it (see the module).

    Raises:
        FullSyncError: an entry does not decode, or the snapshot round failed.
    """
    engine = service.engine
    keyspace = engine.keyspace
    started = trio.current_time()
    peer.full_sync = f"merging {len(staging.entries)} keys"
    try:
        users = [user_from_wire(row) for row in staging.begin.users]
        tasks = [task_from_wire(row) for row in staging.tasks]
        dots = DotSet.from_wire(staging.begin.dots)
    except (ValueError, TypeError, AssertionError) as exc:
        raise FullSyncError(f"the full sync from {peer.node_id} holds a bad row: {exc}") from exc
    step = limits.full_sync_merge_entries_per_yield
    newest = 0
    entries = staging.entries
    for start in range(0, len(entries), step):
        try:
            items = _decoded(entries[start : start + step])
        except CorruptionError as exc:
            raise FullSyncError(f"the full sync from {peer.node_id}: {exc}") from exc
        newest = max(newest, *(entry.hlc for _, entry in items), 0)
        keyspace.applying_offset = engine.last_offset
        seens = [item[2] for item in entries[start : start + step]]
        for seen in sorted(set(seens)):  # each chunk's entries with that chunk's horizon
            merge_entries(
                keyspace,
                [pair for pair, its in zip(items, seens, strict=True) if its == seen],
                their_seen_hlc=seen,
            )
        await trio.lowlevel.checkpoint()  # let clients in between
    if staging.begin.seen_hlc:
        # Keys the sender has no entry for at all: their old elements were removed there.
        sent = {item[0] for item in entries}
        names = [name for shard in keyspace.shards for name in shard.entries]
        for start in range(0, len(names), step):
            keyspace.applying_offset = engine.last_offset
            forget_unsent(keyspace, names[start : start + step], sent, staging.begin.seen_hlc)
            await trio.lowlevel.checkpoint()
    merge_users(keyspace, users)
    merge_tasks(keyspace.tasks, tasks, keyspace)  # tasks count in memory_used
    merge_dots(keyspace, dots)
    _advance_clock_and_seq(engine, newest)
    staging.entries = []  # free the encoded copies before the snapshot round
    logger.info(
        "full sync from peer %s merged: %d keys, %d tasks, %d bytes in %.2fs",
        peer.node_id,
        len(entries),
        len(tasks),
        staging.bytes,
        trio.current_time() - started,
    )
    await persist_merged(engine)


def _advance_clock_and_seq(engine: Any, newest_hlc: int) -> None:
    """Order this node's next writes after what it merged, and never reuse a seq.

    A wiped node gets its own old events back in the merged dots: its next
    writes must take seqs above them, or peers would skip them as duplicates.
    """
    engine._seq = max(engine._seq, engine.keyspace.dots.highest(engine.origin))
    if newest_hlc:
        try:
            engine.clock.observe(newest_hlc)
        except ClockSkewError as exc:
            logger.warning("full sync: not moving the clock to the merged state's: %s", exc)


async def persist_merged(engine: Any) -> None:
    """Write every shard to the LMDB snapshot (the merged state is in no log here).

    Raises:
        FullSyncError: the snapshot round failed (nothing is acknowledged).
    """
    writer = engine._snapshots
    if writer is None:
        return  # BOLT_PERSIST=false: nothing is durable here anyway
    writer.rewrite_all()
    if not await writer.try_snapshot():
        raise FullSyncError(
            f"the merged state could not be written to the snapshot: {writer.last_error}"
        )
