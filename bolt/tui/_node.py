"""One node's pane: it polls its node and draws banner, header, sparklines, panels.

Theory of operation
-------------------
A :class:`NodeView` owns a :class:`~bolt.tui._poll.NodePoller` (the
requests of each refresh, one round trip, and the models they feed). The
replies become a frame and panel views, drawn with the app's
:class:`ViewState` (sort order, filter, current panel, layout). Changing
the view state redraws the last frame without asking the server.

The Replication and Tasks panels exist only on a node that has something
to show (:meth:`NodeView.present_panels`): a standalone node has no
replication panel, a node that never saw a task no Tasks panel, and ``tab``
skips what is absent.

When a request fails the last frame stays on screen, marked by the banner
(what failed, when the next reconnect attempt is due, how old the figures
are): the link reconnects by itself on a later poll. Only
:class:`~bolt.errors.AuthenticationError` escapes ``poll_once``; the app
turns it into an exit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.events import DescendantFocus
from textual.message import Message
from textual.widget import Widget

from bolt.errors import AuthenticationError, BoltError
from bolt.tui._client import NodeLink
from bolt.tui._format import fmt_duration, fmt_ms, fmt_rate
from bolt.tui._layout import (
    ALWAYS_PRESENT,
    CLIENT_COLUMNS,
    COMMAND_COLUMNS,
    PANEL_TITLES,
    PANELS,
    Layout,
    choose_columns,
)
from bolt.tui._model import StatsModel
from bolt.tui._panels import replication_text, tasks_text
from bolt.tui._poll import NodePoller
from bolt.tui._views import Frame, ReplicationView, TasksView, filter_rows, sort_rows
from bolt.tui._widgets import (
    Banner,
    HeaderBar,
    PanelTable,
    PanelText,
    SparkRow,
    client_cells,
    command_cells,
    header_text,
    storage_text,
)

CLUSTER_INTERVAL_SECONDS = 5.0
"""Seconds between two ``CLUSTER`` requests of one node."""
SPARK_SPAN_SECONDS = 300.0
"""Time covered by the full width of a sparkline (five minutes)."""
HISTORY_POINTS_LIMIT = 100_000
"""Most history points kept per series, whatever the interval."""


@dataclass(frozen=True)
class ViewState:
    """How the app wants every node drawn (changed by keys, shared by all tabs)."""

    paused: bool = False
    filter_text: str = ""
    command_sort: str = "rate"
    command_reverse: bool = False
    client_sort: str = "rate"
    client_reverse: bool = False
    panel: str = PANELS[0]
    layout: Layout = field(default_factory=lambda: Layout("compact", True))


class Panel(Vertical):
    """A bordered box around one table or text panel."""

    DEFAULT_CSS = """
    Panel { border: round $primary 50%; height: 1fr; border-title-align: left; }
    Panel.-current { border: round $accent; }
    Panel > PanelTable { height: 1fr; }
    Panel > PanelText { height: 1fr; padding: 0 1; }
    """


class NodeView(Vertical):
    """The dashboard of one node (one tab)."""

    DEFAULT_CSS = """
    NodeView { height: 1fr; }
    NodeView > #panels { height: 1fr; }
    NodeView.-wide > #panels { layout: grid; grid-size: 2; }
    NodeView.-compact > #panels > Panel { display: none; }
    NodeView.-compact > #panels > Panel.-current { display: block; }
    NodeView > #panels > Panel.-absent { display: none; }
    NodeView.-no-sparks > SparkRow { display: none; }
    """

    class PanelFocused(Message):
        """A panel got the focus (by click or key): the app makes it current."""

        def __init__(self, panel: str) -> None:
            super().__init__()
            self.panel = panel

    def __init__(
        self,
        link: NodeLink,
        *,
        interval: float = 1.0,
        spark_span_seconds: float = SPARK_SPAN_SECONDS,
        cluster_interval: float = CLUSTER_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.link = link
        self.interval = interval
        self.spark_span_seconds = spark_span_seconds
        points = min(math.ceil(spark_span_seconds / interval) + 1, HISTORY_POINTS_LIMIT)
        self.model = StatsModel(max(points, 1))
        self.cluster_interval = cluster_interval
        self._clock = clock
        self.poller = NodePoller(link, self.model, cluster_interval, clock)
        self.frame: Frame | None = None
        self.last_update_at: float | None = None
        self.refreshes = 0
        self.state = ViewState()

    def compose(self) -> ComposeResult:
        """Banner, header, two sparklines and the panels."""
        yield Banner()
        yield HeaderBar(f"connecting to {self.link.address}…")
        yield SparkRow(id="ops-spark")
        yield SparkRow(id="p99-spark")
        with Container(id="panels"):
            for name in PANELS:
                with Panel(id=f"panel-{name}"):
                    yield (
                        PanelTable(id=name)
                        if name in ("commands", "clients")
                        else PanelText(id=name)
                    )

    # --- polling -------------------------------------------------------------------------

    async def poll_once(self) -> bool:
        """Ask the node once (one round trip, see :class:`~bolt.tui._poll.NodePoller`)
        and redraw.

        Returns:
            Whether fresh statistics arrived.

        Raises:
            AuthenticationError: the node refused the credentials.
        """
        try:
            frame = await self.poller.poll()
        except AuthenticationError:
            raise
        except BoltError as exc:
            if self._drawable():
                self._show_trouble(exc)
            return False
        self.frame, self.last_update_at = frame, self._clock()
        self.refreshes += 1
        if self._drawable():
            self.redraw()
        return True

    @property
    def replication(self) -> ReplicationView | None:
        """The node's last replication view (None before the first ``CLUSTER``)."""
        return self.poller.replication

    @property
    def tasks(self) -> TasksView | None:
        """The node's last tasks view (None before the first reading)."""
        return self.poller.tasks

    def present_panels(self) -> tuple[str, ...]:
        """The panels this node has, in ``tab`` order (see :data:`ALWAYS_PRESENT`)."""
        extra = {
            "replication": self.replication is not None and self.replication.present,
            "tasks": self.tasks is not None and self.tasks.present,
        }
        return tuple(name for name in PANELS if name in ALWAYS_PRESENT or extra.get(name))

    def current_panel(self) -> str:
        """The panel shown: the app's current one, or the first if this node lacks it."""
        present = self.present_panels()
        return self.state.panel if self.state.panel in present else present[0]

    def _drawable(self) -> bool:
        """Whether the widgets can be drawn: not while the app shuts down.

        A reply can arrive after shutdown began removing widgets; drawing is
        synchronous, so checking once right before it is enough.
        """
        return self.app.is_running and self.is_attached

    def _show_trouble(self, error: BoltError) -> None:
        banner = self.query_one(Banner)
        link = self.link
        if link.connected:
            banner.show_message(f"⚠ {link.address}: {error.name}: {error}")
            return
        retry = link.retry_in()
        when = f"next attempt in {retry:.1f} s" if retry > 0 else "retrying now"
        cause = link.last_error or error
        message = f"⚠ connection to {link.address} lost ({cause}) - reconnecting, {when}"
        if self.last_update_at is not None:
            message += (
                f"; figures below are {fmt_duration(self._clock() - self.last_update_at)} old"
            )
        banner.show_message(message)

    # --- drawing -------------------------------------------------------------------------

    def apply_state(self, state: ViewState) -> None:
        """Adopt the app's view state and redraw the last frame with it."""
        self.state = state
        self.set_class(state.layout.mode == "wide", "-wide")
        self.set_class(state.layout.mode != "wide", "-compact")
        self.set_class(not state.layout.sparklines, "-no-sparks")
        self.redraw()

    def _mark_panels(self) -> None:
        present, current = self.present_panels(), self.current_panel()
        for name in PANELS:
            panel = self.query_one(f"#panel-{name}")
            panel.set_class(name == current, "-current")
            panel.set_class(name not in present, "-absent")

    def redraw(self) -> None:
        """Draw the last frame (if any) with the current view state."""
        frame = self.frame
        self._mark_panels()
        if frame is None:
            self._draw_titles()
            return
        banner = self.query_one(Banner)
        if frame.failed:
            banner.show_message(f"⚠ the server reports a failure: {frame.failed}")
        else:
            banner.clear_message()
        self.query_one(HeaderBar).show_frame(frame, self.link.address, self.state.paused)
        self._draw_sparklines(frame)
        self._draw_tables(frame)
        self._draw_titles()
        storage = self.query_one("#storage", PanelText)
        storage.show(storage_text(frame.storage, max(storage.size.width, 40)))
        replication = self.query_one("#replication", PanelText)
        replication.show(replication_text(self.replication, self._text_width(replication)))
        tasks = self.query_one("#tasks", PanelText)
        tasks.show(tasks_text(self.tasks, self._text_width(tasks)))

    def _text_width(self, panel: Widget) -> int:
        width = panel.content_size.width
        return width if width > 0 else max(self.app.size.width - 4, 20)

    def _draw_sparklines(self, frame: Frame) -> None:
        span = fmt_duration(self.spark_span_seconds)
        ops = max((value for value in frame.ops_history if value is not None), default=None)
        p99 = max((value for value in frame.p99_history if value is not None), default=None)
        now_ops, now_p99 = fmt_rate(frame.header.ops_per_second), fmt_ms(frame.interval_p99_ms)
        self.query_one("#ops-spark", SparkRow).show_series(
            f"ops/s {now_ops:>6} max {fmt_rate(ops):>6} {span}",
            frame.ops_history,
            self.spark_span_seconds,
            self.interval,
        )
        self.query_one("#p99-spark", SparkRow).show_series(
            f"p99   {now_p99:>6} max {fmt_ms(p99):>6} {span}",
            frame.p99_history,
            self.spark_span_seconds,
            self.interval,
        )

    def _draw_tables(self, frame: Frame) -> None:
        state = self.state
        commands = sort_rows(
            filter_rows(frame.commands, state.filter_text),
            state.command_sort,
            state.command_reverse,
        )
        table = self.query_one("#commands", PanelTable)
        table.show_rows(
            choose_columns(COMMAND_COLUMNS, self._table_width(table)),
            [(row.name, command_cells(row)) for row in commands],
        )
        clients = sort_rows(
            filter_rows(frame.clients, state.filter_text), state.client_sort, state.client_reverse
        )
        table = self.query_one("#clients", PanelTable)
        table.show_rows(
            choose_columns(CLIENT_COLUMNS, self._table_width(table)),
            [(str(row.id), client_cells(row)) for row in clients],
        )

    def _table_width(self, table: Widget) -> int:
        width = table.size.width
        if width <= 0:  # not laid out yet: assume the whole screen
            width = self.app.size.width - 2
        return width  # PanelTable draws no scrollbar

    def _draw_titles(self) -> None:
        state = self.state
        arrow = {False: "▼", True: "▲"}
        shown = {"commands": "", "clients": ""}
        if self.frame is not None:
            total_commands, total_clients = len(self.frame.commands), len(self.frame.clients)
            shown["commands"] = f" {self._row_count('commands')}/{total_commands}"
            shown["clients"] = f" {self._row_count('clients')}/{total_clients}"
        filtered = f" · filter '{state.filter_text}'" if state.filter_text else ""
        titles = {
            "commands": f"Commands{shown['commands']} · sort {state.command_sort} "
            f"{arrow[state.command_reverse]}{filtered}",
            "clients": f"Clients{shown['clients']} · sort {state.client_sort} "
            f"{arrow[state.client_reverse]}{filtered}",
            "storage": "Storage",
            "replication": "Replication",
            "tasks": "Tasks",
        }
        compact = state.layout.mode != "wide"
        present = self.present_panels()
        for name in PANELS:
            panel = self.query_one(f"#panel-{name}")
            panel.border_title = titles[name]
            if name not in present or not compact:
                panel.border_subtitle = ""
                continue
            index = present.index(name)
            following = PANEL_TITLES[present[(index + 1) % len(present)]]
            panel.border_subtitle = f"{index + 1}/{len(present)} · tab ▸ {following}"

    def _row_count(self, name: str) -> int:
        return len(self.query_one(f"#{name}", PanelTable).row_keys)

    def header_plain(self) -> str:
        """The header's current text (for tests and captures)."""
        if self.frame is None:
            return ""
        header = self.query_one(HeaderBar)
        if header.plain:
            return header.plain
        return header_text(self.frame, self.link.address, self.state.paused).plain

    def focus_panel(self, name: str) -> None:
        """Give the keyboard focus to the widget inside panel ``name`` (or the
        first panel, if this node does not have that one)."""
        self.query_one(f"#{name if name in self.present_panels() else PANELS[0]}").focus()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        """Tell the app which panel now has the focus."""
        widget = event.widget
        if widget.id in PANELS:
            self.post_message(self.PanelFocused(widget.id or PANELS[0]))
