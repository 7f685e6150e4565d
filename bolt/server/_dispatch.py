"""The dispatch table: how the connection loop runs each command, apart from its metrics.

Theory of operation
-------------------
Every command name the server answers has one :class:`Route`: the role level
it needs, the server-level handler (``None``: the engine runs it), whether
that handler is awaited, and the data command's table flags from
:func:`bolt.state.serving` (which keys it reads, whether its reply tells hits
from misses, whether a long one is chunked). The route points at the
command's :class:`~bolt.server._latency.CommandCounters`, which only count.

The table is built once, from the engine's :data:`bolt.state.COMMANDS` plus
the server's own :data:`~bolt.server._commands.SERVER_COMMANDS`, so the hot
loop finds everything it needs with one dict lookup on the command name and
never compares names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bolt.server._auth import LEVELS
from bolt.server._commands import SERVER_COMMANDS
from bolt.server._latency import CommandCounters
from bolt.state import COMMANDS, READS_NONE, serving


class Route:
    """How one command is dispatched (immutable after the table is built).

    Attributes:
        name: the command name.
        required_level: the role level a session needs (``bolt.server._auth``).
        handler: a server-level command's handler, or None (``engine.submit``).
        is_async: whether ``handler`` must be awaited.
        key_reads: ``bolt.state.READS_NONE``/``READS_ONE``/``READS_EACH``.
        hits: the reply tells found keys from missing ones (``None``: missing).
        chunked: a long request goes through ``engine.submit_large``.
        counters: the command's metrics.
    """

    __slots__ = (
        "chunked",
        "counters",
        "handler",
        "hits",
        "is_async",
        "key_reads",
        "name",
        "required_level",
    )

    def __init__(
        self,
        counters: CommandCounters,
        required_level: int,
        handler: Callable[..., Any] | None = None,
        is_async: bool = False,
        *,
        key_reads: int = READS_NONE,
        hits: bool = False,
        chunked: bool = False,
    ) -> None:
        self.name = counters.name
        self.counters = counters
        self.required_level = required_level
        self.handler = handler
        self.is_async = is_async
        self.key_reads = key_reads
        self.hits = hits
        self.chunked = chunked


def build_routes() -> dict[str, Route]:
    """One :class:`Route` (with fresh counters) per command the server knows."""
    routes: dict[str, Route] = {}
    for name, spec in COMMANDS.items():
        flags = serving(name)
        write = spec.access == "write"
        routes[name] = Route(
            CommandCounters(name, "write" if write else "read"),
            LEVELS["readwrite" if write else "readonly"],
            key_reads=flags.key_reads,
            hits=flags.hits,
            chunked=flags.chunked,
        )
    for name, command in SERVER_COMMANDS.items():
        routes[name] = Route(
            CommandCounters(name, "server"),
            command.required_level,
            command.handler,
            command.is_async,
        )
    return routes


def unknown_route() -> Route:
    """The route of every unknown name: the engine refuses it, its counters are ``UNKNOWN``."""
    return Route(CommandCounters("UNKNOWN", "read"), LEVELS["readonly"])
