"""One way to do each thing (issue 11, item 6), checked on the source.

Each of these was written two or three times (client, dashboard, bench,
server, cluster); a copy drifts (the dashboard's percentiles, an address
without brackets). The checks read ``bolt/`` and name the file and line of
any new copy.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "bolt"
SOURCES = sorted(ROOT.rglob("*.py"))


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT.parent))


def _hits(pattern: str, allowed: set[str]) -> list[str]:
    regex = re.compile(pattern)
    return [
        f"{_relative(path)}:{number}: {line.strip()}"
        for path in SOURCES
        if _relative(path) not in allowed
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if regex.search(line)
    ]


def test_addresses_are_formatted_in_one_place() -> None:
    # ``[host]:port`` for IPv6 hosts: bolt.wire.format_address only.
    copies = _hits(r"\}\]:\{|f\"\[\{[^}]*host[^}]*\}\]\"", {"bolt/wire/_address.py"})
    assert not copies, "host:port written by hand (use bolt.wire.format_address):\n" + "\n".join(
        copies
    )


def test_hello_arguments_are_built_in_one_place() -> None:
    # ``[PROTOCOL_VERSION, {...}]``: bolt.client.hello_args only.
    copies = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.List)
                and node.elts
                and isinstance(node.elts[0], ast.Name)
                and node.elts[0].id == "PROTOCOL_VERSION"
                and _relative(path) != "bolt/client/_options.py"
            ):
                copies.append(f"{_relative(path)}:{node.lineno}")
    assert not copies, "HELLO arguments built by hand (use bolt.client.hello_args):\n" + (
        "\n".join(copies)
    )


def test_one_quantile_estimator() -> None:
    # The interpolation inside the bucket holding the rank: bolt.wire.estimate_quantile.
    copies = _hits(r"quantile \* total", {"bolt/wire/_histogram.py"})
    assert not copies, "a copy of the quantile estimator:\n" + "\n".join(copies)


def test_the_dashboard_speaks_through_the_sdk() -> None:
    # No protocol code of its own: no codec, no sockets, no asyncio streams.
    copies = [
        hit
        for hit in _hits(r"\bCodec\b|open_connection|encode_request|import socket", set())
        if hit.startswith("bolt/tui/")
    ]
    assert not copies, "protocol code in the dashboard (use bolt.client):\n" + "\n".join(copies)
