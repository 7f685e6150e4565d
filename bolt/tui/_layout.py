"""How the dashboard fits the terminal: which panels and which columns. Pure.

Theory of operation
-------------------
Operators run ``boltctl top`` in anything from an 80x24 SSH window to a
full-screen terminal, so the layout degrades by priority instead of
overflowing:

* ``wide`` (at least :data:`WIDE_WIDTH_MIN` x :data:`WIDE_HEIGHT_MIN`): the
  panels (commands, clients, storage, and replication and tasks when the
  node has them) in a grid two panels wide;
* ``compact`` (anything smaller): one panel at a time, the others one
  ``tab`` away, so nothing is unreachable and nothing is cut in half;
* below :data:`SPARKLINES_HEIGHT_MIN` rows the sparklines go too, leaving
  the header and the current panel.

Tables choose their columns the same way: each column has a width and a
priority; :func:`choose_columns` keeps the most important columns that fit
the table's width and shows them in their natural order.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDE_WIDTH_MIN = 120
"""Columns needed to show the four panels side by side, two by two."""
WIDE_HEIGHT_MIN = 36
"""Rows needed to show the four panels two by two."""
SPARKLINES_HEIGHT_MIN = 18
"""Below this many rows the sparklines are hidden."""

PANELS = ("commands", "clients", "storage", "replication", "tasks")
"""The panels, in ``tab`` order."""
ALWAYS_PRESENT = ("commands", "clients", "storage")
"""Panels every node has; replication (a cluster node) and tasks (a node that
has seen a task) are shown only where they have something to show."""
PANEL_TITLES = {
    "commands": "Commands",
    "clients": "Clients",
    "storage": "Storage",
    "replication": "Replication",
    "tasks": "Tasks",
}


@dataclass(frozen=True)
class Layout:
    """The arrangement for one terminal size."""

    mode: str
    """``"wide"`` (a grid two panels wide) or ``"compact"`` (one panel at a time)."""
    sparklines: bool
    """Whether the two sparklines are shown."""


def choose_layout(width: int, height: int) -> Layout:
    """The layout for a terminal of ``width`` x ``height`` cells."""
    wide = width >= WIDE_WIDTH_MIN and height >= WIDE_HEIGHT_MIN
    return Layout(mode="wide" if wide else "compact", sparklines=height >= SPARKLINES_HEIGHT_MIN)


@dataclass(frozen=True)
class Column:
    """A table column: key, heading, width in cells, priority (0 = most important)."""

    key: str
    label: str
    width: int
    priority: int


COMMAND_COLUMNS = (
    Column("name", "command", 12, 0),
    Column("rate", "calls/s", 8, 1),
    Column("p50", "p50", 8, 3),
    Column("p99", "p99", 8, 2),
    Column("errors", "errors", 8, 4),
    Column("error_rate", "err/s", 7, 6),
    Column("calls", "calls", 12, 5),
)
"""Columns of the commands table, in display order."""

CLIENT_COLUMNS = (
    Column("id", "id", 5, 8),
    Column("address", "address", 21, 0),
    Column("name", "name", 12, 1),
    Column("user", "user", 8, 2),
    Column("role", "role", 9, 7),
    Column("age", "age", 6, 5),
    Column("requests", "requests", 10, 6),
    Column("rate", "req/s", 7, 4),
    Column("command", "command", 10, 3),
)
"""Columns of the clients table, in display order."""

COLUMN_GAP = 2
"""Cells a data table adds around each column (its padding)."""


def choose_columns(
    columns: tuple[Column, ...], width: int, gap: int = COLUMN_GAP
) -> tuple[Column, ...]:
    """The most important ``columns`` that fit in ``width`` cells, in display order.

    Each column costs its width plus ``gap`` cells. The first-priority column
    is always kept, even if it alone is too wide.
    """
    chosen: set[str] = set()
    used = 0
    for column in sorted(columns, key=lambda item: item.priority):
        cost = column.width + gap
        if chosen and used + cost > width:
            continue
        chosen.add(column.key)
        used += cost
    return tuple(column for column in columns if column.key in chosen)
