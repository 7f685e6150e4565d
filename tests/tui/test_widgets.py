"""The wording of the header and the text panels (pure functions of a frame)."""

from __future__ import annotations

from rich.console import RenderableType

from bolt.tui._format import DASH as D
from bolt.tui._model import StatsModel, replication_view
from bolt.tui._widgets import (
    client_cells,
    command_cells,
    header_text,
    plain_text,
    replication_text,
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


def test_replication_panel_standalone_and_peers() -> None:
    assert "waiting" in plain(replication_text(None))
    standalone = plain(replication_text(replication_view({"mode": "standalone", "peers": []})))
    assert "standalone" in standalone and "no peers" in standalone
    view = replication_view(
        {
            "mode": "cluster",
            "peers": [
                {"id": "n2", "host": "h2", "port": 8519, "state": "Healthy", "lag_events": 3,
                 "lag_seconds": 0.25, "hlc_offset_ms": 1.5, "full_syncs": 1, "partial_syncs": 2},
                {"id": "n3", "host": "h3", "port": 8519, "state": "Dead"},
            ],
            "pending_replication": 3,
        }
    )  # fmt: skip
    text = plain(replication_text(view))
    assert "cluster" in text and "pending replication 3" in text
    n2 = next(line for line in text.splitlines() if line.startswith("n2"))
    for cell in ("h2:8519", "Healthy", "3", "0.2", "1.50ms", "1", "2"):
        assert cell in n2, cell
    n3 = next(line for line in text.splitlines() if line.startswith("n3"))
    assert "Dead" in n3 and D in n3


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
