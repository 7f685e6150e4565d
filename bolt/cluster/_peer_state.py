"""What this node knows about one peer: health, offsets, counters (pure).

Theory of operation
-------------------
A peer is **Healthy** if anything was heard from it (on either of the two
connections of the pair) within ``peer_suspect_after_ms``, **Suspect** up to
``peer_dead_after_ms``, and **Dead** after that or if it was never heard
from. Time is passed in (trio's clock in the service, any number in tests),
so the rules are tested without sleeping.

The replication side of the record is the sender's: ``acked_offset`` is the
last offset of this node's log the peer has made durable, ``pending`` the
records after it. ``held`` counts events received from the peer and not yet
applied because its clock runs too far ahead (``clock skew``).
"""

from __future__ import annotations

from dataclasses import dataclass

from bolt import limits

HEALTHY = "Healthy"
SUSPECT = "Suspect"
DEAD = "Dead"


@dataclass(frozen=True)
class PeerStatistics:
    """A snapshot of one peer's record (for ``CLUSTER`` and the metrics)."""

    node_id: str
    host: str
    port: int
    state: str
    link: str
    acked_offset: int
    pending: int
    lag_seconds: float
    last_heartbeat_seconds_ago: float | None
    clock_offset_ms: int
    bytes_in: int
    bytes_out: int
    batches_sent: int
    batches_received: int
    events_received: int
    reconnects: int
    refused_events: int
    held_events: int
    full_syncs: int
    client_port: int
    full_syncs_sent: int = 0
    full_syncs_received: int = 0
    needs_full_sync: bool = False
    full_sync: str | None = None  # what a full sync with the peer is doing now
    publishes_sent: int = 0
    publishes_received: int = 0
    publishes_dropped: int = 0


class PeerState:
    """The mutable record of one peer (see the module docstring)."""

    def __init__(self, node_id: str, host: str, port: int, acked_offset: int = -1) -> None:
        self.node_id = node_id
        self.host = host
        self.port = port
        self.last_heard: float | None = None
        self.link = "connecting"
        self.acked_offset = acked_offset
        self.acked_at: float | None = None
        self.unacked_since: float | None = None
        self.clock_offset_ms = 0
        self.clock_skew = False
        self.bytes_in = 0
        self.bytes_out = 0
        self.batches_sent = 0
        self.batches_received = 0
        self.events_received = 0
        self.reconnects = 0
        self.refused_events = 0
        self.held_events = 0
        self.client_port = -1
        self.remote_vector: dict[str, int] = {}
        self.remote_last_offset = -1
        # Full sync (bolt.cluster._fullsync_send / _fullsync_receive) and retention.
        self.full_syncs_sent = 0
        self.full_syncs_received = 0
        self.needs_full_sync = False  # gone past the log retention bound
        self.publishes_sent = 0  # pub/sub messages (bolt.cluster._service.publish)
        self.publishes_received = 0
        self.publishes_dropped = 0
        self.full_sync: str | None = None
        self.sync_hold: int | None = None  # log kept after this offset for a full sync

    def heard(self, now: float) -> None:
        """Something arrived from the peer at ``now`` (seconds)."""
        self.last_heard = now

    def state(self, now: float) -> str:
        """Healthy, Suspect or Dead at ``now``."""
        if self.last_heard is None:
            return DEAD
        silent_ms = (now - self.last_heard) * 1000
        if silent_ms <= limits.peer_suspect_after_ms:
            return HEALTHY
        if silent_ms <= limits.peer_dead_after_ms:
            return SUSPECT
        return DEAD

    def acknowledged(self, offset: int, now: float, last_offset: int) -> None:
        """The peer made this node's log durable up to ``offset``."""
        self.acked_offset = max(self.acked_offset, offset)
        if self.sync_hold is not None and self.acked_offset >= self.sync_hold:
            self.sync_hold = None  # the full sync is merged: the usual hold takes over
        if self.needs_full_sync and self.acked_offset >= last_offset:
            self.needs_full_sync = False  # it caught up live after all: it has everything
        self.acked_at = now
        self.unacked_since = now if self.acked_offset < last_offset else None

    def pending(self, last_offset: int) -> int:
        """Records of this node's log the peer has not acknowledged."""
        return max(0, last_offset - self.acked_offset)

    def lag_seconds(self, now: float, last_offset: int) -> float:
        """How long the oldest unacknowledged record has waited (0 when caught up)."""
        if self.acked_offset >= last_offset:
            self.unacked_since = None
            return 0.0
        if self.unacked_since is None:
            self.unacked_since = now
        return max(0.0, now - self.unacked_since)

    def statistics(self, now: float, last_offset: int) -> PeerStatistics:
        """A frozen snapshot at ``now``."""
        ago = None if self.last_heard is None else max(0.0, now - self.last_heard)
        link = "clock skew" if self.clock_skew else self.link
        return PeerStatistics(
            node_id=self.node_id,
            host=self.host,
            port=self.port,
            state=self.state(now),
            link=link,
            acked_offset=self.acked_offset,
            pending=self.pending(last_offset),
            lag_seconds=round(self.lag_seconds(now, last_offset), 3),
            last_heartbeat_seconds_ago=None if ago is None else round(ago, 3),
            clock_offset_ms=self.clock_offset_ms,
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            batches_sent=self.batches_sent,
            batches_received=self.batches_received,
            events_received=self.events_received,
            reconnects=self.reconnects,
            refused_events=self.refused_events,
            held_events=self.held_events,
            full_syncs=self.full_syncs_sent + self.full_syncs_received,
            client_port=self.client_port,
            full_syncs_sent=self.full_syncs_sent,
            full_syncs_received=self.full_syncs_received,
            needs_full_sync=self.needs_full_sync,
            full_sync=self.full_sync,
            publishes_sent=self.publishes_sent,
            publishes_received=self.publishes_received,
            publishes_dropped=self.publishes_dropped,
        )
