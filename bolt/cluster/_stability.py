"""Causal stability: what every configured node has applied (pure).

Theory of operation
-------------------
Every node tells each peer, in the handshake status and in every heartbeat,
a **stability report** (:class:`StabilityReport`): its version vector, its
own ``seq`` and the HLC its clock had at that same instant (``seq_hlc``),
and the stable HLC it computed itself.

Two numbers follow from the reports:

* The **stable vector**: the pointwise minimum of this node's vector and
  the last vector each configured peer reported (a peer never heard from
  counts as all zeros). An event whose dot it covers is applied everywhere.
  It is reported in ``CLUSTER``.
* The **stable HLC**, which tombstone collection uses (tombstones carry an
  HLC, not a dot, and what must be known is that no event *below* the
  stamp is still on its way anywhere, not only that the delete arrived).
  A node's HLC only grows and every event it makes gets a fresh reading, so
  a report ``(seq, seq_hlc)`` from peer ``j`` says: every event of origin
  ``j`` with an HLC at or below ``seq_hlc`` has a seq at or below ``seq``.
  Once this node's vector covers ``(j, seq)``, it holds every event of
  ``j`` up to ``seq_hlc``. The minimum of that over the peers is this
  node's **local stable HLC** (its own events it always holds); the
  minimum of its own and every peer's reported local stable HLC is the
  **stable HLC**: every configured node holds every event at or below it.

A report is a fact whenever it arrives, in any order and on either of a
pair's two connections, so a peer's pending reports are kept (at most
``limits.stability_reports_pending_max``; past that the newest replaces the
last, which only delays) until the local vector covers them, and each
number only grows. A node with no peers has a stable HLC of 0: a standalone
node collects nothing here (it keeps no tombstones anyway).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bolt import limits


@dataclass(frozen=True)
class StabilityReport:
    """What a node says about itself (see the module docstring)."""

    vector: dict[str, int]
    seq: int
    seq_hlc: int
    stable_hlc: int

    def to_wire(self) -> dict[str, Any]:
        """The map carried by heartbeats and the handshake status."""
        return {
            "vector": self.vector,
            "seq": self.seq,
            "seq_hlc": self.seq_hlc,
            "stable_hlc": self.stable_hlc,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> StabilityReport:
        """Rebuild a report the peer codec has checked (``bolt.wire._peer``)."""
        return cls(dict(data["vector"]), data["seq"], data["seq_hlc"], data["stable_hlc"])


class _PeerStability:
    __slots__ = ("applied_hlc", "heard", "pending", "reported_stable_hlc", "vector")

    def __init__(self) -> None:
        self.vector: dict[str, int] = {}
        self.pending: list[tuple[int, int]] = []  # (seq, seq_hlc) not yet covered here
        self.applied_hlc = 0  # this node holds every event of the peer up to it
        self.reported_stable_hlc = 0
        self.heard = False


class Stability:
    """The reports of every configured peer, and the stable numbers they give.

    Args:
        node_id: this node.
        peer_ids: every configured peer.
    """

    def __init__(self, node_id: str, peer_ids: Iterable[str]) -> None:
        self.node_id = node_id
        self._peers = {peer_id: _PeerStability() for peer_id in peer_ids}

    def learn(self, peer_id: str, report: StabilityReport) -> None:
        """Record a report from ``peer_id`` (unknown peers are ignored)."""
        peer = self._peers.get(peer_id)
        if peer is None:
            return
        peer.heard = True
        for origin, seq in report.vector.items():
            if seq > peer.vector.get(origin, 0):
                peer.vector[origin] = seq
        peer.reported_stable_hlc = max(peer.reported_stable_hlc, report.stable_hlc)
        if report.seq_hlc <= peer.applied_hlc:
            return
        pending = peer.pending
        item = (report.seq, report.seq_hlc)
        if len(pending) >= limits.stability_reports_pending_max:
            pending[-1] = max(pending[-1], item)
        else:
            pending.append(item)

    def advance(self, local_vector: Mapping[str, int]) -> None:
        """Consume the reports ``local_vector`` (this node's) now covers."""
        for peer_id, peer in self._peers.items():
            if not peer.pending:
                continue
            have = local_vector.get(peer_id, 0)
            kept = []
            for seq, seq_hlc in peer.pending:
                if seq <= have:
                    peer.applied_hlc = max(peer.applied_hlc, seq_hlc)
                elif seq_hlc > peer.applied_hlc:
                    kept.append((seq, seq_hlc))
            peer.pending = kept

    def local_stable_hlc(self) -> int:
        """This node holds every event at or below it (0 with no peers)."""
        if not self._peers:
            return 0
        return min(peer.applied_hlc for peer in self._peers.values())

    def stable_hlc(self) -> int:
        """Every configured node holds every event at or below it (0 with no peers)."""
        if not self._peers:
            return 0
        reported = min(peer.reported_stable_hlc for peer in self._peers.values())
        return min(self.local_stable_hlc(), reported)

    def stable_vector(self, local_vector: Mapping[str, int]) -> dict[str, int]:
        """The pointwise minimum of ``local_vector`` and every peer's last vector."""
        origins = set(local_vector)
        for peer in self._peers.values():
            origins.update(peer.vector)
        return {
            origin: min(
                local_vector.get(origin, 0),
                *(peer.vector.get(origin, 0) for peer in self._peers.values()),
            )
            for origin in sorted(origins)
        }

    def report(
        self, local_vector: Mapping[str, int], seq_hlc: int, own_seq: int = 0
    ) -> StabilityReport:
        """This node's report: its vector, its own seq with ``seq_hlc`` (its clock
        read at the same instant), and its local stable HLC.

        ``own_seq`` is the highest seq this node has used, gaps included: the
        report's seq is the larger of it and the vector's, so a gap in its own
        seqs can only hold collection back, never let it run ahead.
        """
        self.advance(local_vector)
        return StabilityReport(
            dict(local_vector),
            max(local_vector.get(self.node_id, 0), own_seq),
            seq_hlc,
            self.local_stable_hlc(),
        )

    def heard_from(self) -> list[str]:
        """The peers that sent at least one report."""
        return [peer_id for peer_id, peer in self._peers.items() if peer.heard]
