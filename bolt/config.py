"""Configuration: every ``BOLT_*`` environment variable, parsed and validated.

Each setting is declared once in ``SETTINGS`` with its variable, default,
parser and help text; the daemon's flags, ``bolt --help`` and the README
table are built from that list. A bad value raises
:class:`~bolt.errors.ConfigError` naming the variable (or flag), and startup
stops with that message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bolt import limits
from bolt.errors import ConfigError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g|tb|t)?\s*$", re.IGNORECASE)
_UNITS = {
    None: 1,
    "b": 1,
    "k": limits.KIB,
    "kb": limits.KIB,
    "m": limits.MIB,
    "mb": limits.MIB,
    "g": limits.GIB,
    "gb": limits.GIB,
    "t": 1024 * limits.GIB,
    "tb": 1024 * limits.GIB,
}


def system_memory_bytes() -> int:
    """Total physical memory of this machine (``75%`` means 75% of this)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 4 * limits.GIB


def parse_memory(text: str, total_bytes: int | None = None) -> int:
    """Parse ``1gb``, ``512mb``, ``75%`` (of system RAM) or ``0`` (unlimited) to bytes.

    Raises:
        ValueError: the text is not one of those forms.
    """
    text = text.strip()
    if text.endswith("%"):
        percent = float(text[:-1])
        if not 0 < percent <= 100:
            raise ValueError("a percentage must be above 0 and at most 100")
        total = system_memory_bytes() if total_bytes is None else total_bytes
        return int(total * percent / 100)
    match = _SIZE.match(text)
    if not match:
        raise ValueError("expected a size like 1gb, 512mb, 75% or 0")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.lower() if unit else None])


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text.strip())
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def _choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return parse


def _peers(text: str) -> tuple[tuple[str, str, int], ...]:
    """``id:host:port,...``: the id ends at the first colon, the port starts
    after the last one, so IPv6 hosts (``n1:[::1]:8519``) parse whole."""
    peers = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        node_id, _, rest = item.partition(":")
        host, _, port = rest.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not node_id or not host or not port:
            raise ValueError(f"peer {item!r} is not id:host:port")
        peers.append((node_id, host, _int_range(1, 65535)(port)))
    return tuple(peers)


def _log_level(text: str) -> str:
    value = text.strip().upper()
    if value == "WARN":
        value = "WARNING"
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("must be debug, info, warning, error or critical")
    return value


def _byte_size(text: str) -> int:
    """A size like ``1gb`` or ``512mb`` (no percentages), above 0."""
    if text.strip().endswith("%"):
        raise ValueError("expected a size like 1gb or 512mb")
    size = parse_memory(text)
    if size <= 0:
        raise ValueError("the size must be above 0")
    return size


@dataclass(frozen=True)
class Setting:
    """One configurable value: its field, variable, default text, parser, help."""

    field: str
    env: str
    default: str | None
    parse: Callable[[str], Any]
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "host",
        "BOLT_HOST",
        None,
        str,
        "listen address (default 127.0.0.1, but 0.0.0.0 -- every interface -- when "
        "BOLT_ADMIN_PASSWORD is set)",
    ),
    Setting("port", "BOLT_PORT", str(limits.port_default), _int_range(0, 65535), "client port"),
    Setting(
        "data_dir",
        "BOLT_DATA_DIR",
        None,
        Path,
        "data directory (default /data if writable, else ./bolt-data)",
    ),
    Setting("persist", "BOLT_PERSIST", "true", _bool, "write the event log and snapshots"),
    Setting(
        "max_connections",
        "BOLT_MAX_CONNECTIONS",
        str(limits.max_connections_default),
        _int_range(1, 1_000_000),
        "most concurrent client connections",
    ),
    Setting(
        "high_perf",
        "BOLT_HIGH_PERF",
        "false",
        _bool,
        "accepted for compatibility; Bolt is always tuned for throughput",
    ),
    Setting(
        "shard_count",
        "BOLT_SHARD_COUNT",
        str(limits.shard_count_default),
        _int_range(1, limits.shard_count_max),
        "number of state shards",
    ),
    Setting(
        "wal_fsync",
        "BOLT_WAL_FSYNC",
        limits.wal_fsync_default,
        _choice("batch", "always", "off"),
        "durability: batch, always or off",
    ),
    Setting(
        "wal_batch_size",
        "BOLT_WAL_BATCH_SIZE",
        str(limits.wal_batch_size_default),
        _int_range(1, 10_000_000),
        "records between fsyncs in batch mode",
    ),
    Setting(
        "wal_flush_interval_ms",
        "BOLT_WAL_FLUSH_INTERVAL_MS",
        str(limits.wal_flush_interval_ms_default),
        _int_range(1, 60_000),
        "longest time between fsyncs in batch mode (ms)",
    ),
    Setting(
        "max_memory",
        "BOLT_MAX_MEMORY",
        limits.max_memory_default,
        parse_memory,
        "memory limit: 1gb, 512mb, 75% (of system RAM) or 0 (unlimited)",
    ),
    Setting(
        "eviction_policy",
        "BOLT_EVICTION_POLICY",
        limits.eviction_policy_default,
        _choice(*limits.eviction_policies),
        "what to evict at the memory limit",
    ),
    Setting(
        "memory_warning_threshold",
        "BOLT_MEMORY_WARNING_THRESHOLD",
        str(limits.memory_warning_threshold_percent_default),
        _int_range(1, 100),
        "warn when memory use passes this percent of the limit",
    ),
    Setting(
        "snapshot_interval_events",
        "BOLT_SNAPSHOT_INTERVAL_EVENTS",
        str(limits.snapshot_interval_events_default),
        _int_range(1, 10**12),
        "write an LMDB snapshot after this many events",
    ),
    Setting(
        "snapshot_interval_ms",
        "BOLT_SNAPSHOT_INTERVAL_MS",
        str(limits.snapshot_interval_ms_default),
        _int_range(100, 10**9),
        "or after this long (ms), if anything changed",
    ),
    Setting(
        "node_id",
        "BOLT_NODE_ID",
        None,
        str,
        "unique node id (default: generated once and kept in the data dir)",
    ),
    Setting(
        "cluster_port",
        "BOLT_CLUSTER_PORT",
        str(limits.cluster_port_default),
        _int_range(0, 65535),
        "cluster (peer) port",
    ),
    Setting("cluster_peers", "BOLT_CLUSTER_PEERS", "", _peers, "peers as id:host:port,..."),
    Setting(
        "cluster_secret", "BOLT_CLUSTER_SECRET", None, str, "shared secret peers authenticate with"
    ),
    Setting(
        "max_clock_offset_ms",
        "BOLT_MAX_CLOCK_OFFSET_MS",
        str(limits.max_clock_offset_ms_default),
        _int_range(1, 3_600_000),
        "refuse peer clocks further ahead than this (ms)",
    ),
    Setting(
        "admin_password",
        "BOLT_ADMIN_PASSWORD",
        None,
        str,
        "password of the bootstrap admin user; turns auth on",
    ),
    Setting("auth", "BOLT_AUTH", None, _bool, "false disables authentication explicitly"),
    Setting(
        "tls_cert",
        "BOLT_TLS_CERT",
        None,
        Path,
        "TLS certificate (PEM) for the client and cluster ports",
    ),
    Setting("tls_key", "BOLT_TLS_KEY", None, Path, "TLS private key (PEM)"),
    Setting(
        "log_level",
        "BOLT_LOG_LEVEL",
        "info",
        _log_level,
        "debug, info, warning, error (the seed's RUST_LOG)",
    ),
    Setting(
        "metrics_port",
        "BOLT_METRICS_PORT",
        str(limits.metrics_port_default),
        _int_range(0, 65535),
        "HTTP port for /metrics, /health, /ready",
    ),
    Setting("metrics_enabled", "BOLT_METRICS_ENABLED", "true", _bool, "serve the metrics port"),
    Setting(
        "resp_port",
        "BOLT_RESP_PORT",
        None,
        _int_range(0, 65535),
        "Redis protocol (RESP) port, off unless set (e.g. 6379; 0 picks a free port)",
    ),
    Setting(
        "metrics_host",
        "BOLT_METRICS_HOST",
        "127.0.0.1",
        str,
        "listen address of the metrics port (loopback unless set)",
    ),
    Setting(
        "login_timeout_ms",
        "BOLT_LOGIN_TIMEOUT_MS",
        str(limits.login_timeout_ms_default),
        _int_range(100, 3_600_000),
        "close connections that have not logged in (or sent HELLO) by then (ms)",
    ),
    Setting(
        "idle_timeout_ms",
        "BOLT_IDLE_TIMEOUT_MS",
        str(limits.idle_timeout_ms_default),
        _int_range(0, 10**9),
        "close logged-in sessions idle this long (ms; 0: never)",
    ),
    Setting(
        "output_stall_ms",
        "BOLT_OUTPUT_STALL_MS",
        str(limits.output_stall_ms_default),
        _int_range(100, 3_600_000),
        "close connections that leave their replies unread this long (ms)",
    ),
    Setting(
        "task_failover_delay_ms",
        "BOLT_TASK_FAILOVER_DELAY_MS",
        str(limits.task_failover_delay_ms_default),
        _int_range(0, 10**9),
        "take over the tasks of a node silent this long (ms; leases: this long after expiry)",
    ),
    Setting(
        "task_retention_ms",
        "BOLT_TASK_RETENTION_MS",
        str(limits.task_retention_ms_default),
        _int_range(0, 10**12),
        "remove completed and cancelled tasks this long after they finished (ms)",
    ),
    Setting(
        "task_dead_retention_ms",
        "BOLT_TASK_DEAD_RETENTION_MS",
        str(limits.task_dead_retention_ms_default),
        _int_range(0, 10**12),
        "remove dead and failed tasks this long after they finished (ms)",
    ),
    Setting(
        "full_sync_threshold",
        "BOLT_FULL_SYNC_THRESHOLD",
        str(limits.full_sync_threshold_events_default),
        _int_range(1, 10**12),
        "a peer more events behind than this gets a full state sync",
    ),
    Setting(
        "peer_log_retention_bytes",
        "BOLT_PEER_LOG_RETENTION_BYTES",
        "1gb",  # limits.peer_log_retention_bytes_default
        _byte_size,
        "log kept for a lagging peer (e.g. 1gb); past it the peer gets a full sync",
    ),
    Setting(
        "peer_log_retention_ms",
        "BOLT_PEER_LOG_RETENTION_MS",
        str(limits.peer_log_retention_ms_default),
        _int_range(1, 10**12),
        "a peer gone longer than this (ms) stops holding the log; it gets a full sync",
    ),
    Setting(
        "wal_segment_bytes",
        "BOLT_WAL_SEGMENT_BYTES",
        "64mb",  # limits.segment_bytes_max
        _byte_size,
        "log segment files are rolled past this size (e.g. 64mb)",
    ),
)


@dataclass(frozen=True)
class Config:
    """The daemon's validated configuration (see ``SETTINGS`` for each field)."""

    host: str | None = None
    port: int = limits.port_default
    data_dir: Path | None = None
    persist: bool = True
    max_connections: int = limits.max_connections_default
    high_perf: bool = False
    shard_count: int = limits.shard_count_default
    wal_fsync: str = limits.wal_fsync_default
    wal_batch_size: int = limits.wal_batch_size_default
    wal_flush_interval_ms: int = limits.wal_flush_interval_ms_default
    max_memory: int = 0
    eviction_policy: str = limits.eviction_policy_default
    memory_warning_threshold: int = limits.memory_warning_threshold_percent_default
    snapshot_interval_events: int = limits.snapshot_interval_events_default
    snapshot_interval_ms: int = limits.snapshot_interval_ms_default
    node_id: str | None = None
    cluster_port: int = limits.cluster_port_default
    cluster_peers: tuple[tuple[str, str, int], ...] = field(default_factory=tuple)
    cluster_secret: str | None = None
    max_clock_offset_ms: int = limits.max_clock_offset_ms_default
    admin_password: str | None = None
    auth: bool | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    log_level: str = "INFO"
    metrics_port: int = limits.metrics_port_default
    metrics_enabled: bool = True
    resp_port: int | None = None
    metrics_host: str = "127.0.0.1"
    login_timeout_ms: int = limits.login_timeout_ms_default
    idle_timeout_ms: int = limits.idle_timeout_ms_default
    output_stall_ms: int = limits.output_stall_ms_default
    task_failover_delay_ms: int = limits.task_failover_delay_ms_default
    task_retention_ms: int = limits.task_retention_ms_default
    task_dead_retention_ms: int = limits.task_dead_retention_ms_default
    full_sync_threshold: int = limits.full_sync_threshold_events_default
    peer_log_retention_bytes: int = limits.peer_log_retention_bytes_default
    peer_log_retention_ms: int = limits.peer_log_retention_ms_default
    wal_segment_bytes: int = limits.segment_bytes_max

    def resolved_data_dir(self) -> Path:
        """``BOLT_DATA_DIR``, else ``/data`` when writable, else ``./bolt-data``."""
        if self.data_dir is not None:
            return self.data_dir
        data = Path("/data")
        if data.is_dir() and os.access(data, os.W_OK):
            return data
        return Path.cwd() / "bolt-data"


def load_config(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str | None] | None = None,
) -> Config:
    """Build a :class:`Config` from the environment and command-line overrides.

    Args:
        environ: the environment (default ``os.environ``).
        overrides: field name → raw text from command-line flags (None = unset).

    Raises:
        ConfigError: a value does not parse; the message names the variable.
    """
    env = os.environ if environ is None else environ
    overrides = overrides or {}
    values: dict[str, Any] = {}
    known = {f.name for f in fields(Config)}
    for setting in SETTINGS:
        assert setting.field in known
        raw = overrides.get(setting.field)
        source = "--" + setting.field.replace("_", "-")
        if raw is None:
            raw = env.get(setting.env)
            source = setting.env
            if setting.env == "BOLT_LOG_LEVEL" and raw is None:
                raw = env.get("RUST_LOG")
                source = "RUST_LOG"
        if raw is None or (raw == "" and setting.default is None):
            raw = setting.default
            source = f"{setting.env} (default)"
        if raw is None:
            continue
        try:
            values[setting.field] = setting.parse(raw)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"invalid {source}={raw!r}: {exc}") from exc
    return Config(**values)
