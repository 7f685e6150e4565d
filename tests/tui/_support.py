"""Helpers of the dashboard tests: build the app, wait, read the screen.

These tests are asyncio (textual's loop), not trio: they are plain sync
functions that call :func:`run` (``asyncio.run``), so pytest-trio never
takes them over.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable

from bolt.testing import BoltDaemon
from bolt.tui import ConnectSettings, TopApp, TopOptions


def make_app(
    daemon: BoltDaemon,
    *,
    interval: float = 0.2,
    user: str | None = None,
    password: str | None = None,
    nodes: tuple[tuple[str, int], ...] | None = None,
) -> TopApp:
    """A dashboard of ``daemon`` refreshing every ``interval`` seconds."""
    settings = ConnectSettings(user=user, password=password, timeout=2.0)
    return TopApp(
        TopOptions(
            nodes=nodes or ((daemon.host, daemon.port),),
            settings=settings,
            interval_seconds=interval,
        )
    )


async def wait_until(
    condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition"
) -> None:
    """Yield to the app until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


def screen_lines(app: TopApp) -> list[str]:
    """The text of every row of the app's screen, as a terminal would show it."""
    strips = app.screen._compositor.render_strips()
    return [strip.text for strip in strips]


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run an asyncio scenario to completion (the tests are sync functions)."""
    asyncio.run(scenario())


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
