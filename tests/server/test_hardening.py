"""In-process hardening checks that need a limit smaller than the daemon's default."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from bolt import limits
from bolt.wire import ErrorReply, Response
from tests.server.test_daemon_server import connect, running


@pytest.mark.trio
async def test_partial_frames_share_one_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "partial_frames_bytes_max", 1 * limits.MIB)
    async with running(tmp_path) as (server, _engine, peers):
        first = await connect(server, peers)
        second = await connect(server, peers)
        await first.stream.send_all(struct.pack("<I", 4 * limits.MIB) + bytes(700 * 1024))
        await _until(lambda: server.partial_bytes >= 700 * 1024)
        await second.stream.send_all(struct.pack("<I", 4 * limits.MIB) + bytes(700 * 1024))
        refused = await second.read()
        assert isinstance(refused, ErrorReply)
        assert (refused.id, refused.name) == (0, "INPUT_BUDGET")
        assert "budget of 1048576" in refused.message
        assert server.closed_by_reason == {"input_budget": 1}
        await _until(lambda: server.partial_bytes == 700 * 1024 + 4)  # the second's bytes freed
        third = await connect(server, peers)
        assert await third.call("PING", []) == Response(1, "PONG")  # small requests go on
        await first.stream.aclose()
        peers.remove(first)
        await _until(lambda: server.partial_bytes == 0)


async def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    with trio.fail_after(seconds):
        while not condition():
            await trio.sleep(0.01)


@pytest.mark.trio
async def test_session_watcher_closes_by_reason(tmp_path: Path) -> None:
    async with running(tmp_path, login_timeout_seconds=0.2) as (server, _engine, peers):
        silent = await connect(server, peers, hello=False)
        greeted = await connect(server, peers)
        reply = await silent.read()
        assert isinstance(reply, ErrorReply) and reply.name == "LOGIN_TIMEOUT"
        assert await silent.read() is None
        assert await greeted.call("PING", []) == Response(1, "PONG")
        assert server.closed_by_reason == {"login_timeout": 1}


def test_timed_out_rules() -> None:
    from bolt.server._auth import LEVEL_ADMIN, LEVEL_NONE
    from bolt.server._session import Session, Timeouts, timed_out

    limits_ = Timeouts(login_seconds=10, idle_seconds=0, output_stall_seconds=30)
    anonymous = Session(1, "10.0.0.1:5", LEVEL_NONE)
    age = anonymous.connected_at
    assert timed_out(anonymous, 0.0, age + 9, limits_) == ("", None)
    reason, error = timed_out(anonymous, 0.0, age + 11, limits_)
    assert reason == "login_timeout" and error is not None and error.name == "LOGIN_TIMEOUT"
    # Without auth (admin level, no HELLO yet) only an idle session is closed.
    greeted_later = Session(2, "10.0.0.1:6", LEVEL_ADMIN)
    assert timed_out(greeted_later, 0.0, greeted_later.connected_at + 11, limits_)[0] == ""
    greeted_later.idle = True
    assert timed_out(greeted_later, 0.0, greeted_later.connected_at + 11, limits_)[0] == (
        "login_timeout"
    )
    logged_in = Session(3, "10.0.0.1:7", LEVEL_ADMIN)
    logged_in.logged_in = logged_in.idle = True
    logged_in.last_active = 100.0
    assert timed_out(logged_in, 10_000.0, 0.0, limits_) == ("", None)  # idle timeout off
    idle_limits = Timeouts(login_seconds=10, idle_seconds=5, output_stall_seconds=30)
    assert timed_out(logged_in, 104.0, 0.0, idle_limits)[0] == ""
    assert timed_out(logged_in, 106.0, 0.0, idle_limits)[0] == "idle_timeout"
    logged_in.idle = False
    logged_in.sending_since = 200.0
    assert timed_out(logged_in, 229.0, 0.0, idle_limits)[0] == ""
    assert timed_out(logged_in, 231.0, 0.0, idle_limits)[0] == "output_limit"
