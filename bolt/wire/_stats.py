"""The schema of the ``STATS`` reply, shared by the server and every reader.

Theory of operation
-------------------
``STATS`` answers with one msgpack map. Its shape is written down once,
here, as :class:`typing.TypedDict` classes: the server's builder
(:mod:`bolt.server._stats`) is declared to return a :class:`StatsReply`, so
mypy checks every key and value type it puts in, and the readers
(``boltctl stats``, the dashboard's model) read the same names through the
same types. A TypedDict costs nothing at run time (the reply stays a plain
dict on the server's side), which matters because the dashboard asks for it
once a second.

A reader may meet an older or newer server, so :func:`as_stats_reply` checks
only what every version has (a map with a ``node_id``) and readers treat
every other section as possibly absent (``.get``). New fields are appended
to the end of their section; a field is never renamed or given another type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, cast

from bolt.errors import ProtocolError


class ConnectionStats(TypedDict):
    """Client connections: open now, accepted since start, the limit, refused."""

    active: int
    total: int
    max: int
    refused: int


class LatencyStats(TypedDict):
    """Percentiles (ms) over the recent window, and how many calls it holds."""

    p50: float
    p99: float
    window_calls: int


class CommandStats(TypedDict):
    """One command's counters; ``buckets`` are cumulative ``[bound_ms | "+Inf", count]``."""

    calls: int
    errors: int
    latency_ms: LatencyStats
    seconds_total: float
    buckets: list[list[Any]]


class OpsStats(TypedDict):
    """Answered requests by access class."""

    reads: int
    writes: int
    server: int
    total: int


class MemoryStats(TypedDict):
    """Memory use against the limit (bytes), the policy and what it removed."""

    used: int
    limit: int
    policy: str
    evicted: int
    expired: int
    warning_threshold: int


class WalStats(TypedDict):
    """The log: fsync mode, segments, bytes, fsyncs, offsets (-1: none yet)."""

    fsync_mode: str
    segments: int
    bytes_on_disk: int
    bytes_appended: int
    fsyncs_total: int
    fsync_p99_ms: float
    last_offset: int
    durable_offset: int


class SnapshotStats(TypedDict, total=False):
    """LMDB snapshots (``age_seconds`` is None before the first one)."""

    age_seconds: float | None
    covered_offset: int
    bytes: int
    count: int
    last_seconds: float


class ShardStats(TypedDict):
    """One state shard: keys, memory (bytes) and the last offset applied."""

    index: int
    keys: int
    memory: int
    offset: int


class ClientStats(TypedDict):
    """One connected client (shown to admins only)."""

    id: int
    address: str
    name: str | None
    user: str | None
    role: str | None
    age_seconds: float
    requests: int
    current_command: str | None


class ErrorCount(TypedDict):
    """Error replies sent, by code."""

    code: int
    name: str
    count: int


class StatsReply(TypedDict):
    """The whole ``STATS`` reply, section by section (see each class)."""

    node_id: str
    version: str
    uptime_seconds: float
    mode: str
    auth: str
    ready: bool
    connections: ConnectionStats
    commands: dict[str, CommandStats]
    ops: OpsStats
    keys: int
    databases: int
    events_total: int
    keys_written_total: int
    keys_deleted_total: int
    keys_read_total: int
    keys_hit_total: int
    keys_missed_total: int
    memory: MemoryStats
    wal: WalStats
    snapshot: SnapshotStats
    shards: list[ShardStats]
    clients: list[ClientStats]
    hlc: int
    errors: list[ErrorCount]
    failed: str | None


def as_stats_reply(reply: object) -> StatsReply:
    """Check that a ``STATS`` result is a stats map and type it as one.

    Only the part every server version sends is checked (a map with a
    string ``node_id``); read the other sections with ``.get``.

    Raises:
        ProtocolError: ``reply`` is not a ``STATS`` map.
    """
    if not isinstance(reply, Mapping) or not isinstance(reply.get("node_id"), str):
        raise ProtocolError(f"not a STATS reply: {type(reply).__name__}")
    return cast(StatsReply, reply)
