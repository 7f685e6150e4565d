"""The replication panel's figures, from successive ``CLUSTER`` replies. Pure.

Theory of operation
-------------------
A node in a cluster answers ``CLUSTER`` with itself (id, HLC, last offset,
version vector) and one entry per peer: state (``Healthy``, ``Suspect``,
``Dead``), link (``connected``, ``connecting``, ``clock skew`` ...), lag in
events and seconds, the offset the peer acknowledged, bytes in and out, the
age of its last heartbeat, its clock offset and full syncs (see
:meth:`bolt.cluster.ClusterService.status`). A standalone node answers
``{"mode": "standalone", "peers": []}`` and the panel is hidden.

:class:`ReplicationModel` keeps the previous reply to turn the cumulative
byte counters into rates (seconds from the caller's monotonic ``now``, as
the reply has no uptime); a peer first seen, or whose counter went down (a
restart), has no rate yet (``None``, drawn as a dash). Fields the server
does not report stay ``None`` too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bolt.errors import ProtocolError
from bolt.tui._views import PeerRow, ReplicationView
from bolt.wire import format_address


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _rate(new: int | None, old: int | None, seconds: float | None) -> float | None:
    if new is None or old is None or not seconds or seconds <= 0 or new < old:
        return None
    return (new - old) / seconds


def _address(item: Mapping[str, Any]) -> str | None:
    host = _text(item.get("host"))
    port = _int(item.get("client_port")) or _int(item.get("port"))
    if host is None:
        return None
    return format_address(host, port) if port else host


class ReplicationModel:
    """Turns successive ``CLUSTER`` replies of one node into :class:`ReplicationView` s."""

    def __init__(self) -> None:
        self._bytes: dict[str, tuple[int | None, int | None]] = {}
        self._at: float | None = None

    def update(self, cluster: object, now: float) -> ReplicationView:
        """Take the next ``CLUSTER`` reply (``now``: monotonic seconds).

        Raises:
            ProtocolError: ``cluster`` is not a map; the model is unchanged.
        """
        if not isinstance(cluster, Mapping):
            raise ProtocolError(f"CLUSTER reply is not a map: {type(cluster).__name__}")
        seconds = None if self._at is None else now - self._at
        peers: list[PeerRow] = []
        seen: dict[str, tuple[int | None, int | None]] = {}
        raw_peers = cluster.get("peers")
        for item in raw_peers if isinstance(raw_peers, list) else []:
            if isinstance(item, Mapping):
                peer = _peer_row(item, self._bytes, seconds)
                seen[peer.id] = (peer.bytes_in, peer.bytes_out)
                peers.append(peer)
        self._bytes, self._at = seen, now
        mode = _text(cluster.get("mode")) or ("cluster" if peers else "standalone")
        return ReplicationView(
            mode=mode,
            node_id=_text(cluster.get("node_id")),
            peers=tuple(peers),
            pending=_int(cluster.get("pending_replication")),
            last_offset=_int(cluster.get("last_offset")),
            healthy_peers=_int(cluster.get("healthy_peers")),
        )


def _peer_row(
    item: Mapping[str, Any],
    previous: Mapping[str, tuple[int | None, int | None]],
    seconds: float | None,
) -> PeerRow:
    peer_id = str(item.get("id", "?"))
    bytes_in, bytes_out = _int(item.get("bytes_in")), _int(item.get("bytes_out"))
    old_in, old_out = previous.get(peer_id, (None, None))
    acked = _int(item.get("acked_offset"))
    return PeerRow(
        id=peer_id,
        address=_address(item),
        state=_text(item.get("state")),
        link=_text(item.get("link")),
        lag_events=_int(item.get("lag_events", item.get("pending"))),
        lag_seconds=_number(item.get("lag_seconds")),
        acked_offset=None if acked is None or acked < 0 else acked,
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        bytes_in_per_second=_rate(bytes_in, old_in, seconds),
        bytes_out_per_second=_rate(bytes_out, old_out, seconds),
        heartbeat_seconds_ago=_number(item.get("last_heartbeat_seconds_ago")),
        clock_offset_ms=_number(item.get("clock_offset_ms")),
        full_syncs=_int(item.get("full_syncs")),
        held_events=_int(item.get("held_events")),
    )


def replication_view(cluster: object) -> ReplicationView:
    """The replication panel's content from one ``CLUSTER`` reply (no rates).

    Raises:
        ProtocolError: ``cluster`` is not a map.
    """
    return ReplicationModel().update(cluster, 0.0)
