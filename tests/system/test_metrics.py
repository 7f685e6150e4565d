"""The metrics port (/metrics, /health, /ready) and the METRICS command, on the real daemon."""

from __future__ import annotations

import re
import socket
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from bolt.testing import BoltDaemon

DaemonFactory = Callable[..., BoltDaemon]

REFERENCE_NAMES = [
    "bolt_active_connections",
    "bolt_total_connections",
    "bolt_operations_total",
    "bolt_expired_keys_total",
    "bolt_keys_written_total",
    "bolt_keys_read_total",
    "bolt_keys_deleted_total",
    "bolt_keys_total",
    "bolt_databases_total",
    "bolt_uptime_seconds",
    "bolt_pending_replication_total",
]
NEW_NAMES = [
    "bolt_memory_used_bytes",
    "bolt_memory_limit_bytes",
    "bolt_evicted_keys_total",
    "bolt_wal_bytes_total",
    "bolt_wal_fsyncs_total",
    "bolt_wal_fsync_p99_seconds",
    "bolt_request_duration_seconds_bucket",
    "bolt_errors_total",
    "bolt_ready",
]


def get(url: str, method: str = "GET") -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def sample(text: str, name: str, labels: str = "") -> float:
    pattern = "^" + re.escape(name + (f"{{{labels}}}" if labels else "")) + r" (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{name}{{{labels}}} not in metrics"
    return float(match.group(1))


def test_metrics_reflect_real_work(bolt_daemon: BoltDaemon) -> None:
    with bolt_daemon.client() as client:
        for index in range(3):
            client.put(f"k{index}", "v")
        client.put("other", "v", database="db2")
        assert client.mget(["k0", "k1", "missing"]) == ["v", "v", None]
        client.get("k2")
        client.delete("k0")
        client.incr("n")
        client.sadd("s", "a")
        client.rpush("l", "a")
        with pytest.raises(Exception, match="wrong kind"):
            client.incr("s")
        status, text, headers = get(bolt_daemon.metrics_url + "/metrics")
        assert status == 200
        assert headers["Content-Type"].startswith("text/plain")
        for name in REFERENCE_NAMES + NEW_NAMES:
            assert re.search(rf"^{name}(\{{| )", text, re.MULTILINE), name
        assert sample(text, "bolt_active_connections") == 1
        assert sample(text, "bolt_total_connections") >= 1
        assert sample(text, "bolt_operations_total", 'type="put"') == 4
        assert sample(text, "bolt_operations_total", 'type="mget"') == 1
        assert sample(text, "bolt_operations_total", 'type="del"') == 1
        assert sample(text, "bolt_operations_total", 'type="set"') == 1
        assert sample(text, "bolt_operations_total", 'type="list"') == 1
        assert sample(text, "bolt_keys_read_total") == 4  # MGET of 3 keys + one GET
        assert sample(text, "bolt_keys_total") == 6
        assert sample(text, "bolt_databases_total") == 2
        assert sample(text, "bolt_keys_deleted_total") == 1
        assert sample(text, "bolt_errors_total", 'code="102",name="WRONGTYPE"') == 1
        assert sample(text, "bolt_request_duration_seconds_count", 'command="PUT"') == 4
        assert sample(text, "bolt_wal_bytes_total") > 0
        assert sample(text, "bolt_memory_used_bytes") > 0
        assert sample(text, "bolt_ready") == 1
        assert sample(text, "bolt_pending_replication_total") == 0
        command_text = client.metrics()
        assert isinstance(command_text, str)
        assert "bolt_operations_total" in command_text


def test_health_ready_and_other_paths(bolt_daemon: BoltDaemon) -> None:
    base = bolt_daemon.metrics_url
    assert get(base + "/health")[:2] == (200, "ok\n")
    assert get(base + "/ready")[:2] == (200, "ready\n")
    assert get(base + "/ready?verbose=1")[0] == 200
    assert get(base + "/nope")[0] == 404
    assert get(base + "/metrics", method="POST")[0] == 405
    status, body, headers = get(base + "/health", method="HEAD")
    assert (status, body, headers["Content-Length"]) == (200, "", "3")


def test_garbage_on_the_metrics_port(bolt_daemon: BoltDaemon) -> None:
    assert bolt_daemon.metrics_port is not None
    with socket.create_connection((bolt_daemon.host, bolt_daemon.metrics_port), 5) as raw:
        raw.sendall(b"X" * 20_000)
        assert raw.recv(100).startswith(b"HTTP/1.1 431")
    with socket.create_connection((bolt_daemon.host, bolt_daemon.metrics_port), 5) as raw:
        raw.sendall(b"nonsense\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400")
    assert get(bolt_daemon.metrics_url + "/health")[0] == 200


def test_stats_reply_sections(bolt_daemon: BoltDaemon) -> None:
    with bolt_daemon.client(client_name="stats-test") as client:
        client.put("a", "1")
        client.get("a")
        stats = client.stats()
    for section in (
        "node_id", "version", "uptime_seconds", "mode", "connections", "commands", "ops",
        "keys", "databases", "memory", "wal", "snapshot", "shards", "clients", "hlc",
    ):  # fmt: skip
        assert section in stats, section
    assert stats["node_id"] == bolt_daemon.node_id
    assert stats["mode"] == "standalone"
    assert stats["connections"]["active"] == 1
    assert stats["connections"]["max"] == 1000
    assert stats["commands"]["PUT"]["calls"] == 1
    assert stats["commands"]["GET"]["latency_ms"]["p99"] > 0
    assert stats["commands"]["GET"]["buckets"][-1] == ["+Inf", 1]
    assert stats["ops"]["writes"] == 1 and stats["ops"]["reads"] == 1
    assert stats["keys"] == 1
    assert stats["memory"]["policy"] == "allkeys-lru"
    assert stats["wal"]["fsync_mode"] == "batch"
    assert stats["wal"]["last_offset"] >= 0
    assert len(stats["shards"]) == 64
    assert sum(shard["keys"] for shard in stats["shards"]) == 1
    (me,) = stats["clients"]
    assert me["name"] == "stats-test" and me["requests"] >= 3 and me["user"] == "admin"


def test_metrics_can_be_disabled(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory(env={"BOLT_METRICS_ENABLED": "false"})
    assert daemon.metrics_port is None
    with daemon.client() as client:
        assert "bolt_active_connections" in client.metrics()


def test_hits_and_misses_are_counted_for_get_and_mget(bolt_daemon: BoltDaemon) -> None:
    with bolt_daemon.client() as client:
        client.put("present", "1")
        assert client.get("present") == "1"
        assert client.get("absent") is None
        assert client.mget(["present", "absent", "also-absent"]) == ["1", None, None]
        stats = client.stats()
        assert (stats["keys_hit_total"], stats["keys_missed_total"]) == (2, 3)
        text = client.metrics()
    assert sample(text, "bolt_keyspace_hits_total") == 2
    assert sample(text, "bolt_keyspace_misses_total") == 3
