"""How ``boltctl`` prints replies: redis-cli style for people, JSON for scripts.

Theory of operation
-------------------
Each command names a *shape* for its reply (:class:`Shape`); rendering is a
pure function of (reply, shape) that returns text, so it is tested without a
server. The redis-cli conventions:

* a string value is printed bare, exactly as stored (bytes that are not
  UTF-8 go out unchanged, see :func:`write_text`);
* a missing value is ``(nil)``; an integer ``(integer) N``; a yes/no
  answer ``(integer) 1`` or ``(integer) 0``; a write with no reply ``OK``;
* a list or set is numbered lines ``1) "a"`` with each element quoted and
  escaped (so a newline inside an element cannot fake a second element), an
  empty one ``(empty list)``;
* a mapping (``stats``, ``cluster``, ``whoami``) is ``key:value`` lines with
  nested keys joined by dots, like ``INFO``.

``--json`` prints the reply itself as one JSON value on one line, with
``bytes`` that are not UTF-8 as ``{"base64": "..."}``. Errors go to stderr:
``(error) NAME message``, or a JSON object with ``code``, ``name`` and
``message``. Colours (rich) are used only when the stream is a terminal,
and rich is imported only then.
"""

from __future__ import annotations

import base64
import enum
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO


class Shape(enum.Enum):
    """What a command's reply looks like, hence how it is printed."""

    VALUE = "value"  # a string or None
    INTEGER = "integer"  # an int, or None when missing
    BOOLEAN = "boolean"  # True/False shown as (integer) 1/0
    OK = "ok"  # None on success
    LIST = "list"  # a list of values (None allowed inside)
    TEXT = "text"  # a block of text printed as is (metrics)
    MAPPING = "mapping"  # a dict (stats, cluster, whoami)
    USERS = "users"  # a list of {"name", "role"}
    DELETED = "deleted"  # DEL: old value / True / None, shown as (integer) 1 or 0


_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\a": "\\a",
    "\b": "\\b",
}


def _as_text(value: str | bytes) -> str:
    """A value as ``str``; undecodable bytes become lone surrogates (round-trip safe)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


def quote(value: str | bytes) -> str:
    """Quote and escape a value the way redis-cli shows list elements.

    Control characters, quotes, backslashes and bytes that are not UTF-8
    are escaped (``\\n``, ``\\"``, ``\\xff``), so the result is one line.
    """
    out = ['"']
    for char in _as_text(value):
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _numbered(items: Sequence[str]) -> list[str]:
    width = len(str(len(items)))
    return [f"{index:>{width}}) {item}" for index, item in enumerate(items, 1)]


def _scalar(value: Any) -> str:
    """One element of a list: quoted values, ``(nil)``, ``(integer) N``."""
    if value is None:
        return "(nil)"
    if isinstance(value, bool):
        return f"(integer) {int(value)}"
    if isinstance(value, int):
        return f"(integer) {value}"
    if isinstance(value, str | bytes):
        return quote(value)
    return quote(json.dumps(to_json(value), ensure_ascii=False))


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """``(dotted.key, text)`` pairs of a nested mapping, in its order.

    Lists of mappings get their index as a key part (``peers.0.id``); other
    lists are joined with commas.
    """
    pairs: list[tuple[str, str]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            pairs += flatten(value, f"{name}.")
        elif isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    pairs += flatten(item, f"{name}.{index}.")
                else:
                    pairs.append((f"{name}.{index}", _plain(item)))
        elif isinstance(value, list | tuple) and any(isinstance(v, list | tuple) for v in value):
            pairs.append((name, json.dumps(to_json(value), separators=(",", ":"))))
        elif isinstance(value, list | tuple):
            pairs.append((name, ",".join(_plain(item) for item in value)))
        else:
            pairs.append((name, _plain(value)))
    return pairs


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str | bytes):
        return _as_text(value)
    return str(value)


def render(result: Any, shape: Shape) -> str:
    """The redis-cli style text of a reply, without a trailing newline.

    Args:
        result: the reply as the client returned it.
        shape: what the command's reply looks like.

    Returns:
        The text to print (one or more lines).
    """
    if shape is Shape.OK:
        return "OK" if result is None or result is True else _scalar(result)
    if shape is Shape.DELETED:
        return "(integer) 0" if result is None else "(integer) 1"
    if result is None:
        return "(nil)"
    if shape is Shape.VALUE:
        return _as_text(result) if isinstance(result, str | bytes) else _scalar(result)
    if shape in (Shape.INTEGER, Shape.BOOLEAN):
        return _scalar(result)
    if shape is Shape.TEXT:
        return _as_text(result).rstrip("\n") if isinstance(result, str | bytes) else str(result)
    if shape is Shape.LIST:
        items = list(result)
        return "\n".join(_numbered([_scalar(item) for item in items])) or "(empty list)"
    if shape is Shape.USERS:
        return render_users(result)
    if shape is Shape.MAPPING:
        if not isinstance(result, Mapping):
            return _scalar(result)
        return "\n".join(f"{key}:{value}" for key, value in flatten(result))
    raise ValueError(f"unknown shape {shape!r}")


def render_users(users: Iterable[Mapping[str, Any]]) -> str:
    """Users as aligned ``name  role`` lines, numbered; ``(empty list)`` if none."""
    rows = [(str(user.get("name", "")), str(user.get("role", ""))) for user in users]
    if not rows:
        return "(empty list)"
    width = max(len(name) for name, _ in rows)
    return "\n".join(_numbered([f"{name:<{width}}  {role}" for name, role in rows]))


def to_json(value: Any) -> Any:
    """``value`` with bytes made JSON-safe: UTF-8 as text, others as ``{"base64": ...}``."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Mapping):
        return {str(_as_text(k)): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(item) for item in value]
    return value


def render_json(result: Any) -> str:
    """One line of JSON for a reply."""
    return json.dumps(to_json(result), ensure_ascii=False, separators=(",", ":"))


def error_text(name: str, message: str) -> str:
    """redis-cli's error line: ``(error) NAME message``."""
    return f"(error) {name} {message}" if message and message != name else f"(error) {name}"


def error_json(code: int, name: str, message: str) -> str:
    """The JSON object an error is printed as with ``--json``."""
    return json.dumps({"error": {"code": code, "name": name, "message": message}})


def write_text(text: str, stream: TextIO | None = None) -> None:
    """Print ``text`` and a newline, passing undecodable bytes through unchanged.

    Values that were not UTF-8 were decoded with ``surrogateescape``; they
    are encoded back the same way straight to the binary stream, so
    ``boltctl get`` prints exactly the stored bytes.
    """
    stream = sys.stdout if stream is None else stream
    data = (text + "\n").encode("utf-8", "surrogateescape")
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(data.decode("utf-8", "replace"))
        stream.flush()
        return
    stream.flush()
    buffer.write(data)
    buffer.flush()


def write_error(text: str, stream: TextIO | None = None) -> None:
    """Print an error line to stderr, in red on a terminal."""
    stream = sys.stderr if stream is None else stream
    if stream.isatty():
        from rich.console import Console
        from rich.text import Text

        Console(file=stream, highlight=False).print(Text(text, style="bold red"))
        return
    stream.write(text + "\n")
    stream.flush()


def write_table(
    title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]], stream: TextIO
) -> None:
    """A table: rich box drawing on a terminal, aligned plain columns otherwise."""
    if stream.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for index, column in enumerate(columns):
            table.add_column(column, justify="left" if index == 0 else "right")
        for row in rows:
            table.add_row(*row)
        Console(file=stream).print(table)
        return
    stream.write(plain_table(title, columns, rows))
    stream.flush()


def plain_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded with spaces (first left-aligned, others right-aligned), with a rule."""
    widths = [len(column) for column in columns]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(width) if index == 0 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    lines = [title] if title else []
    lines += [line(columns), "  ".join("-" * width for width in widths)]
    lines += [line(row) for row in rows]
    return "\n".join(lines) + "\n"
