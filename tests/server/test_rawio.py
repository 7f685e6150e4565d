"""Direct socket reads and writes on the server's hot path (bolt.server._rawio)."""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from bolt.server._rawio import receiver, send_now


@asynccontextmanager
async def tcp_pair() -> AsyncIterator[tuple[trio.SocketStream, trio.SocketStream]]:
    """A connected pair of plain TCP streams on a free loopback port."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client = await trio.open_tcp_stream("127.0.0.1", port)
    server = await listeners[0].accept()
    try:
        yield server, client
    finally:
        await client.aclose()
        await server.aclose()
        await listeners[0].aclose()


@pytest.mark.trio
async def test_receive_reads_waiting_bytes_waits_for_more_and_sees_the_end() -> None:
    async with tcp_pair() as (server, client):
        receive = receiver(server)
        await client.send_all(b"hello")
        await trio.testing.wait_all_tasks_blocked()
        assert await receive(100) == b"hello"
        got: list[bytes | bytearray] = []

        async def read_one() -> None:
            got.append(await receive(100))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_one)
            await trio.testing.wait_all_tasks_blocked()
            assert got == []  # nothing there: it waits
            await client.send_all(b"world")
        assert got == [b"world"]
        await client.send_eof()
        assert await receive(100) == b""


@pytest.mark.trio
async def test_a_waiting_receive_is_cancellable() -> None:
    async with tcp_pair() as (server, _client):
        receive = receiver(server)
        with trio.move_on_after(0.05) as scope:
            await receive(100)
        assert scope.cancelled_caught


@pytest.mark.trio
async def test_send_now_writes_what_fits_and_send_all_the_rest() -> None:
    async with tcp_pair() as (server, client):
        server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        data = bytes(range(256)) * (64 * 1024)  # 16 MiB: more than the buffers hold
        sent = send_now(server, data)
        assert 0 < sent < len(data)
        for _ in range(1000):  # the peer's kernel may still take some: until it takes none
            more = send_now(server, memoryview(data)[sent:])
            if not more:
                break
            sent += more
        assert sent < len(data) and send_now(server, data[sent:]) == 0  # full: nothing waits
        received = bytearray()

        async def read_all() -> None:
            while len(received) < len(data):
                received.extend(await client.receive_some(1 << 20))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_all)
            await server.send_all(memoryview(data)[sent:])
        assert bytes(received) == data


@pytest.mark.trio
async def test_a_reset_connection_is_a_broken_resource() -> None:
    async with tcp_pair() as (server, client):
        client.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.socket.close()  # RST
        await trio.sleep(0.05)
        with pytest.raises(trio.BrokenResourceError):
            await receiver(server)(100)
        with pytest.raises(trio.BrokenResourceError):
            for _ in range(3):
                send_now(server, b"x" * 1000)


@pytest.mark.trio
async def test_other_streams_keep_their_own_methods() -> None:
    left, _right = trio.testing.memory_stream_pair()
    assert receiver(left) == left.receive_some
    assert send_now(left, b"abc") == 0  # not a socket: the caller sends it all


@pytest.mark.trio
async def test_a_cancelled_receive_raises_even_with_bytes_waiting() -> None:
    async with tcp_pair() as (server, client):
        receive = receiver(server)
        await client.send_all(b"trickle")
        await trio.testing.wait_all_tasks_blocked()
        with trio.CancelScope() as scope:
            scope.cancel()
            await receive(100)
        assert scope.cancelled_caught
        assert await receive(100) == b"trickle"  # nothing was taken by the cancelled call
