"""What fits the terminal: panels by size, columns by width."""

from __future__ import annotations

from bolt.tui._layout import (
    CLIENT_COLUMNS,
    COLUMN_GAP,
    COMMAND_COLUMNS,
    SPARKLINES_HEIGHT_MIN,
    choose_columns,
    choose_layout,
)


def test_small_terminals_get_one_panel_at_a_time() -> None:
    assert choose_layout(80, 24).mode == "compact"
    assert choose_layout(80, 24).sparklines
    assert choose_layout(200, 30).mode == "compact"  # wide but short
    assert choose_layout(100, 60).mode == "compact"  # tall but narrow
    assert choose_layout(160, 48).mode == "wide"
    assert not choose_layout(80, SPARKLINES_HEIGHT_MIN - 1).sparklines


def test_columns_fit_by_priority_and_keep_their_order() -> None:
    for columns in (COMMAND_COLUMNS, CLIENT_COLUMNS):
        everything = choose_columns(columns, 1000)
        assert everything == columns
        for width in (30, 40, 60, 77, 100):
            chosen = choose_columns(columns, width)
            assert sum(column.width + COLUMN_GAP for column in chosen) <= width
            order = [columns.index(column) for column in chosen]
            assert order == sorted(order)
    at_80 = [column.key for column in choose_columns(CLIENT_COLUMNS, 77)]
    assert at_80[:3] == ["address", "name", "user"] and "command" in at_80
    assert [column.key for column in choose_columns(CLIENT_COLUMNS, 3)] == ["address"]
