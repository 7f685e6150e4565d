"""``boltctl top`` driven by textual's Pilot against a real daemon."""

from __future__ import annotations

import threading
from pathlib import Path

from bolt.testing import BoltDaemon
from bolt.tui import EXIT_AUTH_FAILED, TopApp
from bolt.tui._model import hit_ratio
from bolt.tui._node import NodeView
from bolt.tui._widgets import Banner, PanelTable
from tests.tui._support import closed_port, make_app, run, screen_lines, wait_until


def view_of(app: TopApp) -> NodeView:
    return app.node_views()[0]


def test_header_shows_the_key_count_after_writes(daemon: BoltDaemon) -> None:
    async def scenario() -> None:
        app = make_app(daemon)
        async with app.run_test(size=(80, 24)):
            view = view_of(app)
            await wait_until(lambda: view.refreshes >= 1, what="a first refresh")
            client = daemon.client()
            try:
                client.mset({f"header:{index}": "v" for index in range(137)})
                keys = client.stats()["keys"]
            finally:
                client.close()
            assert keys >= 137
            await wait_until(lambda: f"keys {keys:,}" in view.header_plain(), what="the key count")
            assert view.frame is not None and view.frame.header.keys == keys

    run(scenario)


def test_hit_ratio_reads_the_servers_hit_and_miss_counters(daemon: BoltDaemon) -> None:
    client = daemon.client()
    try:
        client.put("hit:present", "v")
        before = client.stats()
        for key in ("hit:present", "hit:present", "hit:present", "hit:absent"):
            client.get(key)
        after = client.stats()
    finally:
        client.close()
    assert hit_ratio(after, before) == 0.75  # the header's "hit" figure, not a dash


def test_ops_per_second_rise_under_load(daemon: BoltDaemon) -> None:
    stop = threading.Event()

    def load() -> None:
        client = daemon.client(client_name="load")
        try:
            while not stop.is_set():
                with client.pipeline() as pipe:
                    for index in range(50):
                        pipe.put(f"load:{index}", "x")
                    pipe.execute()
        finally:
            client.close()

    async def scenario() -> None:
        app = make_app(daemon)
        async with app.run_test(size=(80, 24)):
            view = view_of(app)
            await wait_until(lambda: view.refreshes >= 3, what="idle refreshes")
            assert view.frame is not None
            idle = view.frame.header.ops_per_second
            assert idle is not None and idle < 100  # only the dashboard's own requests
            worker = threading.Thread(target=load, daemon=True)
            worker.start()
            try:
                await wait_until(
                    lambda: (view.frame.header.ops_per_second or 0) > max(10 * idle, 500),
                    what="ops/s to rise",
                )
                assert (view.frame.header.writes_per_second or 0) > 0
                assert max(value or 0 for value in view.frame.ops_history) > 500
            finally:
                stop.set()
                worker.join(10)

    run(scenario)


def test_pause_stops_updates_and_requests(daemon: BoltDaemon) -> None:
    async def scenario() -> None:
        app = make_app(daemon, interval=0.1)
        async with app.run_test(size=(80, 24)) as pilot:
            view = view_of(app)
            await wait_until(lambda: view.refreshes >= 2, what="refreshes")
            await pilot.press("p")
            await pilot.pause(0.3)  # a poll already under way may still land
            assert "PAUSED" in view.header_plain()
            refreshes, header = view.refreshes, view.header_plain()
            client = daemon.client()
            try:
                calls = client.stats()["commands"]["STATS"]["calls"]
                client.mset({f"paused:{index}": "v" for index in range(11)})
                await pilot.pause(1.0)  # ten intervals
                assert client.stats()["commands"]["STATS"]["calls"] - calls <= 1  # only ours
                keys = client.stats()["keys"]
            finally:
                client.close()
            assert view.refreshes == refreshes
            assert view.header_plain() == header
            await pilot.press("p")
            await wait_until(lambda: f"keys {keys:,}" in view.header_plain(), what="resumed")
            assert "PAUSED" not in view.header_plain()

    run(scenario)


def test_filter_narrows_the_clients_table(daemon: BoltDaemon) -> None:
    async def scenario() -> None:
        alpha = daemon.client(client_name="filter-alpha")
        beta = daemon.client(client_name="filter-beta")
        try:
            app = make_app(daemon)
            async with app.run_test(size=(80, 24)) as pilot:
                table = app.query_one("#clients", PanelTable)
                await wait_until(lambda: len(table.row_keys) >= 3, what="three clients")
                unfiltered = len(table.row_keys)
                await pilot.press("tab")  # show the clients panel
                await pilot.press("slash", *"alpha")
                await wait_until(lambda: len(table.row_keys) == 1, what="the filter")
                row = view_of(app).frame
                assert row is not None
                names = [client.name for client in row.clients if str(client.id) in table.row_keys]
                assert names == ["filter-alpha"]
                await pilot.press("enter")  # closes the input, keeps the filter
                assert not app.query_one("#filter").has_class("-visible")
                assert app.state.filter_text == "alpha"
                await pilot.press("escape")  # clears it
                await wait_until(lambda: len(table.row_keys) >= unfiltered, what="unfiltered")
                await pilot.press("slash", "q", "left")  # keys go to the input, not the app
                assert app.state.filter_text == "q" and app.state.panel == "clients"
                assert app.return_code is None
                await pilot.press("escape")  # clears and closes
                assert app.state.filter_text == "" and not app.query_one("#filter").display
        finally:
            alpha.close()
            beta.close()

    run(scenario)


def test_a_killed_server_shows_the_banner_and_recovers(tmp_path: Path) -> None:
    env = {"BOLT_AUTH": "false"}
    first = BoltDaemon.start(tmp_path, env=env)
    second: BoltDaemon | None = None
    try:

        async def scenario() -> None:
            nonlocal second
            app = make_app(first)
            async with app.run_test(size=(80, 24)):
                view = view_of(app)
                banner = app.query_one(Banner)
                await wait_until(lambda: view.refreshes >= 2, what="refreshes")
                assert not banner.visible_message
                first.kill()
                await wait_until(lambda: banner.visible_message, what="the banner")
                assert "lost" in banner.plain and "reconnecting" in banner.plain
                refreshes = view.refreshes
                second = BoltDaemon.start(tmp_path, env=env, args=["--port", str(first.port)])
                await wait_until(lambda: view.refreshes > refreshes, what="a refresh after restart")
                await wait_until(lambda: not banner.visible_message, what="the banner to go")
                assert view.frame is not None and view.frame.header.node_id == second.node_id

        run(scenario)
    finally:
        first.kill()
        if second is not None:
            second.kill()


def test_wrong_password_ends_the_app_with_a_failure(tmp_path: Path) -> None:
    with BoltDaemon.start(tmp_path, env={"BOLT_ADMIN_PASSWORD": "right"}) as daemon:

        async def scenario() -> None:
            app = make_app(daemon, user="admin", password="wrong")
            async with app.run_test(size=(80, 24)):
                await wait_until(lambda: app.failure is not None, what="the failure")
            assert app.return_code == EXIT_AUTH_FAILED
            assert app.failure is not None and "authentication failed" in app.failure

        run(scenario)


def test_keys_move_between_panels_sort_and_show_help(daemon: BoltDaemon) -> None:
    async def scenario() -> None:
        app = make_app(daemon)
        async with app.run_test(size=(80, 24)) as pilot:
            view = view_of(app)
            await wait_until(lambda: view.refreshes >= 1, what="a refresh")
            commands, clients = app.query_one("#panel-commands"), app.query_one("#panel-clients")
            assert commands.display and not clients.display  # 80x24: one panel at a time
            await pilot.press("tab")
            assert app.state.panel == "clients"
            assert clients.display and not commands.display
            assert app.focused is app.query_one("#clients")
            await pilot.press("s")
            assert app.state.client_sort == "requests"
            await pilot.press("left", "left")  # a standalone node without tasks: three panels
            assert app.state.panel == "storage"
            await pilot.press("right", "s", "r")
            assert app.state.panel == "commands"
            assert (app.state.command_sort, app.state.command_reverse) == ("p99", True)
            await pilot.press("question_mark")
            assert type(app.screen).__name__ == "HelpScreen"
            await pilot.press("escape")
            assert type(app.screen).__name__ == "Screen"
            await pilot.press("colon")
            assert type(app.screen).__name__ == "CommandPalette"
            await pilot.press("escape")
            await pilot.press("q")
        assert app.return_code == 0

    run(scenario)


def test_several_nodes_one_tab_each(daemon: BoltDaemon) -> None:
    down = ("127.0.0.1", closed_port())
    nodes = ((daemon.host, daemon.port), down)

    async def scenario() -> None:
        app = make_app(daemon, nodes=nodes)
        async with app.run_test(size=(100, 30)) as pilot:
            up_view, down_view = app.node_views()
            await wait_until(lambda: up_view.refreshes >= 1, what="the live node")
            down_banner = down_view.query_one(Banner)
            await wait_until(lambda: down_banner.visible_message, what="the dead node's banner")
            assert "127.0.0.1:" in down_banner.plain and "reconnecting" in down_banner.plain
            assert not up_view.query_one(Banner).visible_message
            tab_bar = screen_lines(app)[:2]
            assert any(f"{daemon.host}:{daemon.port}" in line for line in tab_bar)
            assert any(f"127.0.0.1:{down[1]}" in line for line in tab_bar)
            assert app.current_view() is up_view
            await pilot.press("right_square_bracket")
            assert app.current_view() is down_view
            await pilot.press("right_square_bracket")
            assert app.current_view() is up_view

    run(scenario)
