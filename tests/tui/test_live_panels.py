"""The Replication and Tasks panels against real daemons, at 80x24.

The replication panel is driven by a real 2-node ``LocalCluster`` (its
peer's state, lag and acknowledged offset move as writes replicate); the
Tasks panel by real tasks created and claimed on a daemon. A standalone
node without tasks has neither panel (``test_screens``).
"""

from __future__ import annotations

from pathlib import Path

from bolt.testing import BoltDaemon, LocalCluster
from bolt.tui import ConnectSettings, TopApp, TopOptions
from bolt.tui._node import NodeView
from tests.tui._support import run, screen_lines, wait_until


def dashboard(node: BoltDaemon) -> TopApp:
    """A fast dashboard of ``node`` (the slow requests every half second too)."""
    return TopApp(
        TopOptions(
            nodes=((node.host, node.port),),
            settings=ConnectSettings(timeout=5.0),
            interval_seconds=0.2,
            cluster_interval_seconds=0.5,
        )
    )


def panel_lines(app: TopApp, title: str) -> list[str]:
    """The screen rows inside the panel titled ``title`` (compact layout: the only one)."""
    lines = screen_lines(app)
    top = next(index for index, line in enumerate(lines) if f"╭─ {title}" in line)
    bottom = next(index for index in range(top + 1, len(lines)) if lines[index].startswith("╰"))
    return [line.strip("│ ") for line in lines[top + 1 : bottom]]


def test_replication_panel_shows_the_peer_live(tmp_path: Path) -> None:
    with LocalCluster(tmp_path, 2) as cluster:
        first = cluster.node(0)
        client = first.client()
        try:

            async def scenario() -> None:
                app = dashboard(first)
                async with app.run_test(size=(80, 24)) as pilot:
                    view: NodeView = app.node_views()[0]
                    await wait_until(
                        lambda: "replication" in view.present_panels(), what="the panel"
                    )
                    app.show_panel("replication")
                    client.mset({f"replicated:{index}": "v" for index in range(40)})
                    offset = client.cluster_status()["last_offset"]
                    cluster.wait_converged()

                    def acked() -> bool:
                        peers = view.replication.peers if view.replication else ()
                        return bool(peers) and peers[0].acked_offset == offset

                    await wait_until(acked, timeout=20, what="the peer's ack in the panel")
                    await pilot.pause(0.3)
                    lines = panel_lines(app, "Replication")
                    screen = screen_lines(app)
                    assert len(screen) == 24 and all(len(line) == 80 for line in screen)
                    assert "node n1" in lines[0] and "healthy 1/1" in lines[0]
                    assert lines[1].split()[:2] == ["peer", "state"]
                    row = next(line for line in lines if line.startswith("n2 ")).split()
                    assert row[1] == "Healthy"
                    assert f"{offset:,}" in row  # the acknowledged offset
                    assert "3/4" not in screen_lines(app)[-2]  # tasks absent: 4 panels
                    assert "4/4" in screen_lines(app)[-2]

            run(scenario)
        finally:
            client.close()


def test_tasks_panel_shows_depth_claims_and_dead_letters(tmp_path: Path) -> None:
    with BoltDaemon.start(tmp_path / "data", env={"BOLT_AUTH": "false"}) as daemon:
        client = daemon.client()
        try:

            async def scenario() -> None:
                app = dashboard(daemon)
                async with app.run_test(size=(80, 24)) as pilot:
                    view: NodeView = app.node_views()[0]
                    await wait_until(lambda: view.refreshes >= 2, what="refreshes")
                    assert "tasks" not in view.present_panels()  # no task yet: no panel
                    for index in range(7):
                        client.execute_command("TASK.CREATE", f"mail-{index}", "email", b"{}")
                    client.execute_command("TASK.CREATE", "scan-1", "ocr", b"{}")
                    await wait_until(lambda: "tasks" in view.present_panels(), what="the panel")
                    for index in range(3):
                        client.execute_command("TASK.CLAIM", "email", f"agent-{index}", 30_000)
                    app.show_panel("tasks")

                    def claimed() -> bool:
                        tasks = view.tasks
                        return tasks is not None and tasks.leases_active == 3

                    await wait_until(claimed, what="three leases in the panel")
                    await pilot.pause(0.3)
                    lines = panel_lines(app, "Tasks")
                    screen = screen_lines(app)
                    assert len(screen) == 24 and all(len(line) == 80 for line in screen)
                    assert lines[0].startswith("claims/s") and "p99 create→claim" in lines[0]
                    assert "ms" in lines[0].split("p99 create→claim")[1]  # a measured p99
                    assert "leases 3" in lines[1] and "next expiry in " in lines[1]
                    assert "dead letters 0" in lines[1]
                    assert lines[2].split()[:4] == ["type", "pending", "claimed", "dead"]
                    email = next(line for line in lines if line.startswith("email")).split()
                    assert email[1:3] == ["4", "3"]  # pending, claimed
                    ocr = next(line for line in lines if line.startswith("ocr")).split()
                    assert ocr[1:3] == ["1", "0"]

            run(scenario)
        finally:
            client.close()
