"""The trio client against the toy server."""

from __future__ import annotations

import builtins
import re
import socket
from typing import Any

import pytest
import trio

from bolt import errors
from bolt.client import AsyncBoltClient, Push, connect_async

from .test_commands import CASE_IDS, CASES
from .toy_server import ToyServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.trio
async def test_basic_commands_and_handshake(server: ToyServer) -> None:
    async with AsyncBoltClient(
        port=server.port, username="admin", password="secret", database="main"
    ) as client:
        assert client.connected
        assert client.server_info["node_id"] == "toy-1"
        assert await client.put("k", "v") is None
        assert await client.get("k") == "v"
        assert await client.get("k", database="other") is None
        assert await client.delete("k") == "v"
        assert await client.incr("n") == 1
        assert await client.ping() == "PONG"
    assert not client.connected
    version, options = server.requests[0].args
    assert (version, options.pop("user")) == (1, "admin")
    assert re.fullmatch(r"[0-9a-f]{32}", options.pop("client_nonce")) and not options  # no password
    assert server.requests[1].command == "LOGIN"
    assert [request.db for request in server.requests[2:5]] == ["main", "main", "other"]


@pytest.mark.trio
@pytest.mark.parametrize(
    ("method", "call", "command", "wire", "reply", "scoped"), CASES, ids=CASE_IDS
)
async def test_method_builds_request_and_returns_reply(
    server: ToyServer,
    method: str,
    call: tuple[Any, ...],
    command: str,
    wire: list[Any],
    reply: Any,
    scoped: bool,
) -> None:
    server.canned[command] = reply
    async with connect_async(port=server.port, database="main") as client:
        assert await getattr(client, method)(*call) == reply
    (sent,) = [request for request in server.requests if request.command == command]
    assert (sent.args, sent.db) == (wire, "main" if scoped else None)


@pytest.mark.trio
async def test_concurrent_callers_share_one_connection(server: ToyServer) -> None:
    results: dict[int, Any] = {}
    async with AsyncBoltClient(port=server.port) as client:

        async def work(index: int) -> None:
            await client.put(f"k{index}", str(index))
            results[index] = await client.get(f"k{index}")

        async with trio.open_nursery() as nursery:
            for index in range(100):
                nursery.start_soon(work, index)
    assert results == {index: str(index) for index in range(100)}
    assert server.connections_accepted == 1


@pytest.mark.trio
@pytest.mark.parametrize(
    "cls", [errors.WrongTypeError, errors.NoPermissionError, errors.OutOfMemoryError]
)
async def test_error_replies_raise_the_exact_class(
    server: ToyServer, cls: type[errors.BoltError]
) -> None:
    server.errors["GET"] = cls("nope")
    async with AsyncBoltClient(port=server.port) as client:
        with pytest.raises(cls):
            await client.get("k")
        assert await client.ping() == "PONG"


@pytest.mark.trio
async def test_wrong_password_is_raised_unwrapped(server: ToyServer) -> None:
    with pytest.raises(errors.AuthenticationError):
        async with AsyncBoltClient(port=server.port, username="admin", password="bad"):
            pass  # pragma: no cover


@pytest.mark.trio
async def test_unreachable_server_is_a_builtin_connection_error() -> None:
    with pytest.raises(builtins.ConnectionError):
        async with AsyncBoltClient(port=free_port(), timeout=2):
            pass  # pragma: no cover


@pytest.mark.trio
async def test_exceptions_from_the_body_are_not_wrapped(server: ToyServer) -> None:
    with pytest.raises(KeyError):
        async with AsyncBoltClient(port=server.port) as client:
            await client.ping()
            raise KeyError("mine")


@pytest.mark.trio
async def test_commands_outside_async_with_raise() -> None:
    client = AsyncBoltClient()
    with pytest.raises(RuntimeError, match="async with"):
        await client.ping()


@pytest.mark.trio
async def test_pipeline(server: ToyServer) -> None:
    server.errors["DEL"] = errors.WrongTypeError("no")
    async with AsyncBoltClient(port=server.port) as client:
        pipe = client.pipeline().put("a", "1").get("a").delete("a")
        assert len(pipe) == 3
        results = await pipe.execute(raise_on_error=False)
        assert results[:2] == [None, "1"]
        assert type(results[2]) is errors.WrongTypeError
        with pytest.raises(errors.WrongTypeError):
            await client.pipeline().delete("a").execute()
    assert server.batch_sizes[1] == 3


# --- pushes ------------------------------------------------------------------------


@pytest.mark.trio
async def test_pushes_channel(server: ToyServer) -> None:
    async with AsyncBoltClient(port=server.port) as client:
        await client.execute_command("PUSHME", "tasks", {"id": 1})
        await trio.to_thread.run_sync(server.push, "tasks", {"id": 2})
        received = []
        async for push in client.pushes():
            received.append(push)
            if len(received) == 2:
                break
        assert received == [Push("tasks", {"id": 1}), Push("tasks", {"id": 2})]
        assert await client.next_push(timeout=0.05) is None


@pytest.mark.trio
async def test_next_push_waits(server: ToyServer) -> None:
    async with AsyncBoltClient(port=server.port) as client, trio.open_nursery() as nursery:
        nursery.start_soon(trio.to_thread.run_sync, server.push, "news", "hi")
        assert await client.next_push(timeout=5) == Push("news", "hi")


# --- timeouts and cancellation ------------------------------------------------------


@pytest.mark.trio
async def test_timeout_keeps_the_connection(server: ToyServer) -> None:
    server.delay_seconds["GET"] = 0.5
    async with AsyncBoltClient(port=server.port, timeout=0.1) as client:
        with pytest.raises(errors.BoltTimeoutError) as caught:
            await client.get("k")
        assert isinstance(caught.value, builtins.TimeoutError)
        del server.delay_seconds["GET"]
        with trio.fail_after(5):
            while True:  # the late GET reply is discarded, not given to PING
                try:
                    assert await client.ping() == "PONG"
                    break
                except errors.BoltTimeoutError:
                    pass
    assert server.connections_accepted == 1


@pytest.mark.trio
async def test_cancelled_call_leaves_the_connection_usable(server: ToyServer) -> None:
    server.delay_seconds["GET"] = 0.2
    async with AsyncBoltClient(port=server.port) as client:
        with trio.move_on_after(0.05):
            await client.get("k")
        await client.put("k", "v")
        del server.delay_seconds["GET"]
        assert await client.get("k") == "v"
    assert server.connections_accepted == 1


# --- the reconnect rule ---------------------------------------------------------------


@pytest.mark.trio
async def test_retry_safe_command_is_resent(server: ToyServer) -> None:
    server.drop_after_reading["PUT"] = 1
    async with AsyncBoltClient(port=server.port) as client:
        assert await client.put("k", "v") is None
        assert await client.get("k") == "v"
    assert server.commands() == ["PUT", "PUT", "GET"]


@pytest.mark.trio
async def test_non_idempotent_command_is_not_resent(server: ToyServer) -> None:
    server.drop_after_reading["INCR"] = 1
    async with AsyncBoltClient(port=server.port) as client:
        with pytest.raises(errors.WriteOutcomeUnknownError):
            await client.incr("n")
        assert await client.get("n") == 1
    assert server.commands() == ["INCR", "GET"]


@pytest.mark.trio
async def test_one_loss_resends_reads_and_refuses_writes(server: ToyServer) -> None:
    server.delay_seconds["GET"] = 0.05
    server.drop_after_reading["GET"] = 1
    outcomes: dict[str, Any] = {}
    async with AsyncBoltClient(port=server.port) as client:

        async def run(name: str, call: Any) -> None:
            try:
                outcomes[name] = await call
            except errors.BoltError as exc:
                outcomes[name] = type(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run, "get", client.get("k"))
            await trio.sleep(0.01)
            nursery.start_soon(run, "incr", client.incr("n"))
    assert outcomes == {"get": None, "incr": errors.WriteOutcomeUnknownError}


@pytest.mark.trio
async def test_no_reconnect_when_auto_reconnect_is_off(server: ToyServer) -> None:
    server.drop_after_reading["GET"] = 1
    async with AsyncBoltClient(port=server.port, auto_reconnect=False) as client:
        with pytest.raises(errors.BoltConnectionError):
            await client.get("k")
        with pytest.raises(errors.BoltConnectionError, match="connect"):
            await client.ping()
        await client.connect()
        assert await client.ping() == "PONG"


@pytest.mark.trio
async def test_idle_close_is_not_an_unknown_outcome(server: ToyServer) -> None:
    async with AsyncBoltClient(port=server.port) as client:
        await client.ping()
        await trio.to_thread.run_sync(server.kick)
        await trio.sleep(0.05)
        assert await client.incr("n") == 1
    assert server.connections_accepted == 2


@pytest.mark.trio
async def test_cluster_failover(server: ToyServer, server2: ToyServer) -> None:
    server.drop_after_reading["GET"] = 1
    async with AsyncBoltClient.cluster([server.address, server2.address]) as client:
        assert await client.get("k") is None
        assert client.server_info["node_id"] == "toy-2"
        await trio.to_thread.run_sync(server2.stop)
        await trio.sleep(0.05)
        assert await client.ping() == "PONG"
        assert client.server_info["node_id"] == "toy-1"


@pytest.mark.trio
async def test_connect_hook_runs_after_every_connection(server: ToyServer) -> None:
    seen: list[str] = []

    async def hook(client: AsyncBoltClient) -> None:
        seen.append(await client.ping())

    client = AsyncBoltClient(port=server.port)
    client.add_connect_hook(hook)
    async with client:
        await trio.to_thread.run_sync(server.kick)
        await trio.sleep(0.05)
        await client.put("k", "v")
    assert seen == ["PONG", "PONG"]


@pytest.mark.trio
async def test_idle_close_without_auto_reconnect_needs_connect(server: ToyServer) -> None:
    async with AsyncBoltClient(port=server.port, auto_reconnect=False) as client:
        await client.ping()
        await trio.to_thread.run_sync(server.kick)
        await trio.sleep(0.05)
        with pytest.raises(errors.BoltConnectionError, match="connect"):
            await client.ping()
        await client.connect()
        assert await client.ping() == "PONG"


@pytest.mark.trio
async def test_push_iteration_ends_when_the_client_closes(server: ToyServer) -> None:
    received: list[Push] = []
    client = AsyncBoltClient(port=server.port)

    async def consume() -> None:
        async for push in client.pushes():
            received.append(push)

    async with trio.open_nursery() as nursery, client:
        nursery.start_soon(consume)
        await client.execute_command("PUSHME", "t", 1)
        await trio.sleep(0.01)
    assert received == [Push("t", 1)]
    with pytest.raises(RuntimeError, match="once"):
        async with client:
            pass  # pragma: no cover
