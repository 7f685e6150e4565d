"""``boltctl top``: the live dashboard's command line (the app is :mod:`bolt.tui`).

Theory of operation
-------------------
:func:`register` adds the ``top`` parser (``--interval``, repeatable
``--node``, and boltctl's shared connection flags); :func:`run_top` turns
flags and environment into :class:`bolt.tui.TopOptions` and runs the app.

Which nodes: every ``--node HOST[:PORT]`` (one tab each); without
``--node``, the node of ``--host``/``--port`` (``BOLT_HOST``/``BOLT_PORT``)
plus every peer host of ``BOLT_CLUSTER_PEERS``. That variable lists the
peers' *cluster* ports (``id:host:cluster_port``), so the dashboard uses the
peer's host with the client port given by ``--port``/``BOLT_PORT`` (every
node of a cluster normally serves clients on the same port).

Before the screen switches to the dashboard, every node is greeted once:
wrong credentials then end ``boltctl top`` with exit status 3 and
"authentication failed" on stderr, without drawing anything. An
unreachable node does not stop the dashboard (it shows a banner and keeps
retrying). textual is imported only here, when the command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import ssl
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bolt.cli._connect import ConnectionOptions, UsageError, add_connection_options, resolve
from bolt.cli._run import EXIT_REFUSED, usage_error
from bolt.errors import AuthenticationError, BadRequestError, BoltError

if TYPE_CHECKING:
    from bolt.tui import ConnectSettings

INTERVAL_DEFAULT_SECONDS = 1.0
INTERVAL_MAX_SECONDS = 3600.0
PREFLIGHT_TIMEOUT_SECONDS = 3.0
"""Longest wait for the credential check of one node before the dashboard starts."""

Address = tuple[str, int]

_DESCRIPTION = """\
Live dashboard of running Bolt nodes: traffic, latency, memory, the log,
shards, clients, replication peers (on a cluster node) and tasks (once the
node has any), refreshed every --interval seconds with one round trip per
node. Keys: ? help, q quit, p pause, / filter, s sort, tab/arrows panels,
[ ] nodes, : command palette."""

_EPILOG = """\
nodes:
  --node HOST[:PORT] may be repeated (one tab per node). Without --node, the
  node of --host/--port is shown, plus each host of BOLT_CLUSTER_PEERS
  (id:host:cluster_port,...) at the client port --port/BOLT_PORT.

exit status:
  0 quit, 2 bad usage, 3 authentication failed (message on stderr)"""


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``top`` subcommand to boltctl's ``subparsers``.

    Returns:
        The ``top`` parser; its ``handler`` default is :func:`run_top`.
    """
    parser = subparsers.add_parser(
        "top",
        help="live dashboard of a running server",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--interval",
        default=str(INTERVAL_DEFAULT_SECONDS),
        metavar="SECONDS",
        help=f"seconds between refreshes (default {INTERVAL_DEFAULT_SECONDS:g})",
    )
    parser.add_argument(
        "--node",
        action="append",
        default=None,
        metavar="HOST[:PORT]",
        help="a node to watch (repeat for several, one tab each)",
    )
    add_connection_options(parser, suppress=True)
    parser.set_defaults(handler=run_top)
    return parser


def parse_interval(text: str) -> float:
    """The ``--interval`` value in seconds.

    Raises:
        UsageError: not a number, or outside 0.1 .. 3600 seconds.
    """
    from bolt.tui._app import INTERVAL_SECONDS_MIN

    try:
        seconds = float(text)
    except (TypeError, ValueError):
        raise UsageError(f"--interval: expected seconds, got {text!r}") from None
    if not math.isfinite(seconds) or not INTERVAL_SECONDS_MIN <= seconds <= INTERVAL_MAX_SECONDS:
        raise UsageError(
            f"--interval: must be between {INTERVAL_SECONDS_MIN:g} and "
            f"{INTERVAL_MAX_SECONDS:g} seconds, got {text!r}"
        )
    return seconds


def node_addresses(
    nodes: Sequence[str] | None, options: ConnectionOptions, environ: Mapping[str, str]
) -> list[Address]:
    """The nodes to watch, without duplicates (see the module docstring).

    Raises:
        UsageError: a ``--node`` or ``BOLT_CLUSTER_PEERS`` entry is malformed.
    """
    from bolt.client import parse_node

    found: list[Address] = []
    if nodes:
        for text in nodes:
            try:
                found.append(parse_node(text, default_port=options.port))
            except BadRequestError as exc:
                raise UsageError(f"--node: {exc}") from None
    else:
        found.append((options.host, options.port))
        found.extend((host, options.port) for host in _peer_hosts(environ))
    return list(dict.fromkeys(found))


def _peer_hosts(environ: Mapping[str, str]) -> list[str]:
    text = environ.get("BOLT_CLUSTER_PEERS", "")
    if not text.strip():
        return []
    from bolt.config import SETTINGS

    setting = next(item for item in SETTINGS if item.env == "BOLT_CLUSTER_PEERS")
    try:
        peers = setting.parse(text)
    except ValueError as exc:
        raise UsageError(f"BOLT_CLUSTER_PEERS: {exc}") from None
    return [host for _peer_id, host, _cluster_port in peers]


def connect_settings(options: ConnectionOptions) -> ConnectSettings:
    """Credentials, TLS context and timeout for the dashboard's connections.

    Raises:
        UsageError: the TLS CA file cannot be loaded.
    """
    from bolt.client._options import make_ssl_context
    from bolt.tui import ConnectSettings

    try:
        context = make_ssl_context(options.tls, options.tls_ca_file, options.tls_verify, None)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"TLS: cannot load {options.tls_ca_file}: {exc}") from None
    return ConnectSettings(
        user=options.user,
        password=options.password,
        ssl_context=context,
        timeout=options.timeout,
    )


async def check_credentials(nodes: Sequence[Address], settings: ConnectSettings) -> str | None:
    """Greet every node once and ask for ``STATS`` (which needs a login when
    the server requires one); the first refusal's message, or None.

    Unreachable nodes are not an error here (the dashboard retries them).
    """
    from dataclasses import replace

    from bolt.tui import NodeLink
    from bolt.wire import format_address

    timeout = min(settings.timeout or PREFLIGHT_TIMEOUT_SECONDS, PREFLIGHT_TIMEOUT_SECONDS)
    quick = replace(settings, timeout=timeout)

    async def greet(host: str, port: int) -> str | None:
        link = NodeLink(host, port, quick)
        try:
            await link.request("STATS")  # needs a logged-in user
        except AuthenticationError as exc:
            return f"authentication failed on {format_address(host, port)}: {exc}"
        except BoltError:
            return None
        finally:
            await link.close()
        return None

    results = await asyncio.gather(*(greet(host, port) for host, port in nodes))
    return next((message for message in results if message), None)


def run_top(args: argparse.Namespace) -> int:
    """Run the dashboard until the user quits.

    Returns:
        0 after ``q``; 2 for bad flags or no terminal; 3 when a node refuses
        the credentials ("authentication failed" on stderr).
    """
    try:
        options = resolve(args)
        interval = parse_interval(getattr(args, "interval", str(INTERVAL_DEFAULT_SECONDS)))
        nodes = node_addresses(getattr(args, "node", None), options, os.environ)
        settings = connect_settings(options)
    except UsageError as exc:
        return usage_error(str(exc))
    refusal = asyncio.run(check_credentials(nodes, settings))
    if refusal is not None:
        sys.stderr.write(f"boltctl top: {refusal}\n")
        return EXIT_REFUSED
    if not (sys.stdout.isatty() and sys.stdin.isatty()):
        return usage_error("top needs a terminal (use 'boltctl stats' for a one-off report)")

    from bolt.tui import TopApp, TopOptions

    app = TopApp(TopOptions(nodes=tuple(nodes), settings=settings, interval_seconds=interval))
    app.run()
    if app.failure:
        sys.stderr.write(f"boltctl top: {app.failure}\n")
    return app.return_code or 0
