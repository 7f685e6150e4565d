"""The RESP port shares the Bolt port's partial-frame budget (in process, with a
budget small enough to reach): the connection that passes it is closed with
a reason, and the bytes of every connection are counted in one total."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from bolt import limits
from bolt.server._resp_server import RespListener
from tests.server.test_daemon_server import connect, running


async def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    with trio.fail_after(seconds):
        while not condition():
            await trio.sleep(0.01)


async def _read_until_closed(stream: trio.SocketStream) -> bytes:
    chunks = []
    with trio.fail_after(5):
        while data := await stream.receive_some(65536):
            chunks.append(data)
    return b"".join(chunks)


@pytest.mark.trio
async def test_resp_and_bolt_connections_share_one_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "partial_frames_bytes_max", 1 * limits.MIB)
    half = b"x" * (700 * 1024)
    header = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (4 * limits.MIB)
    async with running(tmp_path) as (server, _engine, peers), trio.open_nursery() as nursery:
        listener = RespListener(server)
        port = await nursery.start(listener.serve, "127.0.0.1", 0)
        bolt_peer = await connect(server, peers)
        await bolt_peer.stream.send_all(struct.pack("<I", 4 * limits.MIB) + half)
        await _until(lambda: server.partial_bytes >= len(half))
        resp = await trio.open_tcp_stream("127.0.0.1", port)
        await resp.send_all(header + half)
        answer = await _read_until_closed(resp)
        assert answer.startswith(b"-ERR the server holds"), answer
        assert b"budget of 1048576" in answer
        assert server.closed_by_reason == {"input_budget": 1}
        await _until(lambda: server.partial_bytes == len(half) + 4)  # the RESP bytes freed
        small = await trio.open_tcp_stream("127.0.0.1", port)
        await small.send_all(b"PING\r\n")
        assert await small.receive_some(100) == b"+PONG\r\n"  # small commands go on
        await small.aclose()
        await resp.aclose()
        listener.shutdown()
        server.shutdown()
