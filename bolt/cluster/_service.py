"""The cluster service: the cluster-port listener, one link per peer, status.

Theory of operation
-------------------
:meth:`ClusterService.run` (started in the daemon's nursery, after the
client listener) opens the cluster port, starts one dialing link per peer of
``BOLT_CLUSTER_PEERS`` (:mod:`bolt.cluster._dial`: it ships this node's log
to that peer) and answers the links of the peers
(:mod:`bolt.cluster._answer`: it applies theirs). So each pair of nodes has
two connections, one per direction of replication, each with its own flow
control; a peer's health counts what arrives on either.

Acknowledged offsets are persisted per peer (:mod:`bolt.cluster._acks`) at
most every ``peer_ack_persist_interval_ms``, so a restart of either side
resumes where it stopped. :meth:`status` is the ``CLUSTER`` reply.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import trio

from bolt import limits
from bolt.cluster._acks import AckStore
from bolt.cluster._answer import answer
from bolt.cluster._dial import run_link
from bolt.cluster._fullsync_retention import log_hold
from bolt.cluster._peer_state import HEALTHY, PeerState, PeerStatistics
from bolt.cluster._settings import ClusterSettings
from bolt.cluster._stability import Stability, StabilityReport
from bolt.cluster._stream import PeerStream
from bolt.cluster._tasks import TaskLinks
from bolt.cluster._tombstones import TombstoneCollector
from bolt.crdt import hlc_from_ms, hlc_ms
from bolt.node import Engine, wall_clock_ms
from bolt.wire import Publish, format_address

logger = logging.getLogger("bolt.cluster")

_TLS_HANDSHAKE_SECONDS = 5.0


def _address(sockaddr: Any) -> str:
    return format_address(sockaddr[0], sockaddr[1])


class ClusterService:
    """This node's side of the cluster (see the module docstring).

    Args:
        engine: the open, running engine.
        settings: from :func:`bolt.cluster.cluster_settings`.
        data_dir: where ``cluster/acked.json`` lives (None: not persisted).
        server_ssl: TLS for the cluster port (the client port's context), or None.
        client_ssl: TLS for dialing peers, or None.
    """

    def __init__(
        self,
        engine: Engine,
        settings: ClusterSettings,
        *,
        data_dir: Path | None = None,
        server_ssl: ssl.SSLContext | None = None,
        client_ssl: ssl.SSLContext | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.node_id = engine.origin
        self.server_ssl = server_ssl
        self.client_ssl = client_ssl
        self.acks = AckStore(data_dir / "cluster" if data_dir is not None else None)
        stored = self.acks.load()
        self.peers: dict[str, PeerState] = {
            peer.node_id: PeerState(
                peer.node_id, peer.host, peer.port, stored.get(peer.node_id, -1)
            )
            for peer in settings.peers
        }
        self.port = 0
        self.client_port = -1
        self.refused_connections = 0
        self._acks_dirty = trio.Event()
        self._saved: dict[str, int] = dict(stored)
        self._inbound: dict[str, trio.CancelScope] = {}
        self._scope: trio.CancelScope | None = None
        self.task_links = TaskLinks(self)  # task commands forwarded to their deciding node
        self._started_at = 0.0
        # Pub/sub: each shipping link's outbox, and where a peer's messages go.
        self._publish_outboxes: dict[str, trio.MemorySendChannel[Publish]] = {}
        self._contact = trio.Event()  # set at the first handshake with any peer
        if engine.last_offset < 0 and not engine.keyspace.dots.highest(self.node_id):
            # Held from before the first await: see _join.
            engine.hold_writes(
                "this node has no data yet and is asking its peers which of its own"
                " writes they hold; retry in a moment"
            )
        self.deliver_publish: Callable[[bytes, bytes], int] | None = None
        self.stability = Stability(self.node_id, self.peers)
        self.tombstones = TombstoneCollector(engine, self.stable_hlc)

    # --- running -------------------------------------------------------------------

    async def run(
        self, host: str, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen on ``host``:``BOLT_CLUSTER_PORT``, run the links, until :meth:`stop`.

        ``task_status.started`` reports the real cluster port.

        Raises:
            OSError: the cluster port cannot be bound.
        """
        from bolt.server import open_listeners

        listeners = await open_listeners(host, self.settings.port, "BOLT_CLUSTER_PORT")
        self.port = listeners[0].socket.getsockname()[1]
        self._started_at = trio.current_time()
        # Peers hold the log after what they acknowledged (bolt.cluster._fullsync_retention).
        writer = self.engine._snapshots
        if writer is not None:
            writer.retention_holds.append(self.log_hold)
        with trio.CancelScope() as scope:
            self._scope = scope
            async with trio.open_nursery() as nursery:
                await nursery.start(
                    functools.partial(trio.serve_listeners, self._handle, listeners)
                )
                for peer in self.peers.values():
                    nursery.start_soon(run_link, self, peer)
                nursery.start_soon(self._persist_acks)
                nursery.start_soon(self._join)
                nursery.start_soon(self.task_links.run)
                nursery.start_soon(self.tombstones.run)
                logger.info(
                    "cluster port %s:%d: node %s with peers %s%s",
                    host,
                    self.port,
                    self.node_id,
                    ", ".join(
                        f"{p.node_id}@{format_address(p.host, p.port)}" for p in self.peers.values()
                    ),
                    " (TLS)" if self.server_ssl is not None else "",
                )
                task_status.started(self.port)
        self._save_now()

    async def _join(self) -> None:
        """A node that starts with no events of its own holds local writes until
        it has heard from a peer (or ``limits.fresh_join_wait_ms`` passed).

        If its data directory was wiped, peers hold its old events, and a new
        write stamped with one of their seqs would be skipped everywhere as a
        duplicate; the handshake tells it how far its own seqs went.
        """
        engine = self.engine
        if engine.writes_held is None:
            return
        try:
            with trio.move_on_after(limits.fresh_join_wait_ms / 1000) as waited:
                await self._contact.wait()
            if waited.cancelled_caught:
                logger.warning(
                    "no peer answered within %d ms: taking writes (if this node's data"
                    " directory was wiped, its peers may skip some of them)",
                    limits.fresh_join_wait_ms,
                )
        finally:
            engine.hold_writes(None)

    def stop(self) -> None:
        """Stop the listener and every link (the daemon calls this at shutdown)."""
        if self._scope is not None:
            self._scope.cancel()

    async def dial(self, peer: PeerState) -> PeerStream:
        """Connect to ``peer``'s cluster port (TLS when configured).

        Raises:
            OSError: the peer cannot be reached.
        """
        tcp = await trio.open_tcp_stream(peer.host, peer.port)
        address = format_address(peer.host, peer.port)
        if self.client_ssl is None:
            return PeerStream(tcp, address)
        tls = trio.SSLStream(tcp, self.client_ssl, server_hostname=peer.host)
        with trio.fail_after(_TLS_HANDSHAKE_SECONDS):
            try:
                await tls.do_handshake()
            except trio.BrokenResourceError as exc:
                await tcp.aclose()
                raise OSError(
                    f"TLS handshake with {address} failed: {exc.__cause__ or exc}"
                ) from exc
        return PeerStream(tls, address)

    async def _handle(self, tcp: trio.SocketStream) -> None:
        try:
            address = _address(tcp.socket.getpeername())
        except OSError:
            return
        stream: trio.abc.Stream = tcp
        if self.server_ssl is not None:
            tls = trio.SSLStream(tcp, self.server_ssl, server_side=True)
            with trio.move_on_after(_TLS_HANDSHAKE_SECONDS) as scope:
                try:
                    await tls.do_handshake()
                except trio.BrokenResourceError as exc:
                    logger.info("TLS handshake with %s failed: %s", address, exc.__cause__ or exc)
                    await tcp.aclose()
                    return
            if scope.cancelled_caught:
                await tcp.aclose()
                return
            stream = tls
        try:
            await answer(self, PeerStream(stream, address))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        except Exception:
            logger.exception("peer connection from %s failed", address)

    @contextlib.contextmanager
    def inbound_slot(self, peer: PeerState) -> Iterator[trio.CancelScope]:
        """One applying connection per peer: a new one replaces the old."""
        old = self._inbound.get(peer.node_id)
        if old is not None:
            old.cancel()
        with trio.CancelScope() as scope:
            self._inbound[peer.node_id] = scope
            try:
                yield scope
            finally:
                if self._inbound.get(peer.node_id) is scope:
                    del self._inbound[peer.node_id]

    # --- handshake data ----------------------------------------------------------

    def handshake_status(self) -> dict[str, Any]:
        """What this node tells a peer about itself in the handshake."""
        engine = self.engine
        return {
            "version_vector": engine.version_vector(),
            "hlc": self.now_hlc(),
            "last_offset": engine.last_offset,
            "client_port": self.client_port,
            "stability": self.stability_report(),
        }

    def now_hlc(self) -> int:
        """This node's clock now, as an HLC reading (for heartbeats; no tick)."""
        engine = self.engine
        now_ms = (engine.config.now_ms or wall_clock_ms)()
        return max(engine.clock.last, hlc_from_ms(now_ms))

    def learned(self, peer: PeerState, status: dict[str, Any]) -> None:
        """Record a peer's handshake status."""
        peer.heard(trio.current_time())
        peer.remote_vector = dict(status["version_vector"])
        peer.remote_last_offset = status["last_offset"]
        peer.client_port = status["client_port"]
        if peer.remote_last_offset < 0 and peer.acked_offset >= 0:
            # The peer's log is empty although it acknowledged records: its
            # data directory was replaced. Send it everything again.
            logger.warning(
                "peer %s has an empty log but had acknowledged offset %d: resending the log",
                peer.node_id,
                peer.acked_offset,
            )
            peer.acked_offset = -1
        peer.clock_offset_ms = self.engine.clock.offset_ms(status["hlc"]) if status["hlc"] else 0
        self.heard_stability(peer, status.get("stability"))
        # A peer may hold this node's own events that this node no longer has
        # (its data directory was wiped): never stamp those seqs again.
        self.engine.skip_seqs_through(peer.remote_vector.get(self.node_id, 0))
        self._contact.set()

    # --- pub/sub across the cluster ------------------------------------------------

    def publish(self, channel: bytes, message: bytes) -> None:
        """Hand a ``PUBLISH`` made here to every peer with a live link (never waits).

        At most once, like Redis: a peer without a link now misses it, and a
        link whose outbox is full (``limits.peer_publish_queue_max``) drops it
        (counted in ``publishes_dropped``).
        """
        for node_id, outbox in self._publish_outboxes.items():
            peer = self.peers[node_id]
            try:
                outbox.send_nowait(Publish(channel, message))
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                peer.publishes_dropped += 1

    @contextlib.contextmanager
    def publish_outbox(self, peer: PeerState) -> Iterator[trio.MemoryReceiveChannel[Publish]]:
        """The outbox of ``peer``'s shipping link, for as long as the link runs."""
        send, receive = trio.open_memory_channel[Publish](limits.peer_publish_queue_max)
        self._publish_outboxes[peer.node_id] = send
        try:
            with send, receive:
                yield receive
        finally:
            if self._publish_outboxes.get(peer.node_id) is send:
                del self._publish_outboxes[peer.node_id]

    def published_by(self, peer: PeerState, message: Publish) -> None:
        """A peer's ``PUBLISH``: to this node's subscribers (none without RESP)."""
        peer.publishes_received += 1
        if self.deliver_publish is not None:
            self.deliver_publish(message.channel, message.message)

    # --- causal stability (bolt.cluster._stability) ------------------------------------

    def stability_report(self) -> dict[str, Any]:
        """This node's stability report, for heartbeats and the handshake."""
        engine = self.engine
        # The vector and the clock are read with no await between: the pair is one instant.
        own_seq = engine.keyspace.dots.highest(self.node_id)
        return self.stability.report(engine.version_vector(), engine.clock.last, own_seq).to_wire()

    def heard_stability(self, peer: PeerState, report: dict[str, Any] | None) -> None:
        """Record a peer's stability report (checked by the peer codec), if it sent one."""
        if report is not None:
            self.stability.learn(peer.node_id, StabilityReport.from_wire(report))

    def local_stable_hlc(self) -> int:
        """This node holds every event (of every origin) at or below this HLC."""
        self.stability.advance(self.engine.version_vector())
        return self.stability.local_stable_hlc()

    def stable_hlc(self) -> int:
        """Every configured node holds every event at or below this HLC."""
        self.stability.advance(self.engine.version_vector())
        return self.stability.stable_hlc()

    # --- acknowledged offsets --------------------------------------------------------

    def ack_changed(self) -> None:
        """A peer acknowledged more: persist soon."""
        self._acks_dirty.set()

    async def _persist_acks(self) -> None:
        while True:
            await self._acks_dirty.wait()
            self._acks_dirty = trio.Event()
            current = {p.node_id: p.acked_offset for p in self.peers.values()}
            if current != self._saved:
                await trio.to_thread.run_sync(self.acks.save, current)
                self._saved = current
            await trio.sleep(limits.peer_ack_persist_interval_ms / 1000)

    def _save_now(self) -> None:
        current = {p.node_id: p.acked_offset for p in self.peers.values()}
        if current != self._saved:
            try:
                self.acks.save(current)
                self._saved = current
            except OSError as exc:
                logger.warning("could not save acknowledged offsets: %s", exc)

    def log_hold(self) -> int | None:
        """The highest log offset no peer needs any more (None: no hold); marks
        peers gone past the retention bound for a full sync."""
        log = self.engine._log
        if log is None:
            return None
        settings = self.settings
        return log_hold(
            self.peers.values(),
            now=trio.current_time(),
            started_at=self._started_at,
            bytes_from=log.bytes_from,
            last_offset=self.engine.last_offset,
            retention_bytes=settings.peer_log_retention_bytes,
            retention_ms=settings.peer_log_retention_ms,
        )

    # --- reports ------------------------------------------------------------------

    def peer_statistics(self) -> list[PeerStatistics]:
        """A snapshot of every peer, in configuration order."""
        now = trio.current_time()
        last = self.engine.last_offset
        return [peer.statistics(now, last) for peer in self.peers.values()]

    def status(self) -> dict[str, Any]:
        """The ``CLUSTER`` reply (see the README's Clustering section)."""
        engine = self.engine
        peers = []
        for stats in self.peer_statistics():
            peers.append(
                {
                    "id": stats.node_id,
                    "host": stats.host,
                    "port": stats.port,
                    "client_port": stats.client_port,
                    "state": stats.state,
                    "link": stats.link,
                    "pending": stats.pending,
                    "lag_events": stats.pending,
                    "lag_seconds": stats.lag_seconds,
                    "acked_offset": stats.acked_offset,
                    "bytes_in": stats.bytes_in,
                    "bytes_out": stats.bytes_out,
                    "batches_sent": stats.batches_sent,
                    "batches_received": stats.batches_received,
                    "reconnects": stats.reconnects,
                    "refused_events": stats.refused_events,
                    "held_events": stats.held_events,
                    "last_heartbeat_seconds_ago": stats.last_heartbeat_seconds_ago,
                    "clock_offset_ms": stats.clock_offset_ms,
                    "full_syncs": stats.full_syncs,
                    "full_syncs_sent": stats.full_syncs_sent,
                    "full_syncs_received": stats.full_syncs_received,
                    "needs_full_sync": stats.needs_full_sync,
                    "full_sync": stats.full_sync,
                    "publishes_sent": stats.publishes_sent,
                    "publishes_received": stats.publishes_received,
                    "publishes_dropped": stats.publishes_dropped,
                }
            )
        return {
            "mode": "cluster",
            "node_id": self.node_id,
            "hlc": engine.clock.last,
            "hlc_ms": hlc_ms(engine.clock.last),
            "last_offset": engine.last_offset,
            "version_vector": engine.version_vector(),
            "cluster_port": self.port,
            "peers": peers,
            "peer_count": len(peers),
            "healthy_peers": sum(1 for p in peers if p["state"] == HEALTHY),
            "pending_replication": sum(p["pending"] for p in peers),
            "refused_connections": self.refused_connections,
            "stable_vector": self.stability.stable_vector(engine.version_vector()),
            "stable_hlc": self.stable_hlc(),
            "tombstones": self._tombstone_status(),
        }

    def _tombstone_status(self) -> dict[str, int]:
        stats = self.tombstones.statistics()
        return {
            "live": stats.live,
            "collected": stats.collected_total,
            "bytes_collected": stats.bytes_collected_total,
            "rounds": stats.rounds_total,
        }
