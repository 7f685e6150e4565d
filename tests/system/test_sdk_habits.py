"""Redis habits against the real daemon: they fail loudly, never silently.

``database`` is keyword-only in every SDK method, so ``delete("a", "b")``
(Redis's ``DEL a b``) is a ``TypeError`` at the call instead of a delete of
``"a"`` in database ``"b"``; ``execute_command`` takes its arguments as
redis-py does, and an unknown command is ``UnknownCommandError`` on a
connection that stays usable.
"""

from __future__ import annotations

import pytest
import trio

from bolt.client import AsyncBoltClient, BoltClient
from bolt.errors import UnknownCommandError
from bolt.testing import BoltDaemon


def test_delete_of_two_keys_is_a_type_error_and_deletes_nothing(bolt_daemon: BoltDaemon) -> None:
    with BoltClient(port=bolt_daemon.port) as client:
        client.put("a", "1")
        client.put("b", "2")
        with pytest.raises(TypeError):
            client.delete("a", "b")  # type: ignore[misc]
        with pytest.raises(TypeError):
            client.put("x", "1", "2")  # type: ignore[misc]
        with pytest.raises(TypeError):
            client.get("a", "b")  # type: ignore[misc]
        with pytest.raises(TypeError):
            client.pipeline().delete("a", "b")  # type: ignore[misc]
        assert client.mget(["a", "b", "x"]) == ["1", "2", None]
        assert client.keys("*", database="b") == []
        assert client.mdel(["a", "b"]) == 2
        client.put("x", "1", database="2")
        assert client.get("x") is None
        assert client.get("x", database="2") == "1"


def test_unknown_command_with_an_int_argument_keeps_the_connection(
    bolt_daemon: BoltDaemon,
) -> None:
    with BoltClient(port=bolt_daemon.port, auto_reconnect=False) as client:
        client.put("k", "v")
        with pytest.raises(UnknownCommandError):
            client.execute_command("EXPIRE", "k", 10)
        assert client.get("k") == "v"  # the same connection: auto_reconnect is off
        assert client.execute_command("SADD", "tags", "a", "b") == 2
        assert client.execute_command("GET", "k") == "v"
        with pytest.raises(TypeError):
            client.execute_command("GET", "k", database=10)  # type: ignore[arg-type]
        assert client.ping() == "PONG"


def test_async_client_and_pipeline_take_redis_style_arguments(bolt_daemon: BoltDaemon) -> None:
    async def main() -> None:
        async with AsyncBoltClient(port=bolt_daemon.port, auto_reconnect=False) as client:
            await client.put("k", "v")
            with pytest.raises(UnknownCommandError):
                await client.execute_command("EXPIRE", "k", 10)
            with pytest.raises(TypeError):
                await client.delete("k", "other")  # type: ignore[misc]
            pipeline = client.pipeline().execute_command("GET", "k").get("k", database="d")
            assert await pipeline.execute() == ["v", None]

    trio.run(main)
