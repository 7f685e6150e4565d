"""What the dashboard shows, computed from successive ``STATS`` replies. Pure.

Theory of operation
-------------------
The server reports cumulative counters (calls, errors, reads, writes,
evictions, latency-bucket counts) and point-in-time gauges (keys, memory,
clients). :class:`StatsModel` keeps the previous reply and turns each new
one into a :class:`Frame`: gauges are shown as they are; every rate is the
difference of a cumulative counter between two replies divided by the
difference of the server's own ``uptime_seconds`` (the server's clock, so
network jitter does not bend the rates). Nothing is estimated:

* the first reply, and the first after a server restart (another node id, a
  smaller uptime, or a counter that went down), has no rates: they are
  ``None`` and shown as a dash;
* the p99 latency of an interval comes from the latency histograms the
  server sends (the bucket counts of every command, differenced between the
  two replies and summed), interpolated inside the bucket the way the
  server does it for its own percentiles;
* a counter the server does not report (an older server without the
  hit/miss counters :data:`HIT_COUNTER` and :data:`MISS_COUNTER`) makes its
  figure ``None`` too.

The model does no I/O and reads no clock: the caller passes ``now`` (only
used when a reply has no uptime), which keeps every rule unit-testable.
The view objects it fills live in :mod:`bolt.tui._views`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

from bolt.tui._views import (
    ClientRow,
    CommandRow,
    Frame,
    HeaderView,
    ShardRow,
    StorageView,
)
from bolt.wire import StatsReply, as_stats_reply, bucket_counts, estimate_quantile

HISTORY_POINTS_MAX = 600
"""Points kept per sparkline: ten minutes at the default 1 Hz."""
HIT_COUNTER = "keys_hit_total"
"""``STATS`` counter of GET/MGET keys that were found."""
MISS_COUNTER = "keys_missed_total"
"""``STATS`` counter of GET/MGET keys that were missing."""


# --- reading a reply defensively ------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _offset(value: Any) -> int | None:
    """A log offset; the server's ``-1`` ("no record yet") becomes ``None``."""
    offset = _int(value)
    return None if offset is None or offset < 0 else offset


def _rate(new: float | None, old: float | None, seconds: float | None) -> float | None:
    """``(new - old) / seconds``, or ``None`` when unknown or the counter went down."""
    if new is None or old is None or not seconds or new < old:
        return None
    return (new - old) / seconds


def _counter_rate(
    new: Mapping[str, Any], old: Mapping[str, Any], key: str, seconds: float | None
) -> float | None:
    """The per-second rate of counter ``key`` of one reply section (see :func:`_rate`)."""
    return _rate(_number(new.get(key)), _number(old.get(key)), seconds)


# --- latency histograms -----------------------------------------------------------------


def _interval_p99(new: Mapping[str, Any], old: Mapping[str, Any]) -> float | None:
    """p99 over every request answered between two replies (``None`` if none)."""
    bounds: tuple[float, ...] | None = None
    total: list[int] = []
    for name, entry in new.items():
        parsed = bucket_counts(_map(entry).get("buckets"))
        if parsed is None:
            continue
        if bounds is None:
            bounds, total = parsed[0], [0] * len(parsed[0])
        elif parsed[0] != bounds:
            return None  # a server mixing bucket layouts: do not guess
        before = bucket_counts(_map(old.get(name)).get("buckets"))
        previous = before[1] if before is not None and before[0] == bounds else (0,) * len(bounds)
        for index, (count, earlier) in enumerate(zip(parsed[1], previous, strict=True)):
            total[index] += max(count - earlier, 0)
    return None if bounds is None else estimate_quantile(bounds, total, 0.99)


# --- the model --------------------------------------------------------------------------


class StatsModel:
    """Turns successive ``STATS`` replies of one node into :class:`Frame` objects.

    Args:
        history_points: points kept for each sparkline series.

    Raises:
        ValueError: ``history_points`` is below 1.
    """

    def __init__(self, history_points: int = HISTORY_POINTS_MAX) -> None:
        if history_points < 1:
            raise ValueError("history_points must be at least 1")
        self._previous: StatsReply | None = None
        self._previous_now = 0.0
        self.ops_history: deque[float | None] = deque(maxlen=history_points)
        self.p99_history: deque[float | None] = deque(maxlen=history_points)
        self.samples = 0

    def update(self, stats: object, now: float) -> Frame:
        """Take the next reply and compute what to show.

        Args:
            stats: the ``STATS`` reply (checked as a :class:`bolt.wire.StatsReply`).
            now: a monotonic time in seconds (used only if the reply has no uptime).

        Returns:
            The frame for this refresh.

        Raises:
            ProtocolError: ``stats`` is not a ``STATS`` map; the model is unchanged.
        """
        stats = as_stats_reply(stats)  # the typed schema shared with the server
        previous, restarted = self._previous, False
        seconds: float | None = None
        if previous is not None:
            if self._is_restart(previous, stats):
                previous, restarted = None, True
            else:
                seconds = self._seconds_between(previous, stats, now)
                if seconds is None:
                    previous = None
        old: Mapping[str, Any] = previous or {}
        commands = _map(stats.get("commands"))
        header = _header(stats, old, seconds)
        p99 = _interval_p99(commands, _map(old.get("commands"))) if previous else None
        self.ops_history.append(header.ops_per_second)
        self.p99_history.append(p99)
        self._previous, self._previous_now = stats, now
        self.samples += 1
        return Frame(
            header=header,
            commands=_command_rows(commands, _map(old.get("commands")), seconds),
            clients=_client_rows(stats.get("clients"), old.get("clients"), seconds),
            storage=_storage(stats, old, seconds),
            interval_seconds=seconds,
            interval_p99_ms=p99,
            ops_history=tuple(self.ops_history),
            p99_history=tuple(self.p99_history),
            restarted=restarted,
            failed=_text(stats.get("failed")),
        )

    @staticmethod
    def _is_restart(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        if old.get("node_id") != new.get("node_id"):
            return True
        old_up, new_up = _number(old.get("uptime_seconds")), _number(new.get("uptime_seconds"))
        if old_up is not None and new_up is not None and new_up < old_up:
            return True
        old_total = _number(_map(old.get("ops")).get("total"))
        new_total = _number(_map(new.get("ops")).get("total"))
        return old_total is not None and new_total is not None and new_total < old_total

    def _seconds_between(
        self, old: Mapping[str, Any], new: Mapping[str, Any], now: float
    ) -> float | None:
        old_up, new_up = _number(old.get("uptime_seconds")), _number(new.get("uptime_seconds"))
        seconds = new_up - old_up if old_up is not None and new_up is not None else None
        if seconds is None:
            seconds = now - self._previous_now
        return seconds if seconds > 0 else None


def _header(stats: StatsReply, old: Mapping[str, Any], seconds: float | None) -> HeaderView:
    ops, old_ops = _map(stats.get("ops")), _map(old.get("ops"))
    memory, wal = _map(stats.get("memory")), _map(stats.get("wal"))
    connections = _map(stats.get("connections"))
    return HeaderView(
        node_id=_text(stats.get("node_id")),
        version=_text(stats.get("version")),
        uptime_seconds=_number(stats.get("uptime_seconds")),
        auth=_text(stats.get("auth")),
        ops_per_second=_counter_rate(ops, old_ops, "total", seconds),
        reads_per_second=_counter_rate(ops, old_ops, "reads", seconds),
        writes_per_second=_counter_rate(ops, old_ops, "writes", seconds),
        server_per_second=_counter_rate(ops, old_ops, "server", seconds),
        hit_ratio=hit_ratio(stats, old if seconds else None),
        keys=_int(stats.get("keys")),
        databases=_int(stats.get("databases")),
        memory_used=_int(memory.get("used")),
        memory_limit=_int(memory.get("limit")),
        eviction_policy=_text(memory.get("policy")),
        connections=_int(connections.get("active")),
        connections_max=_int(connections.get("max")),
        fsync_mode=_text(wal.get("fsync_mode")),
        fsync_p99_ms=_number(wal.get("fsync_p99_ms")),
        last_offset=_offset(wal.get("last_offset")),
        ops_total=_int(ops.get("total")),
    )


def hit_ratio(stats: Mapping[str, Any], old: Mapping[str, Any] | None) -> float | None:
    """Hits / (hits + misses) over the interval (since start without ``old``).

    ``None`` when the server does not report :data:`HIT_COUNTER` and
    :data:`MISS_COUNTER`, or no read happened in the interval.
    """
    hits, misses = _number(stats.get(HIT_COUNTER)), _number(stats.get(MISS_COUNTER))
    if hits is None or misses is None:
        return None
    if old is not None:
        old_hits, old_misses = _number(old.get(HIT_COUNTER)), _number(old.get(MISS_COUNTER))
        if old_hits is None or old_misses is None or hits < old_hits or misses < old_misses:
            return None
        hits, misses = hits - old_hits, misses - old_misses
    return hits / (hits + misses) if hits + misses > 0 else None


def _command_rows(
    commands: Mapping[str, Any], old: Mapping[str, Any], seconds: float | None
) -> tuple[CommandRow, ...]:
    rows = []
    for name, raw in commands.items():
        entry, before = _map(raw), _map(old.get(name))
        calls, errors = _int(entry.get("calls")) or 0, _int(entry.get("errors")) or 0
        latency = _map(entry.get("latency_ms"))
        recent = _int(latency.get("window_calls"))
        known = seconds is not None  # a command first seen this interval started at 0
        rows.append(
            CommandRow(
                name=str(name),
                calls=calls,
                rate=_rate(calls, _int(before.get("calls")) or 0, seconds) if known else None,
                p50_ms=None if recent == 0 else _number(latency.get("p50")),
                p99_ms=None if recent == 0 else _number(latency.get("p99")),
                errors=errors,
                error_rate=_rate(errors, _int(before.get("errors")) or 0, seconds)
                if known
                else None,
            )
        )
    return tuple(rows)


def _client_rows(clients: Any, old: Any, seconds: float | None) -> tuple[ClientRow, ...]:
    before = {
        _int(item.get("id")): _int(item.get("requests"))
        for item in _list(old)
        if isinstance(item, Mapping)
    }
    rows = []
    for item in _list(clients):
        if not isinstance(item, Mapping) or _int(item.get("id")) is None:
            continue
        client_id = _int(item.get("id")) or 0
        requests = _int(item.get("requests")) or 0
        rows.append(
            ClientRow(
                id=client_id,
                address=_text(item.get("address")) or "?",
                name=_text(item.get("name")),
                user=_text(item.get("user")),
                role=_text(item.get("role")),
                age_seconds=_number(item.get("age_seconds")),
                requests=requests,
                rate=_rate(requests, before.get(client_id), seconds),
                command=_text(item.get("current_command")),
            )
        )
    return tuple(rows)


def _storage(stats: StatsReply, old: Mapping[str, Any], seconds: float | None) -> StorageView:
    wal, old_wal = _map(stats.get("wal")), _map(old.get("wal"))
    snapshot = _map(stats.get("snapshot"))
    memory, old_memory = _map(stats.get("memory")), _map(old.get("memory"))
    shards = _shard_rows(stats.get("shards"))
    hot = max(shards, key=lambda shard: (shard.memory, shard.keys), default=None)
    mean = sum(shard.memory for shard in shards) / len(shards) if shards else 0
    return StorageView(
        segments=_int(wal.get("segments")),
        wal_bytes=_int(wal.get("bytes_on_disk")),
        appended_per_second=_counter_rate(wal, old_wal, "bytes_appended", seconds),
        durable_offset=_offset(wal.get("durable_offset")),
        snapshot_age_seconds=_number(snapshot.get("age_seconds")),
        snapshot_offset=_offset(snapshot.get("covered_offset")),
        snapshot_bytes=_int(snapshot.get("bytes")),
        snapshot_count=_int(snapshot.get("count")),
        evicted_total=_int(memory.get("evicted")),
        expired_total=_int(memory.get("expired")),
        evictions_per_second=_counter_rate(memory, old_memory, "evicted", seconds),
        expirations_per_second=_counter_rate(memory, old_memory, "expired", seconds),
        shards=shards,
        hot_shard=hot if hot is not None and hot.memory > 0 else None,
        imbalance=(hot.memory / mean) if hot is not None and mean > 0 else None,
    )


def _shard_rows(shards: Any) -> tuple[ShardRow, ...]:
    entries = [item for item in _list(shards) if isinstance(item, Mapping)]
    total = sum(_int(item.get("memory")) or 0 for item in entries)
    rows = []
    for position, item in enumerate(entries):
        index = _int(item.get("index"))
        memory = _int(item.get("memory")) or 0
        rows.append(
            ShardRow(
                index=position if index is None else index,
                keys=_int(item.get("keys")) or 0,
                memory=memory,
                share=memory / total if total else None,
            )
        )
    return tuple(rows)
