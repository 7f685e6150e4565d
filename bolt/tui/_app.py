"""``boltctl top``: the textual application.

Theory of operation
-------------------
:class:`TopApp` shows one tab per node (the tab bar is hidden for a single
node); each tab is a :class:`~bolt.tui._node.NodeView`. One asyncio worker
per node calls :meth:`NodeView.poll_once` every ``interval`` seconds
(measured from the start of the previous poll, so a slow reply does not
make the refreshes drift further apart) unless the app is paused: a paused
dashboard sends nothing at all.

The app owns the :class:`~bolt.tui._node.ViewState` every node is drawn
with (pause, filter, sort, current panel, layout) and pushes a new one to
all nodes whenever a key changes it; the layout follows the terminal size
(:func:`bolt.tui._layout.choose_layout`). Keys follow the conventions of
``top``/``htop``/``less``: ``?`` help, ``q`` quit, ``p`` pause, ``/``
filter, ``s`` sort (``r`` reverses), ``tab``/arrows between panels,
``[``/``]`` between nodes, ``:`` textual's command palette.

Wrong credentials end the app with :data:`EXIT_AUTH_FAILED` and a message
in :attr:`TopApp.failure` (the CLI prints it on stderr); every other
failure is shown in the node's banner and retried.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from bolt.errors import AuthenticationError
from bolt.tui._client import ConnectSettings, NodeLink
from bolt.tui._layout import PANELS, choose_layout
from bolt.tui._node import CLUSTER_INTERVAL_SECONDS, SPARK_SPAN_SECONDS, NodeView, ViewState
from bolt.tui._views import CLIENT_SORT_KEYS, COMMAND_SORT_KEYS

EXIT_AUTH_FAILED = 3
"""Exit status when a node refuses the credentials (boltctl's "refused" status)."""
INTERVAL_SECONDS_MIN = 0.1
"""Shortest refresh interval accepted."""

HELP_KEYS = (
    ("?", "this help"),
    ("q", "quit"),
    ("p", "pause / resume (a paused dashboard sends nothing)"),
    ("/", "filter clients and commands (enter keeps the filter)"),
    ("esc", "clear the filter"),
    ("s", "sort the current table by its next column"),
    ("r", "reverse the current table's order"),
    ("tab  →", "next panel"),
    ("shift+tab  ←", "previous panel"),
    ("]  [", "next / previous node"),
    ("↑  ↓", "move in a table"),
    (":", "command palette"),
)
"""The keys shown by ``?``: (key, what it does)."""
HELP_NOTES = (
    "One round trip per node per refresh: STATS, with CLUSTER on a cluster",
    "node and the task statistics once the node has tasks.",
    "Rates come from the server's counters between two refreshes;",
    "a dash means not known yet (first refresh) or not reported.",
    "Small terminals show one panel at a time: tab moves between them.",
)


def help_renderable() -> Group:
    """The help screen's content."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for key, meaning in HELP_KEYS:
        table.add_row(key, meaning)
    notes = Text("\n".join(HELP_NOTES), style="dim")
    return Group(Text("boltctl top - keys", style="bold"), Text(""), table, Text(""), notes)


@dataclass(frozen=True)
class TopOptions:
    """What ``boltctl top`` watches and how often.

    Attributes:
        nodes: ``(host, port)`` of each node, one tab each.
        settings: credentials, TLS and timeout (the same for every node).
        interval_seconds: seconds between refreshes.
        cluster_interval_seconds: seconds between ``CLUSTER`` requests.
        spark_span_seconds: time covered by the sparklines.
    """

    nodes: tuple[tuple[str, int], ...]
    settings: ConnectSettings
    interval_seconds: float = 1.0
    cluster_interval_seconds: float = CLUSTER_INTERVAL_SECONDS
    spark_span_seconds: float = SPARK_SPAN_SECONDS

    def __post_init__(self) -> None:
        if not self.nodes:
            raise ValueError("at least one node is needed")
        if not self.interval_seconds >= INTERVAL_SECONDS_MIN:
            raise ValueError(f"the interval must be at least {INTERVAL_SECONDS_MIN} s")


class HelpScreen(ModalScreen[None]):
    """The key reference (``?``)."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Static { width: auto; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,enter", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        """The help text."""
        yield Static(help_renderable(), id="help")

    async def action_dismiss(self, result: None = None) -> None:
        """Close the help."""
        self.dismiss(result)


class TopApp(App[int]):
    """The live dashboard of one or more Bolt nodes."""

    TITLE = "boltctl top"
    COMMAND_PALETTE_BINDING = "colon"
    CSS = """
    #nodes { height: 1fr; }
    #nodes.-single > ContentTabs { display: none; }
    #nodes TabPane { padding: 0; }
    #filter { dock: bottom; display: none; height: 3; }
    #filter.-visible { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("p", "toggle_pause", "Pause"),
        Binding("slash", "open_filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("r", "reverse_sort", "Reverse", show=False),
        Binding("tab", "next_panel", "Panel", priority=True),
        Binding("shift+tab", "previous_panel", "Previous panel", show=False, priority=True),
        Binding("right", "next_panel", "Next panel", show=False),
        Binding("left", "previous_panel", "Previous panel", show=False),
        Binding("right_square_bracket", "next_node", "Node", show=False),
        Binding("left_square_bracket", "previous_node", "Previous node", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("colon", "command_palette", "Palette"),
    ]

    def __init__(self, options: TopOptions, *, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.options = options
        self.links = [
            NodeLink(host, port, options.settings, clock=clock) for host, port in options.nodes
        ]
        self._clock = clock
        self.state = ViewState()
        self.failure: str | None = None

    # --- building --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """One tab per node, the (hidden) filter input and the key footer."""
        single = "-single" if len(self.links) == 1 else ""
        with TabbedContent(id="nodes", classes=single):
            for index, link in enumerate(self.links):
                with TabPane(link.address, id=f"node-{index}"):
                    yield NodeView(
                        link,
                        interval=self.options.interval_seconds,
                        spark_span_seconds=self.options.spark_span_seconds,
                        cluster_interval=self.options.cluster_interval_seconds,
                        clock=self._clock,
                    )
        yield Input(
            id="filter", placeholder="filter clients and commands (enter: keep, esc: clear)"
        )
        # textual's own palette hint is drawn after a thin-bar glyph at the right
        # edge; the ":" key is listed as an ordinary binding instead.
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        """Lay out for the terminal size and start one poller per node."""
        self._set_state(layout=choose_layout(self.size.width, self.size.height))
        for view in self.node_views():
            self.run_worker(self._poll(view), name=f"poll {view.link.address}", group="poll")
        self.current_view().focus_panel(self.state.panel)

    def on_resize(self, event: events.Resize) -> None:
        """Re-lay out when the terminal changes size."""
        layout = choose_layout(event.size.width, event.size.height)
        if layout != self.state.layout:
            self._set_state(layout=layout)
        # Table columns follow the new widths, known only after the next layout pass.
        self.call_after_refresh(self._redraw_all)

    def _redraw_all(self) -> None:
        if self.is_running:
            for view in self.node_views():
                view.redraw()

    async def _poll(self, view: NodeView) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                started = loop.time()
                if not self.state.paused:
                    try:
                        await view.poll_once()
                    except AuthenticationError as exc:
                        self.fail(f"authentication failed on {view.link.address}: {exc}")
                        return
                elapsed = loop.time() - started
                await asyncio.sleep(max(self.options.interval_seconds - elapsed, 0.01))
        finally:
            await view.link.close()

    def fail(self, message: str, status: int = EXIT_AUTH_FAILED) -> None:
        """End the app with ``status``; ``message`` is kept in :attr:`failure`."""
        self.failure = message
        self.exit(return_code=status)

    # --- queries ---------------------------------------------------------------------------

    def node_views(self) -> list[NodeView]:
        """Every node's view, in tab order."""
        return list(self.query(NodeView))

    def current_view(self) -> NodeView:
        """The view of the node whose tab is shown."""
        tabs = self.query_one("#nodes", TabbedContent)
        active = tabs.active or "node-0"
        return self.query_one(f"#{active}", TabPane).query_one(NodeView)

    # --- state -----------------------------------------------------------------------------

    def _set_state(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)
        for view in self.node_views():
            view.apply_state(self.state)
        self.sub_title = "paused" if self.state.paused else ""

    def on_node_view_panel_focused(self, message: NodeView.PanelFocused) -> None:
        """A click or key focused a panel: make it the current one."""
        if message.panel != self.state.panel:
            self._set_state(panel=message.panel)

    # --- actions ---------------------------------------------------------------------------

    def action_help(self) -> None:
        """Show the key reference."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_pause(self) -> None:
        """Stop or resume refreshing (a paused dashboard sends no request)."""
        self._set_state(paused=not self.state.paused)

    def action_open_filter(self) -> None:
        """Show the filter input and focus it."""
        box = self.query_one("#filter", Input)
        box.add_class("-visible")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Filter as the user types."""
        if event.input.id == "filter":
            self._set_state(filter_text=event.value.strip())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter keeps the filter and closes the input."""
        if event.input.id == "filter":
            self._close_filter()

    def _close_filter(self) -> None:
        self.query_one("#filter", Input).remove_class("-visible")
        self.current_view().focus_panel(self.state.panel)

    def action_clear_filter(self) -> None:
        """Drop the filter (and close the input if it is open): the ``esc`` key."""
        box = self.query_one("#filter", Input)
        box.value = ""
        self._set_state(filter_text="")
        if box.has_class("-visible"):
            self._close_filter()

    def action_sort(self) -> None:
        """Sort the current table (commands unless clients is current) by the next column."""
        if self.state.panel == "clients":
            keys, current = CLIENT_SORT_KEYS, self.state.client_sort
            self._set_state(client_sort=keys[(keys.index(current) + 1) % len(keys)])
        else:
            keys, current = COMMAND_SORT_KEYS, self.state.command_sort
            self._set_state(command_sort=keys[(keys.index(current) + 1) % len(keys)])

    def sort_by(self, table: str, key: str) -> None:
        """Sort ``table`` (``"commands"`` or ``"clients"``) by column ``key``.

        Raises:
            ValueError: unknown table or column.
        """
        if table == "commands" and key in COMMAND_SORT_KEYS:
            self._set_state(command_sort=key)
        elif table == "clients" and key in CLIENT_SORT_KEYS:
            self._set_state(client_sort=key)
        else:
            raise ValueError(f"cannot sort {table!r} by {key!r}")

    def action_reverse_sort(self) -> None:
        """Flip the order of the current table."""
        if self.state.panel == "clients":
            self._set_state(client_reverse=not self.state.client_reverse)
        else:
            self._set_state(command_reverse=not self.state.command_reverse)

    def action_next_panel(self) -> None:
        """Move to the next panel this node has."""
        self._step_panel(1)

    def action_previous_panel(self) -> None:
        """Move to the previous panel this node has."""
        self._step_panel(-1)

    def _step_panel(self, step: int) -> None:
        view = self.current_view()
        present = view.present_panels()
        current = view.current_panel()
        self.show_panel(present[(present.index(current) + step) % len(present)])

    def show_panel(self, name: str) -> None:
        """Make panel ``name`` current and focus it."""
        self._set_state(panel=name)
        self.current_view().focus_panel(name)

    def action_next_node(self) -> None:
        """Show the next node's tab."""
        self._step_node(1)

    def action_previous_node(self) -> None:
        """Show the previous node's tab."""
        self._step_node(-1)

    def _step_node(self, step: int) -> None:
        tabs = self.query_one("#nodes", TabbedContent)
        index = int((tabs.active or "node-0").removeprefix("node-"))
        self.show_node((index + step) % len(self.links))

    def show_node(self, index: int) -> None:
        """Show the tab of node number ``index``."""
        self.query_one("#nodes", TabbedContent).active = f"node-{index}"
        self.current_view().focus_panel(self.state.panel)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Arrow keys belong to the filter input while it has the focus."""
        moving = action in ("next_panel", "previous_panel")
        return not (moving and self.query_one("#filter").has_focus)

    # --- the command palette ----------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Dashboard commands for ``:`` (textual's command palette)."""
        yield from super().get_system_commands(screen)
        pause = "Resume updates" if self.state.paused else "Pause updates"
        yield SystemCommand(pause, "Stop or resume refreshing (p)", self.action_toggle_pause)
        yield SystemCommand("Help", "Show the keys (?)", self.action_help)
        yield SystemCommand("Filter", "Filter clients and commands (/)", self.action_open_filter)
        yield SystemCommand("Clear filter", "Show every row again", self.action_clear_filter)
        yield SystemCommand(
            "Reverse sort", "Flip the current table's order (r)", self.action_reverse_sort
        )
        for table, keys in (("commands", COMMAND_SORT_KEYS), ("clients", CLIENT_SORT_KEYS)):
            for key in keys:
                yield SystemCommand(
                    f"Sort {table} by {key}",
                    f"Order the {table} table by {key}",
                    partial(self.sort_by, table, key),
                )
        for name in PANELS:
            yield SystemCommand(
                f"Show {name}", f"Go to the {name} panel", partial(self.show_panel, name)
            )
        for index, link in enumerate(self.links):
            yield SystemCommand(
                f"Node {link.address}", "Show this node's tab", partial(self.show_node, index)
            )
