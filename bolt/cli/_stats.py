"""``boltctl stats``: a short summary by default, every number with ``--all``.

The ``STATS`` reply holds hundreds of numbers (latency buckets per
command, one entry per shard and per client); flattened, that is hundreds
of lines nobody reads in a terminal. By default ``boltctl stats`` prints a
dozen ``name:value`` lines, each a sentence-sized answer to a question an
operator asks first (is it up, how busy, how full, how durable);
``--all`` prints the whole reply as flattened ``key:value`` lines and
``--json`` the whole reply as JSON. The reply is read through its schema,
:class:`bolt.wire.StatsReply`, with ``.get`` for every section so an older
or newer server still gets a summary.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # bolt.wire imports msgpack: ``boltctl --help`` stays cheap
    from bolt.wire import StatsReply


def _ratio(part: int, whole: int) -> str:
    return "-" if whole <= 0 else f"{part / whole * 100:.1f}%"


def summary(stats: StatsReply) -> dict[str, str]:
    """The default ``boltctl stats`` lines, as ``{name: text}`` in print order."""
    connections = stats.get("connections", {})
    ops = stats.get("ops", {})
    memory = stats.get("memory", {})
    wal = stats.get("wal", {})
    snapshot = stats.get("snapshot", {})
    hits, misses = stats.get("keys_hit_total", 0), stats.get("keys_missed_total", 0)
    limit = memory.get("limit", 0)
    lines = {
        "node_id": stats["node_id"],
        "version": str(stats.get("version", "")),
        "uptime_seconds": str(stats.get("uptime_seconds", "")),
        "auth": str(stats.get("auth", "")),
        "ready": "yes" if stats.get("ready") else "no",
        "connections": f"{connections.get('active', 0)} of {connections.get('max', 0)}"
        f" (refused {connections.get('refused', 0)})",
        "ops_total": f"{ops.get('total', 0)} (reads {ops.get('reads', 0)},"
        f" writes {ops.get('writes', 0)}, server {ops.get('server', 0)})",
        "keys": f"{stats.get('keys', 0)} in {stats.get('databases', 0)} database(s)",
        "hit_ratio": f"{_ratio(hits, hits + misses)} ({hits} hits, {misses} misses)",
        "memory_bytes": f"{memory.get('used', 0)} of {limit or 'unlimited'}"
        f" ({_ratio(memory.get('used', 0), limit)}, policy {memory.get('policy', '-')},"
        f" evicted {memory.get('evicted', 0)}, expired {memory.get('expired', 0)})",
        "wal": f"fsync {wal.get('fsync_mode', '-')}, last offset {wal.get('last_offset', -1)},"
        f" durable {wal.get('durable_offset', -1)}, fsync p99 {wal.get('fsync_p99_ms', 0)} ms",
        "snapshot": _snapshot_line(snapshot),
        "errors_total": str(sum(item.get("count", 0) for item in stats.get("errors", []))),
    }
    failed = stats.get("failed")
    if failed:
        lines["failed"] = str(failed)
    return lines


def _snapshot_line(snapshot: Any) -> str:
    age = snapshot.get("age_seconds")
    if age is None:
        return "none yet"
    return f"{age} s ago, covers offset {snapshot.get('covered_offset', -1)}"


def call(client: Any, args: argparse.Namespace) -> Any:
    """The ``stats`` command's SDK call: the summary, or everything."""
    from bolt.wire import as_stats_reply

    stats = client.stats()
    if args.all or getattr(args, "json", False):
        return stats
    return summary(as_stats_reply(stats))
