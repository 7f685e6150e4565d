"""Per-peer Prometheus metrics, read from the cluster service at scrape time.

Like :mod:`bolt.server._metrics`, nothing is counted for metrics: the
collector turns :class:`~bolt.cluster.PeerStatistics` snapshots into metric
families. prometheus_client is imported only here and by the server's
metrics module, never by the replication code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from bolt.cluster._peer_state import HEALTHY, SUSPECT, PeerStatistics
from bolt.cluster._service import ClusterService
from bolt.crdt import hlc_ms

_STATE_VALUES = {HEALTHY: 2, SUSPECT: 1}

_FAMILIES: tuple[tuple[str, str, str, str], ...] = (
    ("gauge", "bolt_peer_up", "2 healthy, 1 suspect, 0 dead", "state"),
    ("gauge", "bolt_peer_lag_events", "Records the peer has not acknowledged", "pending"),
    ("gauge", "bolt_peer_lag_seconds", "Age of the oldest unacknowledged record", "lag_seconds"),
    ("gauge", "bolt_peer_clock_offset_ms", "Peer clock ahead (+) of ours", "clock_offset_ms"),
    ("gauge", "bolt_peer_held_events", "Events held for clock skew", "held_events"),
    ("gauge", "bolt_peer_clock_skew", "1 while events are held for clock skew", "link"),
    ("counter", "bolt_peer_bytes_in", "Bytes received from the peer", "bytes_in"),
    ("counter", "bolt_peer_bytes_out", "Bytes sent to the peer", "bytes_out"),
    ("counter", "bolt_peer_batches_sent", "Batches sent to the peer", "batches_sent"),
    ("counter", "bolt_peer_batches_received", "Batches received", "batches_received"),
    ("counter", "bolt_peer_reconnects", "Times the link was redialed", "reconnects"),
    ("counter", "bolt_peer_refused_events", "Events refused for clock skew", "refused_events"),
    ("counter", "bolt_peer_full_syncs", "Full syncs with the peer", "full_syncs"),
)


def _value(stats: PeerStatistics, field: str) -> float:
    if field == "state":
        return _STATE_VALUES.get(stats.state, 0)
    if field == "link":
        return int(stats.link == "clock skew")
    return float(getattr(stats, field))


def pending_replication(cluster: ClusterService | None) -> int:
    """Records not yet acknowledged, summed over the peers (0 standalone)."""
    if cluster is None:
        return 0
    return sum(stats.pending for stats in cluster.peer_statistics())


class ClusterCollector(Collector):
    """Yields the per-peer families of the service ``source()`` returns (if any)."""

    def __init__(self, source: Callable[[], ClusterService | None]) -> None:
        self.source = source

    def describe(self) -> list[Any]:
        """Nothing up front: the families exist only on a node with peers."""
        return []

    def collect(self) -> Iterator[Any]:
        """One family per peer statistic, labelled by peer id."""
        cluster = self.source()
        if cluster is None:
            return
        peers = cluster.peer_statistics()
        for kind, name, documentation, field in _FAMILIES:
            family_class = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            family = family_class(name, documentation, labels=["peer"])
            for stats in peers:
                family.add_metric([stats.node_id], _value(stats, field))
            yield family
        syncs = CounterMetricFamily(
            "bolt_full_syncs",
            "Full state syncs completed with the peer, by direction (sent, received)",
            labels=["peer", "direction"],
        )
        for stats in peers:
            syncs.add_metric([stats.node_id, "sent"], stats.full_syncs_sent)
            syncs.add_metric([stats.node_id, "received"], stats.full_syncs_received)
        yield syncs
        yield CounterMetricFamily(
            "bolt_cluster_refused_connections",
            "Connections to the cluster port refused (bad secret, id, version or bytes)",
            value=cluster.refused_connections,
        )
        tombstones = cluster.tombstones.statistics()
        yield GaugeMetricFamily(
            "bolt_tombstones",
            "Tombstones kept (deleted keys, reset floors, removed elements) at the last round",
            value=tombstones.live,
        )
        yield CounterMetricFamily(
            "bolt_tombstones_collected",
            "Tombstones collected once causally stable",
            value=tombstones.collected_total,
        )
        yield CounterMetricFamily(
            "bolt_tombstone_bytes_collected",
            "Estimated bytes of memory given back by tombstone collection",
            value=tombstones.bytes_collected_total,
        )
        yield GaugeMetricFamily(
            "bolt_stable_hlc_ms",
            "Wall-clock ms of the stable HLC (every node holds every event up to it)",
            value=hlc_ms(tombstones.stable_hlc),
        )
