"""The server in-process: a real engine and real sockets, one trio run per test.

These tests reach what a subprocess cannot: a failing engine (internal
errors, a disk that fails during the durability wait), the exact order of
replies in a big pipelined batch, shutdown while a request is in flight,
and ``/ready`` during recovery.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing

from bolt import limits
from bolt.errors import DiskError
from bolt.node import Engine, EngineConfig, open_engine
from bolt.server import MODE_PROTECTED, MODE_REQUIRED, Metrics, NodeStatus, Server
from bolt.server._auth import PasswordChecker
from bolt.server._daemon import bootstrap_users
from bolt.wire import Codec, ErrorReply, Message, Response, encode_request


class Peer:
    """A trio wire connection to the in-process server."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.codec = Codec(limits.reply_bytes_max)
        self.next_id = 1

    @classmethod
    async def connect(cls, server: Server) -> Peer:
        return cls(await trio.open_tcp_stream("127.0.0.1", server.port))

    async def send(self, requests: Sequence[tuple[str, list[Any]]]) -> list[int]:
        ids = list(range(self.next_id, self.next_id + len(requests)))
        self.next_id += len(requests)
        data = b"".join(
            encode_request(i, command, args, None)
            for i, (command, args) in zip(ids, requests, strict=True)
        )
        await self.stream.send_all(data)
        return ids

    async def read(self) -> Message | None:
        while True:
            message = self.codec.next_message()
            if message is not None:
                return message
            data = await self.stream.receive_some(1 << 20)
            if not data:
                return None
            self.codec.receive_data(data)

    async def call(self, command: str, args: list[Any]) -> Message | None:
        await self.send([(command, args)])
        return await self.read()


@asynccontextmanager
async def running(
    tmp_path: Path, mode: str = MODE_PROTECTED, **server_options: Any
) -> AsyncIterator[tuple[Server, Engine, list[Peer]]]:
    """A server on a fresh engine; peers appended to the yielded list are closed after."""
    config = EngineConfig(data_dir=tmp_path / "data", fsync="batch")
    peers: list[Peer] = []
    async with open_engine(config) as engine, trio.open_nursery() as nursery:
        server = Server(engine, mode=mode, **server_options)
        await nursery.start(server.serve, "127.0.0.1", 0)
        try:
            yield server, engine, peers
        finally:
            for peer in peers:
                await peer.stream.aclose()
            server.shutdown()


HELLO_ID = 1_000_000_000  # the handshake's id, apart from the ids tests count


async def connect(server: Server, peers: list[Peer], hello: bool = True) -> Peer:
    """A connected peer; with ``hello``, past its HELLO (the pre-login limits end there)."""
    peer = await Peer.connect(server)
    peers.append(peer)
    if hello:
        await peer.stream.send_all(encode_request(HELLO_ID, "HELLO", [1, {}], None))
        reply = await peer.read()
        assert isinstance(reply, Response) and reply.id == HELLO_ID, reply
    return peer


@pytest.mark.trio
async def test_a_pipelined_batch_is_answered_in_order(tmp_path: Path) -> None:
    async with running(tmp_path) as (server, _engine, peers):
        peer = await connect(server, peers)
        requests: list[tuple[str, list[Any]]] = []
        for index in range(600):
            requests += [("PUT", [f"k{index}", str(index)]), ("GET", [f"k{index}"])]
            requests += [("INCR", [f"k{index}"]), ("NOPE", [])]
        ids = await peer.send(requests)
        replies = [await peer.read() for _ in ids]
        assert [getattr(reply, "id", None) for reply in replies] == ids
        for index in range(600):
            put, get, incr, unknown = replies[4 * index : 4 * index + 4]
            assert isinstance(put, Response) and put.result is None
            assert isinstance(get, Response) and get.result == str(index)
            assert isinstance(incr, Response) and incr.result == index + 1
            assert isinstance(unknown, ErrorReply) and unknown.name == "UNKNOWN_COMMAND"
        await trio.testing.wait_all_tasks_blocked()  # counters are updated after the send
        assert server.table["PUT"].calls == 600
        assert server.unknown.errors == 600
        assert server.sessions[1].requests == 2401  # with the HELLO


@pytest.mark.trio
async def test_key_reads_hits_and_misses_of_one_batch_are_counted(tmp_path: Path) -> None:
    async with running(tmp_path) as (server, _engine, peers):
        peer = await connect(server, peers)
        requests: list[tuple[str, list[Any]]] = [
            ("PUT", ["a", "1"]),
            ("PUT", ["b", "2"]),
            ("GET", ["a"]),  # hit
            ("GET", ["nope"]),  # miss
            ("GET", ["a\0b"]),  # miss, through the general path
            ("MGET", ["a", "b", "x", "y", "z"]),  # 2 hits, 3 misses
            ("EXISTS", ["a"]),  # a key read, but not a hit/miss lookup
            ("GET", [1]),  # refused: not counted
        ]
        ids = await peer.send(requests)
        replies = [await peer.read() for _ in ids]
        assert isinstance(replies[-1], ErrorReply) and replies[-1].name == "BAD_REQUEST"
        await trio.testing.wait_all_tasks_blocked()
        assert (server.keys_read_total, server.keys_hit_total, server.keys_missed_total) == (
            9,
            3,
            5,
        )
        assert (server.table["GET"].calls, server.table["PUT"].calls) == (4, 2)


@pytest.mark.trio
async def test_an_internal_error_is_answered_and_the_connection_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(tmp_path) as (server, engine, peers):
        real_submit = engine.submit

        def broken_submit(command: str, args: Sequence[Any], db: str | None = None) -> Any:
            if command == "EXISTS":  # (GET and PUT take the engine's fast paths)
                raise RuntimeError("a bug")
            return real_submit(command, args, db)

        engine.submit = broken_submit  # type: ignore[method-assign]
        peer = await connect(server, peers)
        reply = await peer.call("EXISTS", ["k"])
        assert isinstance(reply, ErrorReply)
        assert (reply.name, reply.code) == ("SERVER_ERROR", 300)
        assert "internal error while running 'EXISTS'" in reply.message
        assert await peer.call("PUT", ["k", "v"]) == Response(2, None)
        assert any("a bug" in str(record.exc_info) for record in caplog.records)


@pytest.mark.trio
async def test_a_disk_failure_turns_the_batch_writes_into_errors(tmp_path: Path) -> None:
    async with running(tmp_path) as (server, engine, peers):
        await engine.execute("PUT", ["k", "old"])

        async def failing_wait(offset: int) -> None:
            raise DiskError("fsync failed: EIO")

        engine.wait_durable = failing_wait  # type: ignore[method-assign]
        peer = await connect(server, peers)
        await peer.send(
            [("GET", ["k"]), ("PUT", ["k", "new"]), ("GET", ["missing"]), ("DEL", ["missing"])]
        )
        get, put, missing, no_op = [await peer.read() for _ in range(4)]
        assert get == Response(1, "old")
        assert isinstance(put, ErrorReply) and put.name == "DISK_ERROR" and put.id == 2
        assert missing == Response(3, None)
        # A write that changed nothing is not acknowledged past a failed log either.
        assert isinstance(no_op, ErrorReply) and no_op.name == "DISK_ERROR" and no_op.id == 4
        assert server.errors[(303, "DISK_ERROR")] == 2
        await trio.testing.wait_all_tasks_blocked()
        assert (server.table["PUT"].errors, server.table["DEL"].errors) == (1, 1)


@pytest.mark.trio
async def test_a_write_that_changes_nothing_waits_for_what_it_read(tmp_path: Path) -> None:
    async with running(tmp_path) as (_server, engine, _peers):
        _, added = engine.submit("SADD", ["s", "m"])
        assert engine.submit("SADD", ["s", "m"]) == (0, added)  # already there: waits for it
        assert engine.submit("DEL", ["nope"])[1] == added
        assert engine.submit("SCARD", ["s"]) == (1, -1)  # reads wait for nothing


@pytest.mark.trio
async def test_shutdown_lets_an_in_flight_request_finish(tmp_path: Path) -> None:
    async with open_engine(EngineConfig(data_dir=tmp_path / "data")) as engine:
        await bootstrap_users(engine, MODE_REQUIRED, "secret", PasswordChecker())
        server = Server(engine, mode=MODE_REQUIRED)
        peers: list[Peer] = []
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve, "127.0.0.1", 0)
            idle = await connect(server, peers)
            busy = await connect(server, peers)
            # HELLO with a password hashes in a worker thread: it is in flight
            # when the shutdown begins.
            await busy.send([("HELLO", [1, {"user": "admin", "password": "secret"}])])
            while not server.sessions or all(s.requests == 0 for s in server.sessions.values()):
                await trio.sleep(0.001)
            server.shutdown()
            hello = await busy.read()
            assert isinstance(hello, Response) and hello.result["user"] == "admin"
            goodbye = await busy.read()
            assert isinstance(goodbye, ErrorReply) and goodbye.name == "SHUTTING_DOWN"
            assert await busy.read() is None
            idle_goodbye = await idle.read()
            assert isinstance(idle_goodbye, ErrorReply) and idle_goodbye.id == 0
        for peer in peers:
            await peer.stream.aclose()
        assert not server.listening
        with pytest.raises(OSError):
            await trio.open_tcp_stream("127.0.0.1", server.port)


@pytest.mark.trio
async def test_shutdown_grace_cancels_stuck_sessions(tmp_path: Path) -> None:
    async with open_engine(EngineConfig(data_dir=tmp_path / "data")) as engine:
        server = Server(engine, mode=MODE_PROTECTED, shutdown_grace_seconds=0.2)
        stuck = trio.Event()

        async def never_durable(offset: int) -> None:
            stuck.set()
            await trio.sleep_forever()

        engine.wait_durable = never_durable  # type: ignore[method-assign]
        peers: list[Peer] = []
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                await nursery.start(server.serve, "127.0.0.1", 0)
                peer = await connect(server, peers)
                await peer.send([("PUT", ["k", "v"])])
                await stuck.wait()
                server.shutdown()
        assert await peer.read() is None  # never acknowledged
        await peer.stream.aclose()


@pytest.mark.trio
async def test_over_the_limit_a_connection_is_told_why(tmp_path: Path) -> None:
    async with running(tmp_path, max_connections=1) as (server, _engine, peers):
        first = await connect(server, peers)
        assert await first.call("PING", []) == Response(1, "PONG")
        second = await connect(server, peers, hello=False)
        refused = await second.read()
        assert isinstance(refused, ErrorReply)
        assert (refused.id, refused.name) == (0, "TOO_MANY_CONNECTIONS")
        assert "limit of 1" in refused.message
        assert await second.read() is None
        assert await first.call("PING", []) == Response(2, "PONG")
        assert server.connections_refused == 1


@pytest.mark.trio
async def test_a_frame_split_across_many_sends_is_reassembled(tmp_path: Path) -> None:
    async with running(tmp_path) as (server, _engine, peers):
        peer = await connect(server, peers)
        data = encode_request(1, "PUT", ["split", "x" * 100_000], None)
        peer.next_id = 2
        for start in range(0, len(data), 7_000):
            await peer.stream.send_all(data[start : start + 7_000])
            await trio.lowlevel.checkpoint()
        assert await peer.read() == Response(1, None)
        assert await peer.call("GET", ["split"]) == Response(2, "x" * 100_000)


@pytest.mark.trio
async def test_oversized_length_prefix_is_refused_before_its_payload(tmp_path: Path) -> None:
    async with running(tmp_path) as (server, _engine, peers):
        peer = await connect(server, peers)
        await peer.stream.send_all(struct.pack("<I", limits.frame_bytes_max + 1))
        with trio.fail_after(5):  # answered at once, without waiting for 64 MiB
            error = await peer.read()
        assert isinstance(error, ErrorReply) and error.name == "PROTOCOL_ERROR"
        assert "over the limit" in error.message


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    response = b""
    while data := await stream.receive_some(65536):
        response += data
    await stream.aclose()
    return int(response.split(b" ", 2)[1]), response.split(b"\r\n\r\n", 1)[1]


@pytest.mark.trio
async def test_ready_follows_recovery_listener_and_shutdown(tmp_path: Path) -> None:
    status = NodeStatus()
    metrics = Metrics(status)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(metrics.serve, "127.0.0.1", 0)
        assert await http_get(port, "/health") == (200, b"ok\n")
        assert await http_get(port, "/ready") == (503, b"not ready: recovering\n")
        assert (await http_get(port, "/metrics"))[0] == 200
        async with open_engine(EngineConfig(data_dir=tmp_path / "data")) as engine:
            status.engine = engine
            server = Server(engine, mode=MODE_PROTECTED)
            status.server = server
            assert await http_get(port, "/ready") == (503, b"not ready: starting the listener\n")
            async with trio.open_nursery() as serving:
                await serving.start(server.serve, "127.0.0.1", 0)
                assert await http_get(port, "/ready") == (200, b"ready\n")
                _, text = await http_get(port, "/metrics")
                assert b"bolt_ready 1.0" in text
                server.shutdown()
                assert await http_get(port, "/ready") == (503, b"not ready: shutting down\n")
        nursery.cancel_scope.cancel()


@pytest.mark.trio
async def test_latency_windows_rotate(tmp_path: Path) -> None:
    async with running(tmp_path) as (server, _engine, peers):
        peer = await connect(server, peers)
        await peer.call("PING", [])
        await trio.testing.wait_all_tasks_blocked()  # counters are updated after the send
        counters = server.table["PING"]
        assert sum(counters.window) == 1
        counters.rotate()
        assert sum(counters.window) == 0 and sum(counters.recent_counts()) == 1
        counters.rotate()
        assert sum(counters.recent_counts()) == 0
        assert counters.calls == 1 and sum(counters.buckets) == 1
