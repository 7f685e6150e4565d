"""The replication panel's model and text (pure; the live panel is in test_live_panels)."""

from __future__ import annotations

from typing import Any

import pytest

from bolt.errors import ProtocolError
from bolt.tui._format import DASH
from bolt.tui._panels import replication_text
from bolt.tui._replication import ReplicationModel, replication_view
from bolt.tui._widgets import plain_text


def peer(**changes: Any) -> dict[str, Any]:
    """One peer as ``CLUSTER`` reports it (the shape bolt.cluster sends)."""
    entry: dict[str, Any] = {
        "id": "n2", "host": "127.0.0.1", "port": 41605, "client_port": 46609,
        "state": "Healthy", "link": "connected", "pending": 0, "lag_events": 0,
        "lag_seconds": 0.0, "acked_offset": 49, "bytes_in": 118, "bytes_out": 1510,
        "batches_sent": 1, "batches_received": 1, "reconnects": 3, "refused_events": 0,
        "held_events": 0, "last_heartbeat_seconds_ago": 0.038, "clock_offset_ms": -2,
        "full_syncs": 0,
    }  # fmt: skip
    entry.update(changes)
    return entry


def cluster(*peers: dict[str, Any]) -> dict[str, Any]:
    return {
        "mode": "cluster",
        "node_id": "n1",
        "last_offset": 49,
        "peers": list(peers),
        "healthy_peers": sum(1 for p in peers if p["state"] == "Healthy"),
        "pending_replication": sum(p["pending"] for p in peers),
    }


def test_standalone_has_no_panel() -> None:
    view = replication_view({"mode": "standalone", "node_id": "n1", "peers": []})
    assert view.mode == "standalone" and view.peers == () and not view.present
    with pytest.raises(ProtocolError):
        replication_view("standalone")


def test_every_peer_field_and_byte_rates_between_replies() -> None:
    model = ReplicationModel()
    first = model.update(cluster(peer()), now=10.0)
    assert first.present and first.last_offset == 49 and first.healthy_peers == 1
    (row,) = first.peers
    assert row.address == "127.0.0.1:46609"  # the peer's client port: where to connect
    assert (row.state, row.link, row.lag_events, row.lag_seconds) == ("Healthy", "connected", 0, 0)
    assert (row.acked_offset, row.bytes_in, row.bytes_out) == (49, 118, 1510)
    assert (row.heartbeat_seconds_ago, row.clock_offset_ms, row.full_syncs) == (0.038, -2, 0)
    assert row.bytes_in_per_second is None  # first reply: no rate yet
    second = model.update(cluster(peer(bytes_in=1118, bytes_out=3510, pending=7)), now=12.0)
    (row,) = second.peers
    assert row.bytes_in_per_second == 500 and row.bytes_out_per_second == 1000
    restarted = model.update(cluster(peer(bytes_in=5, bytes_out=5)), now=13.0)
    assert restarted.peers[0].bytes_in_per_second is None  # a counter that fell: no rate


def test_panel_text_fits_80_columns_and_keeps_the_key_figures() -> None:
    model = ReplicationModel()
    model.update(cluster(peer(), peer(id="n3", state="Dead", link="connecting")), now=0.0)
    view = model.update(
        cluster(
            peer(lag_events=1234, lag_seconds=2.5, bytes_out=205_310),
            peer(id="n3", state="Dead", link="clock skew", acked_offset=-1, bytes_in=None),
        ),
        now=1.0,
    )
    lines = plain_text(replication_text(view, width=76), width=200).splitlines()
    assert all(len(line.rstrip()) <= 76 for line in lines)
    assert "node n1" in lines[0] and "healthy 1/2" in lines[0]
    heading = lines[1].split()
    for column in ("peer", "state", "lag", "ev", "acked", "out/s", "in/s"):
        assert column in heading, column
    n2 = next(line for line in lines if line.startswith("n2 "))
    for cell in ("Healthy", "1,234", "2.5", "49", "199.0KiB/s"):
        assert cell in n2, cell
    n3 = next(line for line in lines if line.startswith("n3 "))
    assert "Dead" in n3 and DASH in n3
    wide = plain_text(replication_text(view, width=140), width=200)
    assert "clock skew" in wide and "-2ms" in wide and "127.0.0.1:46609" in wide
