"""How the dashboard reaches a node (the SDK client off the loop): real daemons,
plus tiny asyncio servers for failures."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bolt.errors import (
    AuthenticationError,
    BoltConnectionError,
    BoltTimeoutError,
    ShuttingDownError,
    UnknownCommandError,
)
from bolt.testing import BoltDaemon
from bolt.tui import ConnectSettings, NodeLink, NotConnectedError
from bolt.wire import Codec, Request, encode_error, encode_response
from tests.tui._support import closed_port, run

CERT_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_test_certs.py"

Handler = Callable[[Request], bytes | None]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def with_toy_server(handler: Handler, body: Callable[[int], Awaitable[None]]) -> None:
    """Serve on a free port: ``handler`` answers each request (``None``: close the stream)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        codec = Codec()
        try:
            while data := await reader.read(65536):
                codec.receive_data(data)
                while (message := codec.next_message()) is not None:
                    assert isinstance(message, Request)
                    if message.command == "HELLO":
                        writer.write(encode_response(message.id, {"node_id": "toy"}))
                        continue
                    reply = handler(message)
                    if reply is None:
                        return
                    writer.write(reply)
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        await body(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


def test_stats_and_typed_errors_against_the_daemon(daemon: BoltDaemon) -> None:
    async def scenario() -> None:
        link = NodeLink(daemon.host, daemon.port, ConnectSettings())
        try:
            stats = await link.request("STATS")
            assert link.server_info["node_id"] == daemon.node_id == stats["node_id"]
            names = [client["name"] for client in stats["clients"]]
            assert "boltctl-top" in names  # the client name announced in HELLO
            with pytest.raises(UnknownCommandError):
                await link.request("NO_SUCH_COMMAND")
            assert link.connected
            assert (await link.request("PING")) == "PONG"  # still usable
        finally:
            await link.close()
        assert not link.connected

    run(scenario)


def test_the_loop_never_waits_for_a_request(daemon: BoltDaemon) -> None:
    # The SDK client blocks; the link runs it in a worker thread, so the event
    # loop (textual's) keeps ticking while a request is in flight.
    async def scenario() -> None:
        link = NodeLink(daemon.host, daemon.port, ConnectSettings())
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.get_running_loop().create_task(tick())
        try:
            for _ in range(20):
                await link.request("STATS")
        finally:
            ticker.cancel()
            await link.close()
        assert ticks >= 20  # at least one tick per request: none blocked the loop

    run(scenario)


def test_wrong_password_is_an_authentication_error(tmp_path: Path) -> None:
    with BoltDaemon.start(tmp_path, env={"BOLT_ADMIN_PASSWORD": "right"}) as daemon:

        async def scenario() -> None:
            settings = ConnectSettings(user="admin", password="wrong")
            link = NodeLink(daemon.host, daemon.port, settings)
            with pytest.raises(AuthenticationError):
                await link.request("STATS")
            good = NodeLink(daemon.host, daemon.port, ConnectSettings("admin", "right"))
            try:
                assert (await good.request("STATS"))["auth"] == "required"
            finally:
                await good.close()

        run(scenario)


def test_node_link_backs_off_between_reconnect_attempts() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        link = NodeLink("127.0.0.1", closed_port(), ConnectSettings(timeout=2), clock=clock)
        with pytest.raises(BoltConnectionError) as refused:
            await link.request("STATS")
        assert not isinstance(refused.value, NotConnectedError)
        assert link.attempts == 1 and link.retry_in() == pytest.approx(0.25)
        with pytest.raises(NotConnectedError):  # fails fast, no attempt
            await link.request("STATS")
        assert link.attempts == 1
        delays = []
        for _ in range(8):
            clock.now += link.retry_in()
            with pytest.raises(BoltConnectionError):
                await link.request("STATS")
            delays.append(link.retry_in())
        assert delays[:4] == [0.5, 1.0, 2.0, 4.0]
        assert max(delays) == 5.0  # capped
        assert not link.connected and link.last_error is not None

    run(scenario)


def test_a_lost_connection_fails_the_request_and_reconnects() -> None:
    closes = [True]

    def handler(request: Request) -> bytes | None:
        if closes and closes.pop():
            return None  # drop the connection instead of answering
        return encode_response(request.id, {"node_id": "toy", "uptime_seconds": 1.0})

    async def body(port: int) -> None:
        link = NodeLink("127.0.0.1", port, ConnectSettings(timeout=2))
        try:
            with pytest.raises(BoltConnectionError):
                await link.request("STATS")
            assert not link.connected and link.retry_in() == 0  # a fresh loss: retry at once
            assert (await link.request("STATS"))["node_id"] == "toy"
            assert link.connected and link.attempts == 0 and link.last_error is None
        finally:
            await link.close()

    run(lambda: with_toy_server(handler, body))


def test_the_servers_last_word_and_a_silent_server() -> None:
    def handler(request: Request) -> bytes | None:
        if request.command == "BYE":
            return encode_error(0, ShuttingDownError("stopping"))
        return b""  # never answer

    async def body(port: int) -> None:
        link = NodeLink("127.0.0.1", port, ConnectSettings(timeout=0.3))
        try:
            with pytest.raises(BoltTimeoutError):
                await link.request("STATS")
            assert not link.connected  # a timed-out connection is out of sync: dropped
            with pytest.raises(BoltConnectionError, match="stopping"):
                await link.request("BYE")
            assert not link.connected
        finally:
            await link.close()

    run(lambda: with_toy_server(handler, body))


def test_closing_during_a_request_does_not_wait_for_it() -> None:
    def handler(request: Request) -> bytes | None:
        return b""  # never answer

    async def body(port: int) -> None:
        link = NodeLink("127.0.0.1", port, ConnectSettings(timeout=3))
        pending = asyncio.get_running_loop().create_task(link.request("STATS"))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await link.close()
        assert time.monotonic() - started < 0.5  # the worker thread closes the client later
        pending.cancel()

    run(lambda: with_toy_server(handler, body))


def test_tls(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run([sys.executable, str(CERT_SCRIPT), str(certs)], check=True, timeout=60)
    env = {
        "BOLT_AUTH": "false",
        "BOLT_TLS_CERT": str(certs / "server.pem"),
        "BOLT_TLS_KEY": str(certs / "server.key"),
    }
    with BoltDaemon.start(tmp_path / "data", env=env) as daemon:

        async def scenario() -> None:
            context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
            link = NodeLink(daemon.host, daemon.port, ConnectSettings(ssl_context=context))
            try:
                assert (await link.request("STATS"))["node_id"] == daemon.node_id
            finally:
                await link.close()
            untrusting = NodeLink(
                daemon.host, daemon.port, ConnectSettings(ssl_context=ssl.create_default_context())
            )
            with pytest.raises(BoltConnectionError):
                await untrusting.request("STATS")
            plain = NodeLink(daemon.host, daemon.port, ConnectSettings(timeout=2))
            with pytest.raises((BoltConnectionError, BoltTimeoutError)):
                await plain.request("STATS")
            await plain.close()

        run(scenario)
