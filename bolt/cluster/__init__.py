"""Multi-master replication: peers stream their logs to each other.

``ClusterService`` runs the cluster port and one link per peer (see
:mod:`bolt.cluster._service`); ``cluster_settings`` checks the cluster
configuration before anything starts. The peer messages are the sans-IO
peer role of :mod:`bolt.wire._peer`.
"""

from bolt.cluster._metrics import ClusterCollector as ClusterCollector
from bolt.cluster._metrics import pending_replication as pending_replication
from bolt.cluster._peer_state import DEAD, HEALTHY, SUSPECT, PeerState, PeerStatistics
from bolt.cluster._service import ClusterService
from bolt.cluster._settings import (
    TESTING_CLOCK_OFFSET_VARIABLE,
    ClusterSettings,
    PeerAddress,
    cluster_settings,
    testing_clock_offset_ms,
)
from bolt.cluster._tls import peer_client_ssl_context as peer_client_ssl_context

__all__ = [
    "DEAD",
    "HEALTHY",
    "SUSPECT",
    "TESTING_CLOCK_OFFSET_VARIABLE",
    "ClusterService",
    "ClusterSettings",
    "PeerAddress",
    "PeerState",
    "PeerStatistics",
    "cluster_settings",
    "testing_clock_offset_ms",
]
