"""Two screen snapshots: 80x24 (one panel) and a wide terminal (all four panels).

They check the structure and the key labels of what a terminal shows, not
exact cells, so they survive changes of theme or number formatting.
"""

from __future__ import annotations

from pathlib import Path

from bolt.testing import BoltDaemon
from bolt.tui._widgets import PanelTable
from tests.tui._support import make_app, run, screen_lines, wait_until

TITLES = ("Commands", "Clients", "Storage", "Replication", "Tasks")


def titles_on(lines: list[str]) -> set[str]:
    return {title for title in TITLES if any(f"╭─ {title}" in line for line in lines)}


def test_80x24_shows_header_sparklines_and_one_panel(daemon: BoltDaemon) -> None:
    async def scenario() -> None:
        app = make_app(daemon)
        async with app.run_test(size=(80, 24)) as pilot:
            view = app.node_views()[0]
            await wait_until(lambda: view.refreshes >= 2, what="refreshes")
            await pilot.pause()
            lines = screen_lines(app)
            assert len(lines) == 24 and all(len(line) == 80 for line in lines)
            header = "\n".join(lines[:3])
            for label in ("node", "up", "offset", "ops/s", "hit", "keys", "conns", "mem", "wal"):
                assert f"{label} " in header, label
            assert daemon.node_id in lines[0]
            assert lines[3].lstrip().startswith("ops/s") and lines[4].lstrip().startswith("p99")
            assert titles_on(lines) == {"Commands"}
            assert "calls/s" in lines[6] and "p99" in lines[6]
            assert any("STATS" in line for line in lines[7:])
            assert "1/3" in lines[-2] and "tab" in lines[-2]  # the way to the other panels
            assert "Quit" in lines[-1] and "Filter" in lines[-1]
            await pilot.press("tab", "tab")
            await pilot.pause()
            lines = screen_lines(app)
            assert titles_on(lines) == {"Storage"}
            assert any("snapshot" in line for line in lines)
            assert any("memory/shard" in line for line in lines)

    run(scenario)


def test_wide_terminal_shows_every_panel_the_node_has(daemon: BoltDaemon) -> None:
    async def scenario() -> None:
        app = make_app(daemon)
        async with app.run_test(size=(160, 48)) as pilot:
            view = app.node_views()[0]
            await wait_until(lambda: view.refreshes >= 2, what="refreshes")
            await pilot.pause()
            lines = screen_lines(app)
            assert len(lines) == 48 and all(len(line) == 160 for line in lines)
            # Standalone and without tasks: no Replication or Tasks panel at all.
            assert titles_on(lines) == {"Commands", "Clients", "Storage"}
            clients_header = next(line for line in lines if "address" in line)
            for column in ("name", "user", "age", "req/s", "command"):
                assert column in clients_header, column
            assert not any("1/3" in line for line in lines)  # no paging in the wide layout
            await pilot.resize_terminal(60, 15)  # shrink: fewer panels, no broken layout
            await wait_until(lambda: app.state.layout.mode == "compact", what="re-layout")
            await pilot.pause()
            lines = screen_lines(app)
            assert len(lines) == 15 and all(len(line) == 60 for line in lines)
            assert len(titles_on(lines)) == 1
            assert not any(line.lstrip().startswith("p99") for line in lines)  # sparklines gone

    run(scenario)


# Characters that are not text: textual's scrollbar thumb ends and its footer's
# palette bar, and a pause glyph some terminals draw two cells wide (issue 10).
STRAY_GLYPHS = "▀▄▌▐▏▕⏸"


def test_80x24_header_never_wraps_and_no_stray_glyph(tmp_path: Path) -> None:
    # A long node id and more clients than the table shows: the header's first
    # line used to wrap onto the second (pushing "mem ..." off the bar), and
    # the clients table drew its scrollbar thumb as a block glyph at its edge.
    node_id = "dashboard-node-with-a-long-name"
    env = {"BOLT_AUTH": "false", "BOLT_NODE_ID": node_id}
    with BoltDaemon.start(tmp_path / "data", env=env) as daemon:
        clients = [daemon.client(client_name=f"worker-{index}") for index in range(20)]
        try:
            for client in clients:
                client.put("k", "v")

            async def scenario() -> None:
                app = make_app(daemon)
                async with app.run_test(size=(80, 24)) as pilot:
                    view = app.node_views()[0]
                    await wait_until(lambda: view.refreshes >= 2, what="refreshes")
                    app.show_panel("clients")
                    await wait_until(
                        lambda: len(view.query_one("#clients", PanelTable).row_keys) >= 21,
                        what="every client in the table",
                    )
                    await pilot.pause()
                    check_screen(screen_lines(app), node_id, paused=False)
                    await pilot.press("p")
                    await pilot.pause()
                    check_screen(screen_lines(app), node_id, paused=True)

            run(scenario)
        finally:
            for client in clients:
                client.close()


def check_screen(lines: list[str], node_id: str, *, paused: bool) -> None:
    assert len(lines) == 24 and all(len(line) == 80 for line in lines)
    first, second, third = (line.strip() for line in lines[:3])
    assert first.startswith(f"node {node_id} │ 127.0.0.1:"), first
    assert second.startswith("ops/s ") and "keys " in second, second
    assert third.startswith("mem ") and "wal " in third, third
    assert first.endswith("PAUSED") == paused, first
    assert "…" not in "".join(lines[:3])
    stray = {glyph for line in lines for glyph in line if glyph in STRAY_GLYPHS}
    assert not stray, f"stray glyphs {sorted(stray)} on screen:\n" + "\n".join(lines)
