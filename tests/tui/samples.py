"""Sample ``STATS`` replies for the pure tests (the shape bolt.server sends)."""

from __future__ import annotations

from typing import Any

BOUNDS = [0.1, 0.25, 0.5, 1.0, "+Inf"]


def buckets(*counts: int) -> list[list[Any]]:
    """A cumulative STATS bucket list from per-bucket counts."""
    running, result = 0, []
    for bound, count in zip(BOUNDS, counts, strict=True):
        running += count
        result.append([bound, running])
    return result


def stats(
    uptime: float = 10.0,
    total: int = 100,
    reads: int = 60,
    writes: int = 40,
    get_calls: int = 60,
    get_buckets: tuple[int, ...] = (60, 0, 0, 0, 0),
    node_id: str = "n1",
    **extra: Any,
) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "node_id": node_id,
        "version": "0.1.0",
        "uptime_seconds": uptime,
        "auth": "disabled",
        "connections": {"active": 2, "total": 5, "max": 1000, "refused": 0},
        "commands": {
            "GET": {
                "calls": get_calls,
                "errors": 1,
                "latency_ms": {"p50": 0.05, "p99": 0.09, "window_calls": get_calls},
                "buckets": buckets(*get_buckets),
            },
            "PUT": {
                "calls": writes,
                "errors": 0,
                "latency_ms": {"p50": 0.2, "p99": 0.4, "window_calls": 0},
                "buckets": buckets(0, writes, 0, 0, 0),
            },
        },
        "ops": {"reads": reads, "writes": writes, "server": 0, "total": total},
        "keys": 40,
        "databases": 1,
        "memory": {
            "used": 4096,
            "limit": 1 << 30,
            "policy": "allkeys-lru",
            "evicted": 0,
            "expired": 10,
        },
        "wal": {
            "fsync_mode": "batch",
            "segments": 2,
            "bytes_on_disk": 10_000,
            "bytes_appended": 9000,
            "fsync_p99_ms": 1.5,
            "last_offset": 39,
            "durable_offset": 30,
        },
        "snapshot": {"age_seconds": None, "covered_offset": -1, "bytes": 0, "count": 0},
        "shards": [
            {"index": 0, "keys": 10, "memory": 1000},
            {"index": 1, "keys": 30, "memory": 3000},
        ],
        "clients": [
            {"id": 1, "address": "127.0.0.1:1", "name": "a", "user": "admin", "role": "admin",
             "age_seconds": 3.0, "requests": 50, "current_command": None},
        ],
        "failed": None,
    }  # fmt: skip
    reply.update(extra)
    return reply
