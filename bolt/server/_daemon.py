"""The daemon's life: start in order, serve, stop cleanly on SIGTERM/SIGINT.

Theory of operation
-------------------
Startup order, each step observable:

1. Check the security settings and TLS files (a bad value is a
   :class:`~bolt.errors.ConfigError` before anything is opened), and size
   ``RLIMIT_NOFILE`` for ``BOLT_MAX_CONNECTIONS`` (see :func:`size_open_files`).
2. Install the SIGTERM/SIGINT handlers, so a signal at any later moment
   leads to a clean stop.
3. Start the metrics port: ``/health`` answers from here on, ``/ready``
   says 503 until step 6.
4. Open the engine: recovery (snapshot + log replay) logs its own progress.
5. Make sure the bootstrap ``admin`` user matches ``BOLT_ADMIN_PASSWORD``
   (hashed off the loop, written as a user event and made durable). Users
   stored in the data directory turn authentication on even without
   ``BOLT_ADMIN_PASSWORD``; only an explicit ``BOLT_AUTH=false`` keeps it
   off. The log says which mode was chosen, why, and the address bound.
6. Start the client listener, then report readiness once: one INFO log
   line and the ``on_ready`` callback (the CLI prints
   ``bolt ready: host=H port=P metrics_port=M node_id=N`` to stderr, which
   the test kit waits for).

Stopping (first signal): ``/ready`` turns 503, the listener stops
accepting, in-flight requests finish (up to ``limits.shutdown_grace_ms``),
then the engine closes -- flush and fsync of the log and a final snapshot
-- and :meth:`Daemon.run` returns normally (the process exits 0). A second
signal cancels the remaining requests at once; the engine still closes
cleanly, so nothing acknowledged is lost either way.
"""

from __future__ import annotations

import dataclasses
import logging
import resource
import signal
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import trio

from bolt import limits
from bolt.cluster import (
    ClusterService,
    cluster_settings,
    peer_client_ssl_context,
    testing_clock_offset_ms,
)
from bolt.config import Config
from bolt.errors import ConfigError
from bolt.node import Engine, EngineConfig, open_engine, wall_clock_ms
from bolt.server._auth import (
    MODE_DISABLED,
    MODE_PROTECTED,
    MODE_REQUIRED,
    PasswordChecker,
    is_loopback,
    resolve_security,
)
from bolt.server._blocking import run_blocking_service
from bolt.server._metrics import Metrics, NodeStatus
from bolt.server._resp_server import RespListener
from bolt.server._server import Server
from bolt.server._tasks import run_task_service
from bolt.server._tls import server_ssl_context

logger = logging.getLogger("bolt.daemon")

BOOTSTRAP_ADMIN = "admin"
"""The user ``BOLT_ADMIN_PASSWORD`` sets the password of."""


@dataclass(frozen=True)
class ReadyInfo:
    """Where the daemon listens, once it is ready."""

    host: str
    port: int
    metrics_port: int | None
    node_id: str
    auth_mode: str
    tls: bool

    def line(self) -> str:
        """``bolt ready: host=H port=P metrics_port=M node_id=N`` (M is ``off`` if disabled)."""
        metrics = "off" if self.metrics_port is None else str(self.metrics_port)
        return (
            f"bolt ready: host={self.host} port={self.port} "
            f"metrics_port={metrics} node_id={self.node_id}"
        )


async def bootstrap_users(
    engine: Engine, mode: str, admin_password: str | None, checker: PasswordChecker
) -> None:
    """Make the ``admin`` user match ``BOLT_ADMIN_PASSWORD``; check logins are possible.

    Raises:
        ConfigError: logins are required but no user exists and no
            ``BOLT_ADMIN_PASSWORD`` creates one.
    """
    if admin_password:
        record = engine.user(BOOTSTRAP_ADMIN)
        current = (
            record is not None
            and record.role == "admin"
            and await checker.verify(admin_password, record.password_hash)
        )
        if not current:
            password_hash = await checker.hash(admin_password)
            offset = engine.put_user(BOOTSTRAP_ADMIN, password_hash, "admin")
            await engine.wait_durable(offset)
            logger.info(
                "%s the %r user from BOLT_ADMIN_PASSWORD",
                "created" if record is None else "updated",
                BOOTSTRAP_ADMIN,
            )
    if mode == MODE_REQUIRED and not engine.users():
        raise ConfigError(
            "invalid BOLT_AUTH=true: authentication is required but no user exists; "
            "set BOLT_ADMIN_PASSWORD to create the admin user"
        )


def size_open_files(max_connections: int) -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to what ``max_connections`` needs.

    The need is ``max_connections`` plus the metrics port's connections
    (``limits.metrics_connections_max``) plus the daemon's own files
    (``limits.daemon_files_reserve``), so idle clients can never make a log
    or snapshot open fail with EMFILE.

    Returns:
        The soft limit now in force.

    Raises:
        ConfigError: the hard limit is below the need (the message says what
            to lower or raise).
    """
    need = max_connections + limits.metrics_connections_max + limits.daemon_files_reserve
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return soft
    if hard != resource.RLIM_INFINITY and hard < need:
        raise ConfigError(
            f"invalid BOLT_MAX_CONNECTIONS={max_connections}: it needs {need} open files "
            f"({max_connections} connections + {limits.metrics_connections_max} metrics "
            f"connections + {limits.daemon_files_reserve} for the daemon's own files), but "
            f"the hard limit of open files (ulimit -Hn) is {hard}; lower "
            f"BOLT_MAX_CONNECTIONS to at most {max(hard - need + max_connections, 0)} or raise "
            "the limit"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    logger.info("raised the open-file limit from %d to %d for BOLT_MAX_CONNECTIONS", soft, need)
    return need


def stored_users_mode(mode: str, host: str, engine: Engine) -> str:
    """The auth mode once the data directory is open: stored users turn logins on.

    Protected mode (no ``BOLT_ADMIN_PASSWORD``, no ``BOLT_AUTH``) becomes
    ``required`` when the data directory holds users; the host stays what
    protected mode chose (loopback).
    """
    if mode != MODE_PROTECTED:
        return mode
    users = engine.users()
    if not users:
        return mode
    logger.info(
        "authentication is required: the data directory holds %d user%s (set BOLT_AUTH=false "
        "to turn logins off); listening on %s",
        len(users),
        "" if len(users) == 1 else "s",
        host,
    )
    return MODE_REQUIRED


def _announce_unused(config: Config) -> None:
    """Say so when settings are given that this build does not act on yet."""
    if not config.cluster_peers and config.cluster_secret:
        logger.warning("BOLT_CLUSTER_SECRET is set but BOLT_CLUSTER_PEERS is empty: standalone")
    if config.high_perf:
        logger.info("BOLT_HIGH_PERF is accepted for compatibility and changes nothing")


def _announce_mode(mode: str, host: str, config: Config) -> None:
    if mode == MODE_PROTECTED:
        logger.warning(
            "protected mode: BOLT_ADMIN_PASSWORD is not set, so authentication is off and "
            "Bolt listens on loopback (%s) only. Set BOLT_ADMIN_PASSWORD to require logins, "
            "or BOLT_AUTH=false to serve other hosts without them",
            host,
        )
    elif mode == MODE_DISABLED:
        if is_loopback(host):
            logger.info("authentication is disabled (BOLT_AUTH=false)")
        else:
            logger.warning(
                "authentication is disabled (BOLT_AUTH=false) and Bolt listens on %s: "
                "anyone who can reach it may read and write",
                host,
            )
    else:
        if config.host is None:
            logger.info(
                "authentication is required (BOLT_ADMIN_PASSWORD is set): listening on %s "
                "(every interface); set BOLT_HOST to bind one address",
                host,
            )
        else:
            logger.info("authentication is required: listening on %s", host)
        logger.info(
            "the SDK logs in by challenge (no password on the wire); a password sent "
            "in plain text inside HELLO or AUTH needs TLS (BOLT_TLS_CERT/BOLT_TLS_KEY) "
            "on a network"
        )


def _sole_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one real error inside nested exception groups, or the group itself."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        item = pending.pop()
        if isinstance(item, BaseExceptionGroup):
            pending.extend(item.exceptions)
        elif not isinstance(item, trio.Cancelled):
            leaves.append(item)
    return leaves[0] if len(leaves) == 1 else group


class Daemon:
    """One ``bolt`` process: engine, client listener, metrics port, signals.

    Args:
        config: the validated configuration.
        shutdown_grace_seconds: how long in-flight requests get at shutdown.
    """

    def __init__(
        self, config: Config, *, shutdown_grace_seconds: float = limits.shutdown_grace_ms / 1000
    ) -> None:
        self.config = config
        self.shutdown_grace_seconds = shutdown_grace_seconds
        self.status = NodeStatus()
        self.metrics = Metrics(self.status)
        self.server: Server | None = None
        self.resp: RespListener | None = None  # the Redis protocol port (BOLT_RESP_PORT)
        self.stopping = trio.Event()
        self._signals = 0
        self.cluster: ClusterService | None = None

    def request_stop(self) -> None:
        """Begin a graceful stop (what the first SIGTERM/SIGINT does)."""
        self.status.closing = True
        self.stopping.set()
        if self.cluster is not None:
            self.cluster.stop()
        if self.server is not None:
            self.server.shutdown()
        if self.resp is not None:
            self.resp.shutdown()

    def force_stop(self) -> None:
        """Cancel in-flight requests now (what a second signal does)."""
        self.request_stop()
        if self.server is not None:
            self.server.force_stop()

    async def _watch_signals(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            task_status.started()
            async for signum in signals:
                self._signals += 1
                name = signal.Signals(signum).name
                if self._signals == 1:
                    logger.info("%s received: finishing in-flight requests, then stopping", name)
                    self.request_stop()
                else:
                    logger.warning("%s received again: stopping now", name)
                    self.force_stop()

    async def run(self, on_ready: Callable[[ReadyInfo], None] | None = None) -> None:
        """Start, serve until a signal (or :meth:`request_stop`), stop cleanly.

        Raises:
            ConfigError: a setting is invalid (security, TLS, users).
            StorageError, CorruptionError: the data directory cannot be used.
            OSError: a port cannot be bound.
        """
        config = self.config
        mode, host = resolve_security(config)
        ssl_context = server_ssl_context(config)
        cluster_settings(config)  # refuse a bad cluster configuration before opening anything
        size_open_files(config.max_connections)
        try:
            await self._run(mode, host, ssl_context, on_ready)
        except BaseExceptionGroup as group:
            raise _sole_error(group) from None

    async def _run(
        self,
        mode: str,
        host: str,
        ssl_context: ssl.SSLContext | None,
        on_ready: Callable[[ReadyInfo], None] | None,
    ) -> None:
        config = self.config
        async with trio.open_nursery() as nursery:
            await nursery.start(self._watch_signals)
            metrics_port = None
            if config.metrics_enabled:
                metrics_port = await nursery.start(
                    self.metrics.serve, config.metrics_host, config.metrics_port
                )
            if mode != MODE_PROTECTED:
                _announce_mode(mode, host, config)
            _announce_unused(config)
            async with open_engine(_engine_config(config)) as engine:
                self.status.engine = engine
                if mode == MODE_PROTECTED:
                    mode = stored_users_mode(mode, host, engine)
                    if mode == MODE_PROTECTED:
                        _announce_mode(mode, host, config)
                checker = PasswordChecker()
                await bootstrap_users(engine, mode, config.admin_password, checker)
                if not self.stopping.is_set():
                    await self._serve(
                        engine, mode, host, ssl_context, metrics_port, on_ready, checker
                    )
                logger.info("closing the engine: flushing and syncing the log")
            logger.info("stopped cleanly")
            nursery.cancel_scope.cancel()

    async def _serve(
        self,
        engine: Engine,
        mode: str,
        host: str,
        ssl_context: ssl.SSLContext | None,
        metrics_port: int | None,
        on_ready: Callable[[ReadyInfo], None] | None,
        checker: PasswordChecker,
    ) -> None:
        config = self.config
        server = Server(
            engine,
            mode=mode,
            max_connections=config.max_connections,
            ssl_context=ssl_context,
            shutdown_grace_seconds=self.shutdown_grace_seconds,
            checker=checker,
            login_timeout_seconds=config.login_timeout_ms / 1000,
            idle_timeout_seconds=config.idle_timeout_ms / 1000,
            output_stall_seconds=config.output_stall_ms / 1000,
        )
        server.metrics_text = self.metrics.text
        self.server = server
        self.status.server = server
        async with trio.open_nursery() as serving:
            port = await serving.start(server.serve, host, config.port)
            await self._start_cluster(engine, host, port, ssl_context, serving)
            serving.start_soon(run_task_service, server, config)  # ends when the server closes
            serving.start_soon(run_blocking_service, server)  # BLPOP/BRPOP wake-ups; the same
            if config.resp_port is not None:
                self.resp = RespListener(server)
                if self.cluster is not None:  # peers' PUBLISH reach this node's subscribers
                    self.cluster.deliver_publish = self.resp.pubsub.publish
                resp_port = await serving.start(self.resp.serve, host, config.resp_port)
                logger.info("bolt resp ready: host=%s resp_port=%d", host, resp_port)
            info = ReadyInfo(host, port, metrics_port, engine.origin, mode, ssl_context is not None)
            logger.info("%s", info.line())
            if on_ready is not None:
                on_ready(info)
            if self.stopping.is_set():
                server.shutdown()
                if self.resp is not None:
                    self.resp.shutdown()

    async def _start_cluster(
        self,
        engine: Engine,
        host: str,
        client_port: int,
        ssl_context: ssl.SSLContext | None,
        nursery: trio.Nursery,
    ) -> None:
        """Start the cluster port and the peer links (a node with peers only)."""
        config = self.config
        settings = cluster_settings(config, engine.origin)
        if settings is None:
            return
        cluster = ClusterService(
            engine,
            settings,
            data_dir=config.resolved_data_dir() if config.persist else None,
            server_ssl=ssl_context,
            client_ssl=peer_client_ssl_context(config),
        )
        cluster.client_port = client_port
        self.cluster = cluster
        if self.server is not None:
            self.server.cluster = cluster
        self.status.cluster = cluster
        await nursery.start(cluster.run, host)
        if self.stopping.is_set():
            cluster.stop()


def _engine_config(config: Config) -> EngineConfig:
    """The engine's configuration, with the testing-only clock offset if set."""
    result = engine_config(config)
    offset_ms = testing_clock_offset_ms()
    if offset_ms:
        logger.warning(
            "BOLT_TESTING_CLOCK_OFFSET_MS=%d: this node's wall clock is shifted (testing only)",
            offset_ms,
        )

        def now_ms() -> int:
            return wall_clock_ms() + offset_ms

        result = dataclasses.replace(result, now_ms=now_ms)
    return result


def engine_config(config: Config) -> EngineConfig:
    """The engine part of the daemon's configuration."""
    return EngineConfig(
        data_dir=config.resolved_data_dir(),
        node_id=config.node_id,
        persist=config.persist,
        fsync=config.wal_fsync,
        flush_interval_ms=config.wal_flush_interval_ms,
        batch_size=config.wal_batch_size,
        shard_count=config.shard_count,
        max_memory_bytes=config.max_memory,
        eviction_policy=config.eviction_policy,
        memory_warning_threshold=config.memory_warning_threshold,
        snapshot_interval_events=config.snapshot_interval_events,
        snapshot_interval_ms=config.snapshot_interval_ms,
        max_clock_offset_ms=config.max_clock_offset_ms,
        keep_tombstones=bool(config.cluster_peers),
        segment_bytes_max=max(config.wal_segment_bytes, limits.segment_bytes_min),
    )
