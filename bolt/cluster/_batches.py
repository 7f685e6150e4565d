"""Cutting committed log records into replication batches (pure).

A batch covers a contiguous range of the sender's offsets. Records whose
events the receiver is known to have are left out, and so are the events
inside a record that the receiver has: those stamped by the receiver itself
(never echo a node's own writes back) and those its version vector, as of
the handshake, covers. The receiver skips any other duplicate by dot, so
leaving out is an optimisation, never a correctness rule; but the range is
always whole, so the acknowledgement of a batch covers every offset in it
and nothing is skipped by mistake.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bolt import limits
from bolt.events import encode_record
from bolt.node import Change
from bolt.wire import Batch


def wanted_events(change: Change, receiver: str, vector: Mapping[str, int]) -> list:
    """The events of ``change`` the receiver may not have yet."""
    return [
        event
        for event in change.events
        if event.origin != receiver and event.seq > vector.get(event.origin, 0)
    ]


def _record_for(change: Change, receiver: str, vector: Mapping[str, int]) -> tuple[bytes, int]:
    """The bytes to ship for ``change`` and how many events they hold.

    A record the receiver wants whole is shipped as the log holds it (most
    records: one local write); only a record with events to leave out is
    encoded again.
    """
    events = change.events
    if len(events) == 1:  # the common case, without building a list
        event = events[0]
        if event.origin == receiver or event.seq <= vector.get(event.origin, 0):
            return b"", 0
        return change.payload or encode_record(events), 1
    wanted = wanted_events(change, receiver, vector)
    if len(wanted) == len(events) and change.payload:
        return change.payload, len(wanted)
    return (encode_record(wanted) if wanted else b""), len(wanted)


def build_batches(
    changes: Sequence[Change],
    receiver: str,
    vector: Mapping[str, int],
    *,
    records_max: int = limits.peer_batch_records_max,
    bytes_max: int = limits.peer_batch_bytes_max,
) -> list[tuple[Batch, int]]:
    """Cut ``changes`` (consecutive offsets, in order) into batches.

    Args:
        changes: committed records, consecutive, oldest first.
        receiver: the peer's node id.
        vector: the peer's version vector (events it is known to have).
        records_max: most records per batch.
        bytes_max: a batch is closed once its records pass this size.

    Returns:
        ``(batch, events_in_batch)`` pairs covering every offset of ``changes``.
    """
    batches: list[tuple[Batch, int]] = []
    first = -1
    records: list[bytes] = []
    size = 0
    count = 0
    events_in = 0
    for change in changes:
        if first < 0:
            first = change.offset
        record, wanted = _record_for(change, receiver, vector)
        if wanted:
            records.append(record)
            size += len(record)
            events_in += wanted
        count += 1
        if count >= records_max or size >= bytes_max:
            batches.append((Batch(first, change.offset, records), events_in))
            first, records, size, count, events_in = -1, [], 0, 0, 0
    if first >= 0:
        batches.append((Batch(first, changes[-1].offset, records), events_in))
    return batches
