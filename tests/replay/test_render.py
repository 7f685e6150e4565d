"""Rendering primitives: streamed tables in chunks."""

from __future__ import annotations

import io

import pytest

from bolt.replay import _render


def _print(rows: int) -> tuple[int, list[str]]:
    out = io.StringIO()
    console = _render.make_console(file=out)
    columns = (("n", 6), ("word", None))
    count = _render.print_rows(
        console, columns, ([_render.text(str(i)), _render.text(f"w{i}")] for i in range(rows))
    )
    return count, out.getvalue().splitlines()


def test_rows_are_printed_in_chunks_under_one_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_render, "TABLE_CHUNK_ROWS", 3)
    count, lines = _print(8)  # chunks of 3, 3 and 2 rows
    assert count == 8
    rows = [[str(i), f"w{i}"] for i in range(8)]
    assert [line.split() for line in lines] == [["n", "word"], *rows]


def test_an_empty_table_still_prints_its_header() -> None:
    count, lines = _print(0)
    assert count == 0
    assert [line.split() for line in lines] == [["n", "word"]]
