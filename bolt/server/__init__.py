"""The Bolt daemon's server side: client listener, auth, TLS, metrics, shutdown.

:class:`Daemon` runs a whole ``bolt`` process (engine, client port, metrics
port, signals); :class:`Server` is the client listener over an open engine
(usable alone in tests). See :mod:`bolt.server._connection` for the hot path,
:mod:`bolt.server._auth` for modes, roles and password hashing, and
:mod:`bolt.server._metrics` for the Prometheus collector and HTTP endpoints.
"""

from bolt.server._auth import (
    LEVELS,
    MODE_DISABLED,
    MODE_PROTECTED,
    MODE_REQUIRED,
    ROLES,
    BackOff,
    PasswordChecker,
    hash_password,
    is_loopback,
    resolve_security,
    verify_password,
)
from bolt.server._commands import SERVER_COMMANDS
from bolt.server._daemon import Daemon, ReadyInfo, bootstrap_users
from bolt.server._latency import BUCKET_BOUNDS_SECONDS, CommandCounters, percentile_seconds
from bolt.server._metrics import BoltCollector, Metrics, NodeStatus
from bolt.server._server import Server, build_command_table
from bolt.server._server import open_listeners as open_listeners
from bolt.server._session import Session
from bolt.server._tls import server_ssl_context

__all__ = [
    "BUCKET_BOUNDS_SECONDS",
    "LEVELS",
    "MODE_DISABLED",
    "MODE_PROTECTED",
    "MODE_REQUIRED",
    "ROLES",
    "SERVER_COMMANDS",
    "BackOff",
    "BoltCollector",
    "CommandCounters",
    "Daemon",
    "Metrics",
    "NodeStatus",
    "PasswordChecker",
    "ReadyInfo",
    "Server",
    "Session",
    "bootstrap_users",
    "build_command_table",
    "hash_password",
    "is_loopback",
    "percentile_seconds",
    "resolve_security",
    "server_ssl_context",
    "verify_password",
]
