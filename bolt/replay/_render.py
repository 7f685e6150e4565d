"""Rendering replay results: rich tables for people, JSON lines for programs.

Theory of operation
-------------------
Everything that can be long is rendered as a stream: events are printed as
rich tables of :data:`TABLE_CHUNK_ROWS` rows with fixed column widths (so the
chunks line up as one table, and memory stays bounded), and ``--json`` output
is one JSON object per line, written as each event arrives. User data is
always passed to rich as :class:`rich.text.Text`, never as markup, so a key
like ``[bold]`` prints as itself.

JSON values follow :func:`bolt.events.json_friendly`: ``bytes`` become
``{"bytes": "<hex>"}``. Times are ISO 8601 in UTC. Password hashes are never
printed (``"<redacted>"``).

:class:`ProgressBar` shows a rich progress bar on the terminal's stderr, but
only once an operation has run for a second, and never when stderr is not a
terminal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from bolt.crdt import hlc_ms
from bolt.events import (
    CounterSet,
    CrdtCounterChanged,
    Event,
    HashFieldsDeleted,
    HashFieldsSet,
    KeyDeleted,
    KeyPut,
    ListPopped,
    ListPushed,
    SetAdded,
    SetRemoved,
    UserDeleted,
    UserPut,
    json_friendly,
)

from ._points import format_ms
from ._state import KeyView

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.table import Table

TABLE_CHUNK_ROWS = 200
"""Rows per printed table chunk when streaming events."""
VALUE_CHARS_MAX = 80
"""Longest value text in a table cell before it is cut with an ellipsis."""
PROGRESS_DELAY_SECONDS = 1.0
"""Operations shorter than this never show a progress bar."""


# --- plain text of values and events ------------------------------------------


def show_value(value: Any, limit: int = VALUE_CHARS_MAX) -> str:
    """A short, unambiguous text for a value (strings quoted, bytes as b'..')."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, bytes):
        text = repr(value)
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(show_value(v, limit) for v in value) + "]"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def show_view(view: KeyView | None) -> str:
    """A key's visible value for a table cell ("(absent)" when missing)."""
    if view is None:
        return "(absent)"
    ttl = f" (ttl {view.ttl_seconds}s)" if view.ttl_seconds >= 0 else ""
    return f"{view.type} {show_value(view.value)}{ttl}"


def event_details(event: Event) -> str:
    """What an event did, in a few words (payload only: no key, no stamps)."""
    if isinstance(event, KeyPut):
        expires = f" expires {format_ms(event.expires_at_ms)}" if event.expires_at_ms else ""
        return f"= {show_value(event.value)}{expires}"
    if isinstance(event, CounterSet):
        expires = f" expires {format_ms(event.expires_at_ms)}" if event.expires_at_ms else ""
        return f"= {event.value}{expires}"
    if isinstance(event, KeyDeleted):
        text = "evicted" if event.cause == "evicted" else "deleted"
        if event.cause and event.cause != "evicted":
            text += f" ({event.cause})"
        if event.counter_base:
            text += f"; counter base {dict(event.counter_base)}"
        return text
    if isinstance(event, CrdtCounterChanged):
        return f"{event.origin} totals +{event.positive} -{event.negative}"
    if isinstance(event, ListPushed):
        return ("LPUSH " if event.left else "RPUSH ") + show_value(list(event.values))
    if isinstance(event, ListPopped):
        return f"popped {len(event.positions)} element(s)"
    if isinstance(event, SetAdded):
        return "+ " + show_value(list(event.members))
    if isinstance(event, SetRemoved):
        return "- " + show_value([member for member, _tags in event.removed])
    if isinstance(event, HashFieldsSet):
        return "HSET " + ", ".join(
            f"{show_value(field)}={show_value(value)}" for field, value, _tags in event.fields
        )
    if isinstance(event, HashFieldsDeleted):
        return "HDEL " + show_value([field for field, _tags in event.removed])
    if isinstance(event, UserPut):
        return f"user role={event.role}"
    if isinstance(event, UserDeleted):
        return "user deleted"
    return ""  # pragma: no cover - every event type is handled above


def event_json(offset: int, index: int, event: Event) -> dict[str, Any]:
    """The JSON object of one event (``dump --json``), password hashes redacted.

    Field values are left as they are (tuples, bytes): serialize with
    :func:`dumps`, which writes them as :func:`bolt.events.json_friendly` does.
    """
    out: dict[str, Any] = {"offset": offset, "index": index, "type": type(event).__name__}
    out.update(zip(event._fields, event, strict=True))
    if "password_hash" in out:
        out["password_hash"] = "<redacted>"
    out["time"] = format_ms(hlc_ms(event.hlc))
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return json_friendly(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)


def dumps(obj: Any) -> str:
    """Compact JSON of ``obj``; bytes anywhere become ``{"bytes": "<hex>"}``."""
    return _ENCODER.encode(obj)


def write_json_line(stream: IO[str], obj: Any) -> None:
    """Write one JSON object as one line."""
    stream.write(_ENCODER.encode(obj))
    stream.write("\n")


# --- rich ---------------------------------------------------------------------------


def make_console(*, stderr: bool = False, file: IO[str] | None = None) -> Console:
    """A rich console; on a pipe it neither wraps at 80 columns nor emits colour codes."""
    from rich.console import Console

    console = Console(stderr=stderr, file=file, highlight=False)
    if not console.is_terminal:
        console = Console(
            stderr=stderr, file=file, highlight=False, width=200, no_color=True, soft_wrap=True
        )
    return console


def text(value: str, style: str = "") -> Any:
    """User data as a rich Text (never interpreted as markup)."""
    from rich.text import Text

    return Text(value, style=style)


def new_table(*columns: tuple[str, int | None], header: bool = True, title: str = "") -> Table:
    """A plain table with fixed-width columns (``None``: the flexible last column)."""
    from rich.table import Table

    table = Table(
        box=None,
        show_header=header,
        header_style="bold",
        pad_edge=False,
        title=title or None,
        title_justify="left",
        title_style="bold",
    )
    for name, width in columns:
        if width is None:
            table.add_column(name, overflow="fold")
        elif name in _NEVER_CUT:
            table.add_column(name, min_width=width, overflow="fold")
        else:
            table.add_column(name, width=width, no_wrap=True, overflow="ellipsis")
    return table


_NEVER_CUT = frozenset({"offset", "origin:seq"})
"""Columns whose text identifies an event: they grow (or fold) rather than lose
characters (node ids have no length limit: a cut dot names another event)."""


EVENT_COLUMNS: tuple[tuple[str, int | None], ...] = (
    ("offset", 9),
    ("time (UTC)", 24),
    ("origin:seq", 22),
    ("type", 18),
    ("db", 8),
    ("key", 24),
    ("details", None),
)
_TYPE_STYLES = {"KeyDeleted": "red", "UserDeleted": "red", "KeyPut": "green", "UserPut": "cyan"}


def event_row(offset: int, event: Event) -> list[Any]:
    """The cells of one event in the events table."""
    name = type(event).__name__
    return [
        text(str(offset)),
        text(format_ms(hlc_ms(event.hlc))),
        text(f"{event.origin}:{event.seq}"),
        text(name, _TYPE_STYLES.get(name, "")),
        text(event.db),
        text(event.key),
        text(event_details(event)),
    ]


def print_rows(
    console: Console, columns: tuple[tuple[str, int | None], ...], rows: Iterable[list[Any]]
) -> int:
    """Print rows as one table in chunks of :data:`TABLE_CHUNK_ROWS` (bounded memory).

    Only the first chunk has a header; the fixed column widths make the chunks
    line up. An empty table still prints its header. Returns how many rows.
    """
    count = 0
    table = new_table(*columns)
    for cells in rows:
        table.add_row(*cells)
        count += 1
        if table.row_count >= TABLE_CHUNK_ROWS:
            console.print(table)
            table = new_table(*columns, header=False)
    if table.row_count or count == 0:
        console.print(table)
    return count


def print_event_rows(console: Console, rows: Iterable[tuple[int, Event]]) -> int:
    """Print events as one table in chunks (bounded memory); returns how many."""
    return print_rows(console, EVENT_COLUMNS, (event_row(offset, event) for offset, event in rows))


class ProgressBar:
    """A progress bar over log bytes that appears only after a second (see module doc).

    Use as a context manager; call it with the bytes done so far.
    """

    def __init__(self, console: Console | None, description: str, total: int) -> None:
        self._console = console
        self._enabled = console is not None and console.is_terminal
        self._description = description
        self._total = total
        self._started = time.monotonic()
        self._progress: RichProgress | None = None
        self._task: Any = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __call__(self, done: int) -> None:
        """Record that ``done`` bytes of the current pass have been read."""
        if not self._enabled:
            return
        if self._progress is None:
            if time.monotonic() - self._started < PROGRESS_DELAY_SECONDS:
                return
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=self._console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self._description, total=self._total)
        self._progress.update(self._task, completed=min(done, self._total))
