"""Log retention for peers: how much log the cluster holds, and for whom (pure).

Theory of operation
-------------------
The log is the pending queue of every peer (DESIGN §5): a segment may be
deleted only when the snapshot covers it **and** every peer has
acknowledged it. A peer that never comes back would then hold the log
forever, so each peer holds it only within a bound:

* ``BOLT_PEER_LOG_RETENTION_BYTES`` (bytes): the log after the peer's
  acknowledged offset may not grow past this;
* ``BOLT_PEER_LOG_RETENTION_MS`` (age): a peer not heard from for longer
  than this holds nothing.

A peer past either bound is **marked as needing a full sync** and stops
holding the log: its next link sends the state instead of the log (and a
link still running meets the trimmed log and switches to a full sync the
same way). A full sync in progress holds the log after its covered offset
until the peer acknowledges it (``PeerState.sync_hold``), so the tail is
still there once the state is merged. Disk use is then bounded by the
snapshot, the retention bound and the log since the last snapshot round.

:func:`log_hold` is called by the snapshot writer after each round (through
``SnapshotWriter.retention_holds``); time and sizes are passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from bolt.cluster._peer_state import PeerState

logger = logging.getLogger("bolt.cluster")


def log_hold(
    peers: Iterable[PeerState],
    *,
    now: float,
    started_at: float,
    bytes_from: Callable[[int], int],
    last_offset: int,
    retention_bytes: int,
    retention_ms: int,
) -> int | None:
    """The highest offset of this node's log that no peer needs any more.

    Marks (``needs_full_sync``) and releases the peers past the retention
    bound. None: no peer holds anything.

    Args:
        peers: every configured peer.
        now: the current time (seconds, the same clock as ``last_heard``).
        started_at: when the service started (a peer never heard from since
            counts as gone from then).
        bytes_from: log bytes kept for a reader that needs an offset.
        last_offset: the newest offset of the log (a peer there needs nothing).
        retention_bytes: ``BOLT_PEER_LOG_RETENTION_BYTES``.
        retention_ms: ``BOLT_PEER_LOG_RETENTION_MS``.
    """
    floor: int | None = None
    for peer in peers:
        if peer.sync_hold is not None:
            floor = peer.sync_hold if floor is None else min(floor, peer.sync_hold)
        if peer.needs_full_sync:
            continue
        heard = peer.last_heard if peer.last_heard is not None else started_at
        gone_ms = (now - heard) * 1000
        kept = bytes_from(peer.acked_offset + 1) if peer.acked_offset < last_offset else 0
        if gone_ms > retention_ms or kept > retention_bytes:
            peer.needs_full_sync = True
            logger.warning(
                "peer %s no longer holds the log (%s); it gets a full sync when it is back",
                peer.node_id,
                f"gone {gone_ms / 1000:.0f}s, BOLT_PEER_LOG_RETENTION_MS {retention_ms}"
                if gone_ms > retention_ms
                else f"{kept} bytes of log behind, BOLT_PEER_LOG_RETENTION_BYTES {retention_bytes}",
            )
            continue
        floor = peer.acked_offset if floor is None else min(floor, peer.acked_offset)
    return floor
