"""Prometheus metrics and the tiny HTTP server for ``/metrics``, ``/health``, ``/ready``.

Theory of operation
-------------------
Nothing is counted twice for metrics: a custom collector, registered on a
private ``CollectorRegistry``, reads the engine's frozen
:class:`~bolt.node.EngineStatistics` snapshot and the server's plain integer
counters *at scrape time* and turns them into metric families. The core
never imports prometheus_client.

:class:`NodeStatus` is what the daemon fills in as it starts: the metrics
port comes up *before* recovery, so ``/health`` answers at once and
``/ready`` tells the truth during a long recovery (503), after it and once
the client listener is up (200), and again during shutdown (503).

The HTTP server is deliberately minimal HTTP/1.1: one request per
connection (``Connection: close``), ``GET``/``HEAD`` only, the request head
bounded in size and time, so a slow or hostile scraper cannot hold memory.
Its connections are counted (``bolt_metrics_connections``) and at most
``limits.metrics_connections_max`` are served at once; more are closed at
once (counted in ``bolt_metrics_refused_connections_total``), so the
metrics port cannot use up the file descriptors the daemon sized for its
clients. It listens on ``BOLT_METRICS_HOST`` (loopback by default).
The names of the earlier implementation are kept (``bolt_active_connections``,
``bolt_total_connections``, ``bolt_operations_total{type}``, ...); the rest
are new.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import trio
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    UnknownMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry

from bolt import limits
from bolt.cluster import ClusterCollector, pending_replication
from bolt.server._latency import CommandCounters
from bolt.server._server import open_listeners
from bolt.state import COMMANDS, DISPATCH_BOUNDS_MS, TaskStatistics

if TYPE_CHECKING:
    from bolt.cluster import ClusterService
    from bolt.node import Engine, EngineStatistics
    from bolt.server._server import Server

logger = logging.getLogger("bolt.server.metrics")

OPERATION_TYPES = ("get", "put", "del", "mget", "mset", "mdel", "incr", "list", "set")
"""The ``type`` labels of ``bolt_operations_total`` the earlier server exported."""
HTTP_REQUEST_BYTES_MAX = 8 * limits.KIB
"""Largest HTTP request head the metrics port reads."""
HTTP_REQUEST_TIMEOUT_SECONDS = 5.0
"""A scraper that has not sent its request head by then is dropped."""


class NodeStatus:
    """What the metrics port reports on: filled in by the daemon as it starts."""

    def __init__(self) -> None:
        self.started_at = time.time()
        self.engine: Engine | None = None
        self.server: Server | None = None
        self.metrics: Metrics | None = None
        self.closing = False
        self.cluster: ClusterService | None = None

    def ready(self) -> bool:
        """Recovery finished, the listener is up, and no shutdown has begun."""
        engine, server = self.engine, self.server
        return (
            not self.closing
            and engine is not None
            and engine.ready
            and server is not None
            and server.listening
            and not server.closing
        )

    def not_ready_reason(self) -> str:
        """Why :meth:`ready` is False (for the 503 body)."""
        if self.closing or (self.server is not None and self.server.closing):
            return "shutting down"
        if self.engine is None or not self.engine.ready:
            return "recovering"
        return "starting the listener"


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class BoltCollector(Collector):
    """Turns statistics snapshots into metric families at scrape time."""

    def __init__(self, status: NodeStatus) -> None:
        self.status = status

    def describe(self) -> list[Any]:
        """Nothing up front: the families depend on what is running."""
        return []

    def collect(self) -> Iterator[Any]:
        """Yield every metric family (see the module docstring)."""
        status = self.status
        yield _gauge("bolt_ready", "1 when the node serves clients", status.ready())
        uptime = time.time() - status.started_at
        yield _gauge("bolt_uptime_seconds", "Seconds since the process started", uptime)
        yield _gauge(
            "bolt_pending_replication_total",
            "Records of the log not yet acknowledged by peers (summed over peers)",
            pending_replication(status.cluster),
        )
        if status.metrics is not None:
            yield _gauge(
                "bolt_metrics_connections",
                "Open connections to the metrics port",
                status.metrics.connections_active,
            )
            yield _counter(
                "bolt_metrics_refused_connections_total",
                "Metrics-port connections closed over the limit",
                status.metrics.connections_refused,
            )
        if status.server is not None:
            yield from self._server_families(status.server)
        if status.engine is not None:
            yield from self._engine_families(status.engine.statistics())
            yield from _task_families(status.engine.keyspace.tasks.statistics())

    def _server_families(self, server: Server) -> Iterator[Any]:
        yield _operations(server.counters())
        yield _gauge("bolt_active_connections", "Open client connections", len(server.sessions))
        yield UnknownMetricFamily(
            "bolt_total_connections",
            "Client connections admitted since start",
            value=server.connections_total,
        )
        yield _counter(
            "bolt_refused_connections_total",
            "Connections refused at BOLT_MAX_CONNECTIONS",
            server.connections_refused,
        )
        yield _counter("bolt_keys_read_total", "Keys read by read commands", server.keys_read_total)
        yield _counter("bolt_keyspace_hits_total", "GET/MGET keys found", server.keys_hit_total)
        yield _counter(
            "bolt_keyspace_misses_total", "GET/MGET keys missing", server.keys_missed_total
        )
        closed = CounterMetricFamily(
            "bolt_connections_closed_total",
            "Connections the server closed to protect itself, by reason",
            labels=["reason"],
        )
        for reason in ("login_timeout", "idle_timeout", "output_limit", "input_budget"):
            closed.add_metric([reason], server.closed_by_reason.get(reason, 0))
        yield closed
        yield _gauge(
            "bolt_partial_request_bytes",
            "Bytes of partially received requests held (all connections)",
            server.partial_bytes,
        )
        errors = CounterMetricFamily(
            "bolt_errors_total", "Error replies by code", labels=["code", "name"]
        )
        for (code, name), count in sorted(server.errors.items()):
            errors.add_metric([str(code), name], count)
        yield errors
        histogram = HistogramMetricFamily(
            "bolt_request_duration_seconds",
            "Time from receiving a request to sending its reply, by command",
            labels=["command"],
        )
        for counters in server.counters():
            if counters.calls:
                buckets = [
                    ("+Inf" if bound == float("inf") else repr(bound), count)
                    for bound, count in counters.cumulative_buckets()
                ]
                histogram.add_metric(
                    [counters.name], buckets=buckets, sum_value=counters.seconds_total
                )
        yield histogram

    def _engine_families(self, stats: EngineStatistics) -> Iterator[Any]:
        for kind, name, documentation, value in _engine_values(stats):
            yield (_counter if kind == "counter" else _gauge)(name, documentation, value)


def _operations(counters: Iterable[CommandCounters]) -> CounterMetricFamily:
    """``bolt_operations_total{type}`` from the server's per-command counters."""
    operations = CounterMetricFamily(
        "bolt_operations_total", "Data commands run, by type", labels=["type"]
    )
    by_type = dict.fromkeys(OPERATION_TYPES, 0)
    for item in counters:
        spec = COMMANDS.get(item.name)
        if spec is not None:
            by_type[spec.metric_type] = by_type.get(spec.metric_type, 0) + item.calls
    for kind, count in by_type.items():
        operations.add_metric([kind], count)
    return operations


def _engine_values(stats: EngineStatistics) -> list[tuple[str, str, str, float]]:
    """``(kind, name, help, value)`` of the engine's plain counters and gauges."""
    values: list[tuple[str, str, str, float]] = [
        ("counter", "bolt_expired_keys_total", "Keys reclaimed after expiry", stats.expired_total),
        ("counter", "bolt_evicted_keys_total", "Keys evicted at the limit", stats.evicted_total),
        ("counter", "bolt_keys_written_total", "Keys written", stats.keys_written_total),
        ("counter", "bolt_keys_deleted_total", "Keys deleted", stats.keys_deleted_total),
        ("counter", "bolt_events_total", "Events logged and applied", stats.events_total),
        ("gauge", "bolt_keys_total", "Live keys", stats.keys),
        ("gauge", "bolt_databases_total", "Databases holding keys", stats.databases),
        ("gauge", "bolt_memory_used_bytes", "Estimated bytes of data", stats.memory_used_bytes),
        ("gauge", "bolt_memory_limit_bytes", "BOLT_MAX_MEMORY (0: none)", stats.memory_limit_bytes),
        ("gauge", "bolt_disk_failed", "1 when the log failed", float(stats.failed is not None)),
    ]
    log = stats.log
    if log is not None:
        values += [
            (
                "counter",
                "bolt_wal_bytes_total",
                "Bytes appended to the log",
                log.bytes_appended_total,
            ),
            ("gauge", "bolt_wal_disk_bytes", "Bytes of log segments on disk", log.bytes_on_disk),
            ("gauge", "bolt_wal_segments", "Log segment files", log.segments),
            ("counter", "bolt_wal_fsyncs_total", "fsync calls on the log", log.fsyncs_total),
            (
                "counter",
                "bolt_wal_fsync_seconds_total",
                "Seconds in fsync",
                log.fsync_seconds_total,
            ),
            (
                "gauge",
                "bolt_wal_fsync_p99_seconds",
                "99th percentile latency of the recent fsyncs",
                log.fsync_latency_ms_p99 / 1000,
            ),
            ("gauge", "bolt_wal_last_offset", "Offset of the last record", stats.last_offset),
            ("gauge", "bolt_wal_durable_offset", "Last fsynced offset", log.durable_offset - 1),
        ]
    snapshot = stats.snapshot
    if snapshot is not None:
        values += [
            ("counter", "bolt_snapshots_total", "Snapshots written", snapshot.snapshots_total),
            (
                "counter",
                "bolt_snapshot_failures_total",
                "Snapshot rounds that failed (retried later with back-off)",
                snapshot.failures_total,
            ),
            ("gauge", "bolt_snapshot_bytes", "Bytes of the snapshot store", snapshot.bytes_on_disk),
        ]
        if snapshot.last_at is not None:
            age = max(time.time() - snapshot.last_at, 0.0)
            values.append(("gauge", "bolt_snapshot_age_seconds", "Seconds since a snapshot", age))
    return values


class Metrics:
    """The private registry with the Bolt collector, and its HTTP endpoint."""

    def __init__(self, status: NodeStatus) -> None:
        self.status = status
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(BoltCollector(status))
        self.registry.register(ClusterCollector(lambda: status.cluster))
        self.connections_active = 0
        self.connections_refused = 0
        status.metrics = self

    def text(self) -> str:
        """The Prometheus text exposition (also the ``METRICS`` reply)."""
        return generate_latest(self.registry).decode()

    async def serve(
        self, host: str, port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve HTTP on ``host:port`` until cancelled; ``started`` gets the real port.

        Raises:
            OSError: the address cannot be bound.
        """
        listeners = await open_listeners(host, port, "BOLT_METRICS_PORT")
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(functools.partial(_guarded, self._counted), listeners)

    async def _counted(self, stream: trio.SocketStream) -> None:
        if self.connections_active >= limits.metrics_connections_max:
            self.connections_refused += 1
            await trio.aclose_forcefully(stream)
            return
        self.connections_active += 1
        try:
            await self._handle(stream)
        finally:
            self.connections_active -= 1
            await trio.aclose_forcefully(stream)

    async def _handle(self, stream: trio.SocketStream) -> None:
        head = await _read_head(stream)
        if head is None:
            return
        try:
            method, target, _version = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        except ValueError:
            await _respond(stream, 400, "bad request\n", head_only=False)
            return
        path = target.split("?", 1)[0]
        head_only = method == "HEAD"
        if method not in ("GET", "HEAD"):
            await _respond(stream, 405, "only GET and HEAD\n", head_only=False)
        elif path == "/metrics":
            await _respond(stream, 200, self.text(), head_only, CONTENT_TYPE_LATEST)
        elif path == "/health":
            await _respond(stream, 200, "ok\n", head_only)
        elif path == "/ready":
            if self.status.ready():
                await _respond(stream, 200, "ready\n", head_only)
            else:
                reason = self.status.not_ready_reason()
                await _respond(stream, 503, f"not ready: {reason}\n", head_only)
        else:
            await _respond(stream, 404, "not found: try /metrics, /health or /ready\n", head_only)


async def _guarded(handler: Any, stream: trio.SocketStream) -> None:
    try:
        await handler(stream)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    except Exception:
        logger.exception("metrics request failed")


async def _read_head(stream: trio.SocketStream) -> bytes | None:
    buffer = bytearray()
    with trio.move_on_after(HTTP_REQUEST_TIMEOUT_SECONDS):
        while b"\r\n\r\n" not in buffer:
            data = await stream.receive_some(HTTP_REQUEST_BYTES_MAX)
            if not data:
                return None
            buffer += data
            if len(buffer) > HTTP_REQUEST_BYTES_MAX:
                await _respond(stream, 431, "request head too large\n", head_only=False)
                return None
        return bytes(buffer)
    return None


_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


async def _respond(
    stream: trio.SocketStream,
    status: int,
    body: str,
    head_only: bool,
    content_type: str = "text/plain; charset=utf-8",
) -> None:
    payload = body.encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1")
    await stream.send_all(head if head_only else head + payload)
    await stream.send_eof()


def _task_families(stats: TaskStatistics) -> Iterator[Any]:
    """The task coordinator's metrics (``bolt.state._tasks``)."""
    depth = GaugeMetricFamily(
        "bolt_tasks", "Tasks by type and status (queue depth)", labels=["type", "status"]
    )
    for (task_type, status), count in sorted(stats.depth.items()):
        depth.add_metric([task_type, status], count)
    yield depth
    yield _gauge("bolt_task_leases_active", "Claimed tasks holding a lease", stats.leases_active)
    yield _counter("bolt_task_claims_total", "Task claims", stats.claims_total)
    yield _counter("bolt_task_completions_total", "Tasks completed", stats.completions_total)
    yield _counter("bolt_task_failures_total", "Task failures reported", stats.failures_total)
    yield _counter("bolt_task_retries_total", "Tasks put back to pending", stats.retries_total)
    yield _counter(
        "bolt_task_dead_letters_total", "Tasks out of attempts", stats.dead_letters_total
    )
    buckets = [
        (repr(bound / 1000), count)
        for bound, count in zip(DISPATCH_BOUNDS_MS, stats.dispatch_buckets, strict=False)
    ]
    buckets.append(("+Inf", stats.dispatch_buckets[-1]))
    dispatch = HistogramMetricFamily(
        "bolt_task_dispatch_seconds", "Time a task waited pending before it was claimed"
    )
    dispatch.add_metric([], buckets=buckets, sum_value=stats.dispatch_sum_ms / 1000)
    yield dispatch
