"""``boltctl stats``'s summary, read through the STATS schema."""

from __future__ import annotations

import pytest

from bolt.cli._stats import summary
from bolt.errors import ProtocolError
from bolt.wire import as_stats_reply


def test_summary_of_a_reply_with_only_a_node_id() -> None:
    lines = summary(as_stats_reply({"node_id": "n1"}))
    assert lines["node_id"] == "n1"
    assert lines["snapshot"] == "none yet" and lines["hit_ratio"].startswith("-")
    assert "failed" not in lines


def test_summary_numbers() -> None:
    reply = {
        "node_id": "n1",
        "ready": True,
        "connections": {"active": 3, "total": 9, "max": 100, "refused": 2},
        "keys_hit_total": 3,
        "keys_missed_total": 1,
        "memory": {"used": 50, "limit": 200, "policy": "noeviction", "evicted": 0, "expired": 4},
        "snapshot": {"age_seconds": 1.5, "covered_offset": 41},
        "errors": [{"code": 103, "name": "WRONGTYPE", "count": 5}],
        "failed": "disk full",
    }
    lines = summary(as_stats_reply(reply))
    assert lines["connections"] == "3 of 100 (refused 2)"
    assert lines["hit_ratio"] == "75.0% (3 hits, 1 misses)"
    assert lines["memory_bytes"].startswith("50 of 200 (25.0%, policy noeviction")
    assert lines["snapshot"] == "1.5 s ago, covers offset 41"
    assert lines["errors_total"] == "5" and lines["failed"] == "disk full"


@pytest.mark.parametrize("reply", [None, [], {"version": "1"}, {"node_id": 3}])
def test_a_reply_that_is_not_stats_is_refused(reply: object) -> None:
    with pytest.raises(ProtocolError):
        as_stats_reply(reply)
