"""The dispatch table apart from the statistics (issue 11 item 5).

Routes say how a command runs (level, handler, table flags); counters only
count. The connection loop reads the flags and never compares command names.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import pytest
import trio.testing

from bolt.server import CommandCounters
from bolt.server._commands import SERVER_COMMANDS
from bolt.server._connection import ConnectionLoop
from bolt.server._dispatch import Route, build_routes
from bolt.state import COMMANDS, READS_EACH, READS_NONE, READS_ONE, serving
from bolt.wire import ErrorReply, Response

from .test_daemon_server import connect, running


def test_every_command_has_a_route_pointing_at_its_own_counters() -> None:
    routes = build_routes()
    assert set(routes) == set(COMMANDS) | set(SERVER_COMMANDS)
    counters = [route.counters for route in routes.values()]
    assert len({id(item) for item in counters}) == len(counters)
    for name, route in routes.items():
        assert isinstance(route, Route) and route.counters.name == name
        assert (route.handler is None) == (name not in SERVER_COMMANDS)


def test_counters_only_count() -> None:
    counters = CommandCounters("GET", "read")
    for attribute in ("handler", "required_level", "is_async", "key_reads"):
        assert not hasattr(counters, attribute), attribute


def test_the_table_flags_of_the_batch_and_read_commands() -> None:
    routes = build_routes()
    assert (routes["GET"].key_reads, routes["GET"].hits, routes["GET"].chunked) == (
        READS_ONE,
        True,
        False,
    )
    assert (routes["MGET"].key_reads, routes["MGET"].hits, routes["MGET"].chunked) == (
        READS_EACH,
        True,
        True,
    )
    assert routes["MSET"].chunked and routes["MDEL"].chunked
    assert not routes["SET"].chunked and not routes["SADD"].chunked
    assert routes["KEYS"].key_reads == READS_NONE
    assert (routes["EXISTS"].key_reads, routes["EXISTS"].hits) == (READS_ONE, False)
    assert routes["SET"].key_reads == READS_NONE
    assert serving("NO-SUCH-COMMAND").key_reads == READS_NONE


def _run_batch_tree() -> ast.FunctionDef | ast.AsyncFunctionDef:
    source = textwrap.dedent(inspect.getsource(ConnectionLoop._run_batch))
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.AsyncFunctionDef)
    return node


def test_the_hot_loop_compares_no_command_names_and_is_short() -> None:
    tree = _run_batch_tree()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            strings = [o for o in operands if isinstance(o, ast.Constant) and type(o.value) is str]
            assert not strings, ast.unparse(node)
    assert tree.end_lineno is not None and tree.end_lineno - tree.lineno + 1 < 65


@pytest.mark.trio
async def test_a_long_request_of_a_command_not_chunked_runs_whole(tmp_path: Path) -> None:
    async with running(tmp_path) as (server, engine, peers):
        peer = await connect(server, peers)
        chunked: list[tuple[object, ...]] = []
        original = engine.submit_large

        async def spy(command: str, args: list[object], db: str | None = None) -> object:
            chunked.append((command, len(args)))
            return await original(command, args, db)

        engine.submit_large = spy  # type: ignore[method-assign]
        members = [f"m{i}" for i in range(3000)]
        keys = [f"k{i}" for i in range(1500)]
        replies = [
            await peer.call("SADD", ["s", *members]),
            await peer.call("MGET", keys),
        ]
        assert isinstance(replies[0], Response) and replies[0].result == 3000
        assert isinstance(replies[1], Response) and replies[1].result == [None] * 1500
        assert chunked == [("MGET", 1500)]  # SADD is not flagged chunked: it never went there
        await trio.testing.wait_all_tasks_blocked()
        assert (server.keys_read_total, server.keys_missed_total) == (1500, 1500)


@pytest.mark.trio
async def test_a_refused_request_is_counted_as_an_error_of_its_command(tmp_path: Path) -> None:
    async with running(tmp_path) as (server, _engine, peers):
        peer = await connect(server, peers)
        reply = await peer.call("GET", [1])
        assert isinstance(reply, ErrorReply) and reply.name == "BAD_REQUEST"
        reply = await peer.call("NOPE", [])
        assert isinstance(reply, ErrorReply) and reply.name == "UNKNOWN_COMMAND"
        await trio.testing.wait_all_tasks_blocked()
        assert server.table["GET"].errors == 1 and server.table["GET"].calls == 1
        assert server.unknown.errors == 1 and server.unknown.calls == 1
