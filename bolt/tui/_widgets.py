"""The dashboard's widgets: header, banner, sparklines, tables and text panels.

Theory of operation
-------------------
Widgets hold no state of their own beyond what they last drew: the node
view hands each one a :class:`~bolt.tui._views.Frame` (or a part of it) per
refresh and the widget redraws. The text of the header, the banner and the
text panels is built by plain functions (``header_text``, ``storage_text``,
``replication_text``) from the frame, so their wording is testable without
a terminal, and every widget keeps the plain text it shows in ``plain``
for tests and screen captures. Tables keep the row under the cursor across
refreshes (rows are keyed by command name or client id) and pick the columns
that fit their width (:func:`bolt.tui._layout.choose_columns`).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.console import Console, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Label, Static

from bolt.tui._format import (
    DASH,
    fmt_bytes,
    fmt_count,
    fmt_duration,
    fmt_ms,
    fmt_percent,
    fmt_rate,
    fmt_text,
)
from bolt.tui._layout import Column
from bolt.tui._views import (
    ClientRow,
    CommandRow,
    Frame,
    StorageView,
    shard_heat,
    spark_text,
)

_LABEL = "bold"
_SEPARATOR = (" │ ", "dim")


def _line(*parts: tuple[str, str] | str) -> Text:
    """One line of ``label value`` pairs: ``("ops/s", "12.3k")`` or a plain string."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for index, part in enumerate(parts):
        if index:
            text.append(*_SEPARATOR)
        if isinstance(part, str):
            text.append(part)
        else:
            label, value = part
            text.append(f"{label} ", style=_LABEL)
            text.append(value)
    return text


HEADER_PAUSED = "PAUSED"
"""The header's pause marker: plain text (a pause glyph is two cells wide in
some terminals and one in others, and then drew a stray cell at the edge)."""

Part = tuple[str | None, str, int]
"""One field of a header line: its label (``""``: none; ``None``: it continues
the previous field after a space), its value, and its priority (0: the most
important, always kept)."""


def _fields(parts: Sequence[Part]) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for index, (label, value, _priority) in enumerate(parts):
        if label is None:
            text.append(f" {value}")
            continue
        if index:
            text.append(*_SEPARATOR)
        if label:
            text.append(f"{label} ", style=_LABEL)
        text.append(value)
    return text


def fit_line(parts: Sequence[Part], width: int, marker: str | None = None) -> Text:
    """One header line of ``parts`` that fits ``width`` cells without wrapping.

    While the line is too wide, the least important field (highest priority
    number, the later one on ties) is left out; the others keep their order.
    Only when the most important field alone is wider than ``width`` is it
    cut (with an ellipsis). ``marker`` (reverse video, at the end) is always kept.
    """
    kept = list(parts)
    while True:
        line = _fields(kept)
        if marker:
            line.append("  ")
            line.append(marker, style="bold reverse")
        if line.cell_len <= width or len(kept) <= 1:
            break
        del kept[max(range(len(kept)), key=lambda index: (kept[index][2], index))]
    line.truncate(max(width, 1), overflow="ellipsis")
    return line


def header_lines(frame: Frame, address: str, paused: bool, width: int) -> list[Text]:
    """The three header lines for one node, each fitting ``width`` cells."""
    head = frame.header
    memory = f"{fmt_bytes(head.memory_used)} / {fmt_bytes(head.memory_limit)}"
    if head.memory_used is not None and head.memory_limit:
        memory += f" ({fmt_percent(head.memory_used / head.memory_limit)})"
    ops = fmt_rate(head.ops_per_second)
    split = (
        f"r {fmt_rate(head.reads_per_second)} w {fmt_rate(head.writes_per_second)}"
        f" srv {fmt_rate(head.server_per_second)}"
    )
    conns = f"{fmt_count(head.connections)}/{fmt_count(head.connections_max)}"
    first: list[Part] = [
        ("node", fmt_text(head.node_id), 0),
        ("", address, 1),
        ("up", fmt_duration(head.uptime_seconds), 2),
        ("offset", fmt_count(head.last_offset), 3),
        ("v", fmt_text(head.version), 4),
    ]
    second: list[Part] = [
        ("ops/s", ops, 0),
        (None, f"({split})", 4),
        ("hit", fmt_percent(head.hit_ratio), 2),
        ("keys", fmt_count(head.keys), 1),
        ("conns", conns, 3),
    ]
    third: list[Part] = [
        ("mem", memory, 0),
        (None, fmt_text(head.eviction_policy), 3),
        ("wal", fmt_text(head.fsync_mode), 1),
        (None, f"fsync p99 {fmt_ms(head.fsync_p99_ms)}", 2),
    ]
    return [
        fit_line(first, width, HEADER_PAUSED if paused else None),
        fit_line(second, width),
        fit_line(third, width),
    ]


def header_text(frame: Frame, address: str, paused: bool, width: int = 200) -> Text:
    """The three header lines for one node as one text (see :func:`header_lines`)."""
    return Text("\n", no_wrap=True, overflow="crop").join(
        header_lines(frame, address, paused, width)
    )


def storage_text(storage: StorageView, width: int) -> Text:
    """The storage panel: log, snapshot, evictions/expirations, shards."""
    snapshot_age = storage.snapshot_age_seconds
    age = "none yet" if snapshot_age is None else f"{fmt_duration(snapshot_age)} ago"
    covers = DASH if storage.snapshot_offset is None else f"#{fmt_count(storage.snapshot_offset)}"
    lines = [
        _line(
            ("log", f"{fmt_bytes(storage.wal_bytes)} in {fmt_count(storage.segments)} segment(s)"),
            ("appended", f"{fmt_bytes(storage.appended_per_second)}/s"),
        ),
        _line(
            ("snapshot", f"{age} covers {covers}"),
            ("size", fmt_bytes(storage.snapshot_bytes)),
        ),
        _line(
            ("evicted", f"{fmt_rate(storage.evictions_per_second)}/s"),
            ("expired", f"{fmt_rate(storage.expirations_per_second)}/s"),
            ("totals", f"{fmt_count(storage.evicted_total)} / {fmt_count(storage.expired_total)}"),
        ),
    ]
    shards = storage.shards
    hot = storage.hot_shard
    hot_text = DASH
    if hot is not None:
        hot_text = f"#{hot.index} {fmt_count(hot.keys)} keys {fmt_bytes(hot.memory)}"
        if storage.imbalance is not None:
            hot_text += f" ({storage.imbalance:.1f}x mean)"
    lines.append(_line(("shards", fmt_count(len(shards))), ("hottest", hot_text)))
    if shards:
        heat = Text(no_wrap=True, overflow="ellipsis")
        heat.append("memory/shard ", style=_LABEL)
        heat.append(shard_heat(shards, max(width - 14, 1)), style="green")
        lines.append(heat)
        ranked = sorted(shards, key=lambda shard: (-shard.memory, shard.index))[:3]
        lines.append(
            _line(
                ("top", "  ".join(f"#{s.index} {fmt_bytes(s.memory)}" for s in ranked)),
            )
        )
    return Text("\n", no_wrap=True).join(lines)


def command_cells(row: CommandRow) -> dict[str, Any]:
    """The cells of one commands-table row, by column key."""
    errors = Text(fmt_count(row.errors), style="bold red" if row.errors else "", justify="right")
    return {
        "name": row.name,
        "rate": Text(fmt_rate(row.rate), justify="right"),
        "p50": Text(fmt_ms(row.p50_ms), justify="right"),
        "p99": Text(fmt_ms(row.p99_ms), justify="right"),
        "errors": errors,
        "error_rate": Text(fmt_rate(row.error_rate), justify="right"),
        "calls": Text(fmt_count(row.calls), justify="right"),
    }


def client_cells(row: ClientRow) -> dict[str, Any]:
    """The cells of one clients-table row, by column key."""
    return {
        "id": Text(str(row.id), justify="right"),
        "address": row.address,
        "name": fmt_text(row.name),
        "user": fmt_text(row.user),
        "role": fmt_text(row.role),
        "age": Text(fmt_duration(row.age_seconds), justify="right"),
        "requests": Text(fmt_count(row.requests), justify="right"),
        "rate": Text(fmt_rate(row.rate), justify="right"),
        "command": Text(fmt_text(row.command), style="bold" if row.command else "dim"),
    }


class Banner(Static):
    """A one-line alert (connection lost, server failed); hidden when all is well."""

    DEFAULT_CSS = """
    Banner { display: none; height: auto; background: $error; color: $text; padding: 0 1; }
    Banner.-visible { display: block; }
    """

    plain = ""

    def show_message(self, message: str) -> None:
        """Show ``message``."""
        self.plain = message
        self.update(Text(message, style="bold"))
        self.add_class("-visible")

    def clear_message(self) -> None:
        """Hide the banner."""
        self.plain = ""
        self.remove_class("-visible")

    @property
    def visible_message(self) -> bool:
        """The banner is shown."""
        return self.has_class("-visible")


class HeaderBar(Static):
    """Three lines: identity, traffic, memory/log."""

    DEFAULT_CSS = """
    HeaderBar { height: 3; padding: 0 1; background: $boost; text-wrap: nowrap; }
    """

    plain = ""

    def show_frame(self, frame: Frame, address: str, paused: bool) -> None:
        """Redraw from ``frame``, each line fitted to the bar's width."""
        width = self.content_size.width or max(self.app.size.width - 2, 1)
        text = header_text(frame, address, paused, width)
        self.plain = text.plain
        self.update(text)


class SparkRow(Horizontal):
    """A labelled one-line sparkline (ops/s or p99 latency history)."""

    DEFAULT_CSS = """
    SparkRow { height: 1; padding: 0 1; }
    SparkRow > Label { width: 30; }
    SparkRow > .spark { width: 1fr; color: $success; }
    """

    plain = ""

    def compose(self) -> ComposeResult:
        """A label and the line."""
        yield Label()
        yield Static(classes="spark")

    def show_series(
        self, label: str, series: Sequence[float | None], span_seconds: float, interval: float
    ) -> None:
        """Redraw: ``series`` (oldest first, one point per refresh) over ``span_seconds``.

        Args:
            label: the text left of the line.
            series: the history.
            span_seconds: how much time the full line covers.
            interval: seconds between two points.
        """
        line = self.query_one(".spark", Static)
        cells = line.size.width or max(self.app.size.width - 32, 10)
        per_cell = max(math.ceil(span_seconds / (interval * cells)), 1)
        text = spark_text(series, cells, per_cell)
        self.plain = f"{label} {text}"
        self.query_one(Label).update(Text(label, no_wrap=True, overflow="ellipsis"))
        line.update(text)


class PanelTable(DataTable[Any]):
    """A data table whose left/right keys move between panels, not columns.

    It draws no scrollbars: their thumb ends are partial-block glyphs that
    looked like stray characters at the table's edge (issue 10). The cursor
    keys still scroll, and the panel title says how many rows there are.
    """

    DEFAULT_CSS = """
    PanelTable { scrollbar-size-vertical: 0; scrollbar-size-horizontal: 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "app.previous_panel", "Previous panel", show=False),
        Binding("right", "app.next_panel", "Next panel", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._column_keys: tuple[str, ...] = ()
        self.row_keys: list[str] = []

    def show_rows(
        self, columns: tuple[Column, ...], rows: Sequence[tuple[str, dict[str, Any]]]
    ) -> None:
        """Replace the rows, keeping the cursor on the same key if it is still there.

        Args:
            columns: the columns to show (rebuilt only when they change).
            rows: ``(row key, {column key: cell})`` in display order.
        """
        selected = (
            self.row_keys[self.cursor_row] if 0 <= self.cursor_row < len(self.row_keys) else None
        )
        keys = tuple(column.key for column in columns)
        if keys != self._column_keys:
            self.clear(columns=True)
            for column in columns:
                self.add_column(column.label, width=column.width, key=column.key)
            self._column_keys = keys
        else:
            self.clear()
        for key, cells in rows:
            self.add_row(*(cells[column] for column in keys), key=key)
        self.row_keys = [key for key, _ in rows]
        if selected in self.row_keys:
            self.move_cursor(row=self.row_keys.index(selected), animate=False, scroll=False)


class PanelText(Static, can_focus=True):
    """A focusable text panel (storage, replication)."""

    plain = ""

    def show(self, content: RenderableType) -> None:
        """Redraw with ``content``."""
        self.plain = content.plain if isinstance(content, Text) else plain_text(content)
        self.update(content)


def plain_text(content: RenderableType, width: int = 200) -> str:
    """What ``content`` looks like as plain text ``width`` cells wide (no colours)."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(content)
    return console.export_text()
