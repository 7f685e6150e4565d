"""The wording of the header and the text panels (pure functions of a frame)."""

from __future__ import annotations

from rich.console import RenderableType

from bolt.tui._format import DASH as D
from bolt.tui._model import StatsModel
from bolt.tui._widgets import (
    client_cells,
    command_cells,
    header_text,
    plain_text,
    storage_text,
)
from tests.tui.samples import stats


def plain(renderable: RenderableType) -> str:
    return plain_text(renderable, width=100)


def test_header_has_every_figure_and_dashes_for_unknown_rates() -> None:
    frame = StatsModel().update(stats(), now=0.0)
    text = header_text(frame, "10.0.0.1:8518", paused=False).plain
    lines = text.split("\n")
    assert len(lines) == 3
    assert "node n1" in lines[0] and "10.0.0.1:8518" in lines[0] and "offset 39" in lines[0]
    assert f"ops/s {D} (r {D} w {D} srv {D})" in lines[1]  # first refresh: no rates yet
    assert f"hit {D}" in lines[1] and "keys 40" in lines[1] and "conns 2/1,000" in lines[1]
    assert "mem 4.0 KiB / 1.0 GiB" in lines[2] and "allkeys-lru" in lines[2]
    assert "wal batch fsync p99 1.50ms" in lines[2]
    assert "PAUSED" not in text
    assert "PAUSED" in header_text(frame, "x", paused=True).plain


def test_header_rates_after_two_replies() -> None:
    model = StatsModel()
    model.update(stats(), now=0.0)
    frame = model.update(stats(uptime=12.0, total=300, reads=160, writes=140), now=1.0)
    assert "ops/s 100 (r 50.0 w 50.0 srv 0)" in header_text(frame, "h:1", paused=False).plain


def test_storage_panel_text() -> None:
    model = StatsModel()
    model.update(stats(), now=0.0)
    frame = model.update(stats(uptime=12.0), now=1.0)
    text = storage_text(frame.storage, width=60).plain
    assert "log 9.8 KiB in 2 segment(s)" in text
    assert f"snapshot none yet covers {D}" in text
    assert "expired 0/s" in text and "totals 0 / 10" in text
    assert "hottest #1 30 keys 2.9 KiB (1.5x mean)" in text
    assert "memory/shard ▃█" in text


def test_table_cells() -> None:
    model = StatsModel()
    frame = model.update(stats(), now=0.0)
    get = next(row for row in frame.commands if row.name == "GET")
    cells = command_cells(get)
    assert cells["name"] == "GET" and cells["rate"].plain == D
    assert cells["errors"].plain == "1" and "red" in str(cells["errors"].style)
    client = client_cells(frame.clients[0])
    assert client["address"] == "127.0.0.1:1" and client["command"].plain == D
    assert client["requests"].plain == "50"
