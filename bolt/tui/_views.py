"""The dashboard's view objects, and how their tables are sorted and filtered. Pure.

Theory of operation
-------------------
A :class:`Frame` is everything one refresh shows for one node; it is built
by :class:`bolt.tui._model.StatsModel` from ``STATS`` replies and drawn by
the widgets. Every field that the server did not report, or that cannot be
known yet (a rate on the first refresh), is ``None`` and drawn as a dash.
The view objects are frozen, so a widget can keep the last frame while the
next one is computed. :func:`sort_rows` and :func:`filter_rows` implement
the ``s`` and ``/`` keys for both tables; :func:`shard_heat` draws the
one-line shard map that makes a hot shard stand out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

COMMAND_SORT_KEYS = ("rate", "p99", "p50", "errors", "calls", "name")
"""Columns the commands table can be sorted by, in the order ``s`` cycles them."""
CLIENT_SORT_KEYS = ("rate", "requests", "age", "address", "user", "command")
"""Columns the clients table can be sorted by, in the order ``s`` cycles them."""
_TEXT_KEYS = frozenset({"name", "address", "user", "command"})

Row = TypeVar("Row")


@dataclass(frozen=True)
class HeaderView:
    """The header line: who the node is and how busy it is."""

    node_id: str | None
    version: str | None
    uptime_seconds: float | None
    auth: str | None
    ops_per_second: float | None
    reads_per_second: float | None
    writes_per_second: float | None
    server_per_second: float | None
    hit_ratio: float | None
    keys: int | None
    databases: int | None
    memory_used: int | None
    memory_limit: int | None
    eviction_policy: str | None
    connections: int | None
    connections_max: int | None
    fsync_mode: str | None
    fsync_p99_ms: float | None
    last_offset: int | None
    ops_total: int | None


@dataclass(frozen=True)
class CommandRow:
    """One command: cumulative calls and errors, rates, recent latency."""

    name: str
    calls: int
    rate: float | None
    p50_ms: float | None
    p99_ms: float | None
    errors: int
    error_rate: float | None


@dataclass(frozen=True)
class ClientRow:
    """One connected client, as the server describes its session."""

    id: int
    address: str
    name: str | None
    user: str | None
    role: str | None
    age_seconds: float | None
    requests: int
    rate: float | None
    command: str | None


@dataclass(frozen=True)
class ShardRow:
    """One shard's keys and memory, and its share of the node's memory."""

    index: int
    keys: int
    memory: int
    share: float | None


@dataclass(frozen=True)
class StorageView:
    """The log, the snapshot, evictions/expirations and the shards."""

    segments: int | None
    wal_bytes: int | None
    appended_per_second: float | None
    durable_offset: int | None
    snapshot_age_seconds: float | None
    snapshot_offset: int | None
    snapshot_bytes: int | None
    snapshot_count: int | None
    evicted_total: int | None
    expired_total: int | None
    evictions_per_second: float | None
    expirations_per_second: float | None
    shards: tuple[ShardRow, ...]
    hot_shard: ShardRow | None
    imbalance: float | None


@dataclass(frozen=True)
class PeerRow:
    """One replication peer, as this node's ``CLUSTER`` reply describes it."""

    id: str
    address: str | None
    state: str | None
    link: str | None
    lag_events: int | None
    lag_seconds: float | None
    acked_offset: int | None
    bytes_in: int | None
    bytes_out: int | None
    bytes_in_per_second: float | None
    bytes_out_per_second: float | None
    heartbeat_seconds_ago: float | None
    clock_offset_ms: float | None
    full_syncs: int | None
    held_events: int | None


@dataclass(frozen=True)
class ReplicationView:
    """The node's replication status from ``CLUSTER`` (standalone: no peers)."""

    mode: str
    node_id: str | None
    peers: tuple[PeerRow, ...]
    pending: int | None
    last_offset: int | None = None
    healthy_peers: int | None = None

    @property
    def present(self) -> bool:
        """Whether the node replicates at all (a standalone node has no panel)."""
        return self.mode == "cluster" or bool(self.peers)


@dataclass(frozen=True)
class TaskTypeRow:
    """Queue depth of one task type, by status (every database)."""

    task_type: str
    pending: int
    claimed: int
    completed: int
    failed: int
    dead: int
    cancelled: int


@dataclass(frozen=True)
class TasksView:
    """The task coordinator's figures (``METRICS`` and ``TASK.STATS``).

    Attributes:
        types: one row per task type, most pending first.
        claims_per_second: claims between the last two refreshes (None: first one).
        dispatch_p99_ms: p99 wait from create to claim over the last interval,
            or since start when ``dispatch_p99_since_start``.
        leases_active: claimed tasks holding a lease.
        next_lease_expiry_seconds: seconds until the earliest lease expires.
        dead_letters_total: tasks that ran out of attempts, since start.
    """

    types: tuple[TaskTypeRow, ...]
    claims_per_second: float | None
    completions_per_second: float | None
    dispatch_p99_ms: float | None
    dispatch_p99_since_start: bool
    leases_active: int | None
    next_lease_expiry_seconds: float | None
    dead_letters_total: int | None
    claims_total: int | None

    @property
    def present(self) -> bool:
        """Whether the node has seen any task (else the panel is hidden)."""
        return bool(self.types) or bool(self.claims_total)


@dataclass(frozen=True)
class Frame:
    """Everything one refresh shows.

    Attributes:
        interval_seconds: server seconds since the previous reply; ``None``
            on the first reply or after a restart (rates are then ``None``).
        restarted: the server restarted since the previous reply.
        failed: the server's fatal-failure message (e.g. a disk error), if any.
    """

    header: HeaderView
    commands: tuple[CommandRow, ...]
    clients: tuple[ClientRow, ...]
    storage: StorageView
    interval_seconds: float | None
    interval_p99_ms: float | None
    ops_history: tuple[float | None, ...]
    p99_history: tuple[float | None, ...]
    restarted: bool
    failed: str | None


# --- sorting and filtering ------------------------------------------------------------


def _sort_value(row: Any, key: str) -> Any:
    attribute = {"age": "age_seconds", "p50": "p50_ms", "p99": "p99_ms"}.get(key, key)
    value = getattr(row, attribute)
    if key in _TEXT_KEYS:
        return (value or "").lower()
    return -math.inf if value is None else value


def sort_rows(rows: Iterable[Row], key: str, reverse: bool = False) -> list[Row]:
    """Sort table rows by a column: numbers largest first, text A to Z.

    Unknown numbers (``None``) sort last; ties keep a stable order by name or id.

    Args:
        rows: :class:`CommandRow` or :class:`ClientRow` items.
        key: one of :data:`COMMAND_SORT_KEYS` or :data:`CLIENT_SORT_KEYS`.
        reverse: flip the natural direction.

    Raises:
        ValueError: ``key`` is not a sortable column of these rows.
    """
    items = list(rows)
    if not items:
        return items
    known = COMMAND_SORT_KEYS if isinstance(items[0], CommandRow) else CLIENT_SORT_KEYS
    if key not in known:
        raise ValueError(f"cannot sort by {key!r}; choose one of {', '.join(known)}")
    tie = "name" if isinstance(items[0], CommandRow) else "id"
    items.sort(key=lambda row: getattr(row, tie))
    descending = key not in _TEXT_KEYS
    items.sort(key=lambda row: _sort_value(row, key), reverse=descending != reverse)
    return items


def _searchable(row: Any) -> str:
    if isinstance(row, CommandRow):
        return row.name.lower()
    fields = (row.id, row.address, row.name, row.user, row.role, row.command)
    return " ".join(str(field) for field in fields if field is not None).lower()


def filter_rows(rows: Iterable[Row], text: str) -> list[Row]:
    """Keep the rows that contain every word of ``text`` (case-insensitive).

    Commands match on their name; clients on id, address, name, user, role
    and current command. An empty ``text`` keeps everything.
    """
    words = text.lower().split()
    return [row for row in rows if all(word in _searchable(row) for word in words)]


def shard_heat(shards: Sequence[ShardRow], width: int) -> str:
    """One character per shard (or group of shards), taller for more memory.

    Args:
        shards: the shard rows.
        width: the most characters to use (groups of shards show their maximum).
    """
    if not shards or width < 1:
        return ""
    levels = "▁▂▃▄▅▆▇█"
    group = math.ceil(len(shards) / width)
    values = [
        max(shard.memory for shard in shards[start : start + group])
        for start in range(0, len(shards), group)
    ]
    top = max(values)
    if top <= 0:
        return levels[0] * len(values)
    return "".join(levels[min(int(value / top * (len(levels) - 1) + 0.5), 7)] for value in values)


SPARK_LEVELS = "▁▂▃▄▅▆▇█"


def spark_text(series: Sequence[float | None], cells: int, points_per_cell: int) -> str:
    """A one-line sparkline, newest at the right, one cell per ``points_per_cell`` refreshes.

    Each cell shows the largest known value of its group of points, scaled
    to the largest value shown. Cells without data yet (the history is
    shorter than the line) and groups with no known value are blank, so the
    time scale stays fixed and nothing is drawn that was not measured.

    Args:
        series: the history, oldest first (``None``: unknown).
        cells: the width of the line.
        points_per_cell: how many points one cell summarizes (at least 1).
    """
    if cells < 1:
        return ""
    group = max(points_per_cell, 1)
    recent = list(series)[-cells * group :]
    # Align groups on the newest point so the last cell always holds the latest refresh.
    offset = len(recent) % group
    groups = ([recent[:offset]] if offset else []) + [
        recent[start : start + group] for start in range(offset, len(recent), group)
    ]
    values = [max((v for v in chunk if v is not None), default=None) for chunk in groups]
    top = max((value for value in values if value is not None), default=None)
    glyphs = []
    for value in values:
        if value is None:
            glyphs.append(" ")
        elif not top or top <= 0:
            glyphs.append(SPARK_LEVELS[0])
        else:
            level = round(max(value, 0.0) / top * (len(SPARK_LEVELS) - 1))
            glyphs.append(SPARK_LEVELS[min(level, len(SPARK_LEVELS) - 1)])
    return "".join(glyphs).rjust(cells)
