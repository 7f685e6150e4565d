"""The daemon's life: start in order, serve, stop cleanly on SIGTERM/SIGINT.

Theory of operation
-------------------
Startup order, each step observable:

1. Check the security settings and TLS files (a bad value is a
   :class:`~bolt.errors.ConfigError` before anything is opened).
2. Install the SIGTERM/SIGINT handlers, so a signal at any later moment
   leads to a clean stop.
3. Start the metrics port: ``/health`` answers from here on, ``/ready``
   says 503 until step 6.
4. Open the engine: recovery (snapshot + log replay) logs its own progress.
5. Make sure the bootstrap ``admin`` user matches ``BOLT_ADMIN_PASSWORD``
   (hashed off the loop, written as a user event and made durable).
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

import logging
import signal
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import trio

from bolt import limits
from bolt.config import Config
from bolt.errors import ConfigError
from bolt.node import Engine, EngineConfig, open_engine
from bolt.server._auth import (
    MODE_DISABLED,
    MODE_PROTECTED,
    MODE_REQUIRED,
    PasswordChecker,
    is_loopback,
    resolve_security,
)
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


def _announce_unused(config: Config) -> None:
    """Say so when settings are given that this build does not act on yet."""
    given = [
        variable
        for variable, value in (
            ("BOLT_CLUSTER_PEERS", config.cluster_peers),
            ("BOLT_CLUSTER_SECRET", config.cluster_secret),
            ("BOLT_CLUSTER_PORT", config.cluster_port != limits.cluster_port_default),
        )
        if value
    ]
    if given:
        logger.warning(
            "%s %s set, but this node runs standalone: peer replication is not part of "
            "this build yet",
            "/".join(given),
            "is" if len(given) == 1 else "are",
        )
    if config.high_perf:
        logger.info("BOLT_HIGH_PERF is accepted for compatibility and changes nothing")


def _announce_mode(mode: str, host: str) -> None:
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
        logger.info("authentication is required")


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

    def request_stop(self) -> None:
        """Begin a graceful stop (what the first SIGTERM/SIGINT does)."""
        self.status.closing = True
        self.stopping.set()
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
                metrics_port = await nursery.start(self.metrics.serve, host, config.metrics_port)
            _announce_mode(mode, host)
            _announce_unused(config)
            async with open_engine(engine_config(config)) as engine:
                self.status.engine = engine
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
        )
        server.metrics_text = self.metrics.text
        self.server = server
        self.status.server = server
        async with trio.open_nursery() as serving:
            port = await serving.start(server.serve, host, config.port)
            serving.start_soon(run_task_service, server)  # ends when the server closes
            if config.resp_port is not None:
                self.resp = RespListener(server)
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
    )
