"""The ``STATS`` reply: one dict with everything ``boltctl stats``/``top`` show.

Theory of operation
-------------------
``STATS`` is built on demand from two sources and nothing else: the
engine's frozen :class:`~bolt.node.EngineStatistics` snapshot and the
server's own counters (connections, per-command calls/errors/latency,
sessions). No number is estimated here except the latency percentiles,
which come from fixed buckets (see :mod:`bolt.server._latency`). The live
dashboard asks once per refresh, so the reply carries every section at
once:

``node_id, version, uptime_seconds, mode, auth, ready, connections,
commands, ops, keys, databases, memory, wal, snapshot, shards, clients,
hlc, errors``. Their types are :class:`bolt.wire.StatsReply` (the schema
``boltctl stats`` and the dashboard read with); mypy checks this builder
against it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import cast

from bolt import __version__
from bolt.node import EngineStatistics
from bolt.server._latency import CommandCounters, percentile_seconds
from bolt.server._session import Session
from bolt.wire import (
    ClientStats,
    CommandStats,
    ConnectionStats,
    OpsStats,
    SnapshotStats,
    StatsReply,
    WalStats,
)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 4)


def command_section(counters: Iterable[CommandCounters]) -> dict[str, CommandStats]:
    """``{NAME: {calls, errors, latency_ms: {p50, p99}, buckets}}`` for used commands."""
    section: dict[str, CommandStats] = {}
    for item in counters:
        if not item.calls and not item.errors:
            continue
        recent = item.recent_counts()
        section[item.name] = {
            "calls": item.calls,
            "errors": item.errors,
            "latency_ms": {
                "p50": _ms(percentile_seconds(recent, 0.50)),
                "p99": _ms(percentile_seconds(recent, 0.99)),
                "window_calls": sum(recent),
            },
            "seconds_total": round(item.seconds_total, 6),
            "buckets": [
                ["+Inf" if bound == float("inf") else _ms(bound), count]
                for bound, count in item.cumulative_buckets()
            ],
        }
    return section


def ops_section(counters: Iterable[CommandCounters]) -> OpsStats:
    """Answered requests by access class: reads, writes, server commands."""
    ops = {"reads": 0, "writes": 0, "server": 0, "total": 0}
    for item in counters:
        key = {"read": "reads", "write": "writes"}.get(item.access, "server")
        ops[key] += item.calls
        ops["total"] += item.calls
    return OpsStats(
        reads=ops["reads"], writes=ops["writes"], server=ops["server"], total=ops["total"]
    )


def wal_section(stats: EngineStatistics) -> WalStats:
    """The log: fsync mode, segments, bytes, fsyncs, p99 fsync latency, offsets."""
    log = stats.log
    if log is None:
        return {
            "fsync_mode": stats.fsync_mode,
            "segments": 0,
            "bytes_on_disk": 0,
            "bytes_appended": 0,
            "fsyncs_total": 0,
            "fsync_p99_ms": 0.0,
            "last_offset": stats.last_offset,
            "durable_offset": stats.last_offset,
        }
    return {
        "fsync_mode": stats.fsync_mode,
        "segments": log.segments,
        "bytes_on_disk": log.bytes_on_disk,
        "bytes_appended": log.bytes_appended_total,
        "fsyncs_total": log.fsyncs_total,
        "fsync_p99_ms": round(log.fsync_latency_ms_p99, 4),
        "last_offset": stats.last_offset,
        "durable_offset": log.durable_offset - 1,  # the last fsynced record
    }


def snapshot_section(stats: EngineStatistics, now: float) -> SnapshotStats:
    """LMDB snapshots: age of the newest, offset covered, size, count."""
    snapshot = stats.snapshot
    if snapshot is None:
        return {"age_seconds": None, "covered_offset": -1, "bytes": 0, "count": 0}
    age = None if snapshot.last_at is None else round(max(now - snapshot.last_at, 0.0), 3)
    return {
        "age_seconds": age,
        "covered_offset": snapshot.covered_offset,
        "bytes": snapshot.bytes_on_disk,
        "count": snapshot.snapshots_total,
        "last_seconds": round(snapshot.last_seconds, 4),
    }


def build_stats(
    stats: EngineStatistics,
    *,
    started_at: float,
    mode: str,
    connections: Mapping[str, int],
    counters: Iterable[CommandCounters],
    sessions: Iterable[Session],
    errors: Mapping[tuple[int, str], int],
    keys_read_total: int,
    memory_warning_threshold: int,
    keys_hit_total: int = 0,
    keys_missed_total: int = 0,
) -> StatsReply:
    """Assemble the ``STATS`` dict (see the module docstring for its sections).

    Args:
        stats: the engine's snapshot, taken just now.
        started_at: the server's start, ``time.time()``.
        mode: the auth mode (``required``, ``protected``, ``disabled``).
        connections: ``{"active", "total", "max", "refused"}``.
        counters: every command's counters.
        sessions: the live sessions.
        errors: error replies by ``(code, name)``.
        keys_read_total: keys read by read commands.
        keys_hit_total: GET/MGET keys that were found.
        keys_missed_total: GET/MGET keys that were missing.
        memory_warning_threshold: the configured warning level, percent of the limit.
    """
    now = time.time()
    counters = list(counters)
    monotonic_now = time.monotonic()
    return {
        "node_id": stats.node_id,
        "version": __version__,
        "uptime_seconds": round(now - started_at, 3),
        "mode": "standalone",
        "auth": mode,
        "ready": stats.ready,
        "connections": cast(ConnectionStats, dict(connections)),
        "commands": command_section(counters),
        "ops": ops_section(counters),
        "keys": stats.keys,
        "databases": stats.databases,
        "events_total": stats.events_total,
        "keys_written_total": stats.keys_written_total,
        "keys_deleted_total": stats.keys_deleted_total,
        "keys_read_total": keys_read_total,
        "keys_hit_total": keys_hit_total,
        "keys_missed_total": keys_missed_total,
        "memory": {
            "used": stats.memory_used_bytes,
            "limit": stats.memory_limit_bytes,
            "policy": stats.eviction_policy,
            "evicted": stats.evicted_total,
            "expired": stats.expired_total,
            "warning_threshold": memory_warning_threshold,
        },
        "wal": wal_section(stats),
        "snapshot": snapshot_section(stats, now),
        "shards": [
            {"index": s.index, "keys": s.keys, "memory": s.memory_bytes, "offset": s.offset}
            for s in stats.shards
        ],
        "clients": [cast(ClientStats, session.describe(monotonic_now)) for session in sessions],
        "hlc": stats.hlc,
        "errors": [
            {"code": code, "name": name, "count": count}
            for (code, name), count in sorted(errors.items())
        ],
        "failed": stats.failed,
    }
