"""The text of the Replication and Tasks panels, fitted to the panel's width.

Theory of operation
-------------------
Both panels are a summary line or two and a small table. The tables pick
their columns the way the data tables do (:func:`bolt.tui._layout.choose_columns`:
by priority, so 80 columns keep the figures that matter most and a wide
terminal shows all of them) and are drawn as fixed-width text lines, so
nothing wraps and nothing is cut mid-number. Unknown figures are dashes.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from bolt.tui._format import (
    DASH,
    fmt_bytes,
    fmt_count,
    fmt_duration,
    fmt_ms,
    fmt_rate,
    fmt_text,
)
from bolt.tui._layout import Column, choose_columns
from bolt.tui._views import PeerRow, ReplicationView, TasksView, TaskTypeRow

_LABEL = "bold"
STATE_STYLES = {"Healthy": "green", "Suspect": "yellow", "Dead": "red"}

PEER_COLUMNS = (
    Column("id", "peer", 10, 0),
    Column("address", "address", 21, 9),
    Column("state", "state", 8, 1),
    Column("link", "link", 10, 8),
    Column("lag_events", "lag ev", 7, 2),
    Column("lag_seconds", "lag s", 6, 3),
    Column("acked", "acked", 9, 5),
    Column("in", "in/s", 10, 6),
    Column("out", "out/s", 10, 4),
    Column("heartbeat", "hb", 5, 7),
    Column("clock", "clock", 7, 10),
    Column("full", "full", 4, 11),
)
"""Columns of the peers table, in display order."""

TASK_COLUMNS = (
    Column("type", "type", 14, 0),
    Column("pending", "pending", 8, 1),
    Column("claimed", "claimed", 8, 2),
    Column("dead", "dead", 6, 3),
    Column("failed", "failed", 7, 5),
    Column("completed", "done", 9, 4),
    Column("cancelled", "cancel", 7, 6),
)
"""Columns of the task types table, in display order."""

_GAP = 1


def _table(
    columns: Sequence[Column], rows: Sequence[dict[str, Text | str]], width: int
) -> list[Text]:
    """Fixed-width lines: the columns that fit ``width`` (by priority), a heading first."""
    chosen = choose_columns(tuple(columns), width + _GAP, gap=_GAP)
    heading = Text(no_wrap=True, style="bold")
    for index, column in enumerate(chosen):
        heading.append((" " if index else "") + _cell(column, column.label, index).plain)
    lines = [heading]
    for row in rows:
        line = Text(no_wrap=True)
        for index, column in enumerate(chosen):
            if index:
                line.append(" ")
            line.append_text(_cell(column, row.get(column.key, DASH), index))
        lines.append(line)
    return lines


def _cell(column: Column, value: Text | str, index: int) -> Text:
    text = value.copy() if isinstance(value, Text) else Text(value)
    text.truncate(column.width, overflow="ellipsis")
    if index == 0:  # the first column (a name) is left-aligned
        text.pad_right(column.width - text.cell_len)
    else:
        text.pad_left(column.width - text.cell_len)
    return text


def _summary(*parts: tuple[str, str]) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for index, (label, value) in enumerate(parts):
        if index:
            text.append(" │ ", style="dim")
        text.append(f"{label} ", style=_LABEL)
        text.append(value)
    return text


# --- replication ----------------------------------------------------------------------


def peer_cells(peer: PeerRow) -> dict[str, Text | str]:
    """The cells of one peer row, by column key."""
    lag = DASH if peer.lag_seconds is None else f"{peer.lag_seconds:.1f}"
    clock = DASH if peer.clock_offset_ms is None else f"{peer.clock_offset_ms:+.0f}ms"
    link = peer.link or DASH
    return {
        "id": peer.id,
        "address": fmt_text(peer.address),
        "state": Text(fmt_text(peer.state), style=STATE_STYLES.get(peer.state or "", "")),
        "link": Text(link, style="bold yellow" if link == "clock skew" else ""),
        "lag_events": fmt_count(peer.lag_events),
        "lag_seconds": lag,
        "acked": fmt_count(peer.acked_offset),
        "in": _byte_rate(peer.bytes_in_per_second),
        "out": _byte_rate(peer.bytes_out_per_second),
        "heartbeat": fmt_duration(peer.heartbeat_seconds_ago)
        if peer.heartbeat_seconds_ago is None or peer.heartbeat_seconds_ago >= 1
        else "<1s",
        "clock": clock,
        "full": fmt_count(peer.full_syncs),
    }


def _byte_rate(value: float | None) -> str:
    return DASH if value is None else f"{fmt_bytes(value)}/s".replace(" ", "")


def replication_text(view: ReplicationView | None, width: int = 76) -> RenderableType:
    """The replication panel: this node's offset and pending events, one row per peer."""
    if view is None:
        return Text("waiting for the first CLUSTER reply…", style="dim")
    if not view.present:
        return Text(f"{view.mode}: this node replicates to nobody", style="dim")
    healthy = f"{fmt_count(view.healthy_peers)}/{len(view.peers)}"
    summary = _summary(
        ("node", fmt_text(view.node_id)),
        ("offset", fmt_count(view.last_offset)),
        ("healthy", healthy),
        ("pending", fmt_count(view.pending)),
    )
    summary.truncate(width, overflow="ellipsis")
    totals = Text(no_wrap=True, style="dim")
    totals.append(
        "bytes in/out since start: "
        + ", ".join(
            f"{peer.id} {fmt_bytes(peer.bytes_in)}/{fmt_bytes(peer.bytes_out)}"
            for peer in view.peers
        )
    )
    totals.truncate(width, overflow="ellipsis")
    table = _table(PEER_COLUMNS, [peer_cells(peer) for peer in view.peers], width)
    return Group(summary, *table, totals)


# --- tasks ------------------------------------------------------------------------------


def task_cells(row: TaskTypeRow) -> dict[str, Text | str]:
    """The cells of one task-type row, by column key."""
    return {
        "type": row.task_type,
        "pending": fmt_count(row.pending),
        "claimed": fmt_count(row.claimed),
        "dead": Text(fmt_count(row.dead), style="bold red" if row.dead else ""),
        "failed": fmt_count(row.failed),
        "completed": fmt_count(row.completed),
        "cancelled": fmt_count(row.cancelled),
    }


def tasks_text(view: TasksView | None, width: int = 76) -> RenderableType:
    """The tasks panel: claims/s, dispatch p99, leases, dead letters, depth per type."""
    if view is None or not view.present:
        return Text("no tasks on this node", style="dim")
    p99 = fmt_ms(view.dispatch_p99_ms)
    if view.dispatch_p99_ms is not None and view.dispatch_p99_since_start:
        p99 += " (since start)"
    first = _summary(
        ("claims/s", fmt_rate(view.claims_per_second)),
        ("done/s", fmt_rate(view.completions_per_second)),
        ("p99 create→claim", p99),
    )
    expiry = view.next_lease_expiry_seconds
    next_expiry = DASH if expiry is None else f"in {expiry:.1f}s"
    dead = fmt_count(view.dead_letters_total)
    second = _summary(
        ("leases", fmt_count(view.leases_active)),
        ("next expiry", next_expiry),
        ("dead letters", dead),
    )
    if view.dead_letters_total:
        second.stylize("bold red", len(second.plain) - len(dead))
    for line in (first, second):
        line.truncate(width, overflow="ellipsis")
    table = _table(TASK_COLUMNS, [task_cells(row) for row in view.types], width)
    return Group(first, second, *table)
