"""The answering side of a peer link: check the peer, apply its batches, ack.

Theory of operation
-------------------
A connection to the cluster port must complete the handshake within
``peer_handshake_timeout_ms`` and with frames no larger than
``peer_handshake_frame_bytes_max``: the dialing node names itself and the
node it expects, and proves it knows the cluster secret. A wrong protocol
version, an unknown or unexpected node id, a wrong proof, garbage or an
oversized frame are refused (the reason is sent back and logged) and
nothing the connection sent is applied.

After that, batches are applied in order by one task, through
``Engine.ingest`` (the same append-and-apply path as local writes; dots the
node has are skipped), and acknowledged once durable. A batch refused for
clock skew is **held**: not applied, not dropped, offered again every
``peer_clock_skew_retry_ms`` while the peer's status says ``clock skew``;
the sender's window stops it sending more meanwhile. Records that do not
decode close the link (nothing of that batch is applied).

Full-sync messages travel in the same queue, in order, and are handled by
the same task (:mod:`bolt.cluster._fullsync_receive`): staged, merged and
persisted before any later batch is applied.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

import trio

from bolt import limits
from bolt.cluster._fullsync_receive import FULL_SYNC_MESSAGES, Staging, receive_full_sync
from bolt.cluster._handshake import ROLE_ANSWER, ROLE_DIAL, check_proof, proof
from bolt.cluster._peer_state import PeerState
from bolt.cluster._stream import PeerStream, sole_failure
from bolt.cluster._tasks import TASK_LINK, serve_task_link
from bolt.errors import (
    BoltConnectionError,
    BoltError,
    ClockSkewError,
    CorruptionError,
    FormatVersionError,
    FullSyncError,
    PeerAuthenticationError,
    PeerProtocolError,
    ProtocolError,
)
from bolt.events import Event, decode_record
from bolt.wire import (
    PEER_PROTOCOL_VERSION,
    Ack,
    Batch,
    Heartbeat,
    PeerChallenge,
    PeerHello,
    PeerProof,
    PeerReady,
    PeerRefusal,
    Publish,
)

if TYPE_CHECKING:
    from bolt.cluster._service import ClusterService

logger = logging.getLogger("bolt.cluster")


class Refused(Exception):
    """The handshake failed; ``error`` is what the other end is told."""

    def __init__(self, error: BoltError) -> None:
        super().__init__(str(error))
        self.error = error


async def answer(service: ClusterService, stream: PeerStream) -> None:
    """Serve one connection to the cluster port until it ends."""
    try:
        with trio.fail_after(limits.peer_handshake_timeout_ms / 1000):
            peer = await handshake(service, stream)
    except Refused as refused:
        service.refused_connections += 1
        logger.warning("refused peer connection from %s: %s", stream.address, refused.error)
        await stream.refuse(refused.error.code, refused.error.name, refused.error.message)
        return
    except ProtocolError as exc:
        service.refused_connections += 1
        logger.warning("refused peer connection from %s: %s", stream.address, exc)
        await stream.refuse(PeerProtocolError.code, PeerProtocolError.name, str(exc))
        return
    except trio.TooSlowError:
        service.refused_connections += 1
        logger.warning("refused peer connection from %s: no handshake in time", stream.address)
        await stream.aclose()
        return
    except BoltConnectionError:
        await stream.aclose()
        return
    if stream.purpose == TASK_LINK:
        await serve_task_link(service, stream)  # forwarded task commands, not replication
        return
    with service.inbound_slot(peer) as scope:
        if scope.cancel_called:
            return
        try:
            try:
                await _serve(service, stream, peer)
            except BaseExceptionGroup as group:
                raise sole_failure(group) from None
        except FullSyncError as exc:
            logger.warning("full sync from peer %s failed: %s", peer.node_id, exc)
        except (BoltConnectionError, ProtocolError) as exc:
            logger.info("link from peer %s ended: %s", peer.node_id, exc)
            if isinstance(exc, ProtocolError):
                await stream.refuse(PeerProtocolError.code, PeerProtocolError.name, str(exc))
        finally:
            await stream.aclose()


async def handshake(service: ClusterService, stream: PeerStream) -> PeerState:
    """Check the dialing node (see the module docstring); return its record.

    Raises:
        Refused: wrong version, id or proof (nothing is applied).
        ProtocolError: garbage or an unexpected message.
    """
    own = service.node_id
    hello = await stream.receive()
    if type(hello) is not PeerHello:
        raise Refused(PeerProtocolError(f"expected a peer hello, got {type(hello).__name__}"))
    if hello.version != PEER_PROTOCOL_VERSION:
        raise Refused(
            PeerProtocolError(
                f"node {hello.node_id!r} speaks cluster protocol {hello.version}; "
                f"this node speaks {PEER_PROTOCOL_VERSION}"
            )
        )
    if hello.expected_id != own:
        raise Refused(PeerAuthenticationError(f"this is node {own!r}, not {hello.expected_id!r}"))
    peer = service.peers.get(hello.node_id)
    if peer is None:
        raise Refused(
            PeerAuthenticationError(
                f"node {hello.node_id!r} is not in this node's BOLT_CLUSTER_PEERS"
            )
        )
    secret = service.settings.secret
    nonce = secrets.token_bytes(limits.peer_nonce_bytes)
    mine = proof(secret, ROLE_ANSWER, hello.nonce, nonce, hello.node_id, own)
    await stream.send(PeerChallenge(PEER_PROTOCOL_VERSION, own, nonce, mine))
    answer_message = await stream.receive()
    if type(answer_message) is not PeerProof:
        raise Refused(PeerProtocolError(f"expected a proof, got {type(answer_message).__name__}"))
    if not check_proof(
        answer_message.proof, secret, ROLE_DIAL, hello.nonce, nonce, hello.node_id, own
    ):
        raise Refused(
            PeerAuthenticationError(
                f"node {hello.node_id!r} failed the challenge: BOLT_CLUSTER_SECRET differs"
            )
        )
    await stream.send(PeerReady(service.handshake_status()))
    stream.codec.authenticated()
    stream.peer = peer
    stream.purpose = str(answer_message.status.get("purpose", ""))
    service.learned(peer, answer_message.status)
    return peer


async def _serve(service: ClusterService, stream: PeerStream, peer: PeerState) -> None:
    send_batches, receive_batches = trio.open_memory_channel[Any](
        limits.peer_batches_in_flight_max * 2
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_apply_batches, service, stream, peer, receive_batches)
        nursery.start_soon(_send_heartbeats, service, stream)
        async with send_batches:
            last_end: int | None = None  # the last offset of the previous batch here
            while True:
                message = await stream.receive_live()
                peer.heard(trio.current_time())
                if type(message) is Batch:
                    if last_end is not None and message.first_offset > last_end + 1:
                        # An acknowledgement covers every offset up to it: a
                        # hole would be acknowledged unseen. Drop the link; the
                        # sender resumes from what was acknowledged.
                        raise PeerProtocolError(
                            f"batch {message.first_offset}..{message.last_offset} from"
                            f" {peer.node_id} leaves a hole after {last_end}"
                        )
                    last_end = max(last_end or -1, message.last_offset)
                    peer.batches_received += 1
                    await send_batches.send(message)
                elif type(message) in FULL_SYNC_MESSAGES:
                    last_end = None  # the log resumes after the offset the sync covers
                    await send_batches.send(message)
                elif type(message) is Heartbeat:
                    peer.clock_offset_ms = service.engine.clock.offset_ms(message.hlc)
                    peer.remote_last_offset = message.last_offset
                    service.heard_stability(peer, message.stability)
                elif type(message) is Publish:
                    service.published_by(peer, message)
                elif type(message) is PeerRefusal:
                    raise BoltConnectionError(f"peer closed: {message.name}: {message.message}")
                else:
                    raise PeerProtocolError(f"unexpected {type(message).__name__} from a peer")


async def _send_heartbeats(service: ClusterService, stream: PeerStream) -> None:
    engine = service.engine
    while True:
        await stream.send(
            Heartbeat(service.now_hlc(), engine.last_offset, -1, service.stability_report())
        )
        await trio.sleep(limits.peer_heartbeat_interval_ms / 1000)


def decode_batch(batch: Batch) -> list[Event]:
    """Every event of a batch, in order.

    Raises:
        PeerProtocolError: a record does not decode (nothing is applied).
    """
    events: list[Event] = []
    for record in batch.records:
        try:
            events.extend(decode_record(record))
        except (CorruptionError, FormatVersionError) as exc:
            raise PeerProtocolError(
                f"batch {batch.first_offset}..{batch.last_offset} holds a bad record: {exc}"
            ) from exc
    return events


async def _apply_batches(
    service: ClusterService,
    stream: PeerStream,
    peer: PeerState,
    batches: trio.MemoryReceiveChannel[Any],
) -> None:
    engine = service.engine
    staging: Staging | None = None
    async with batches:
        async for batch in batches:
            if type(batch) is not Batch:
                staging = await receive_full_sync(service, stream, peer, staging, batch)
                continue
            events = decode_batch(batch)
            while True:
                try:
                    offset = engine.ingest(events)
                    break
                except ClockSkewError as exc:
                    if not peer.clock_skew:
                        logger.warning(
                            "holding %d events from peer %s: %s", len(events), peer.node_id, exc
                        )
                        peer.refused_events += len(events)
                    peer.clock_skew = True
                    peer.held_events = len(events)
                    await trio.sleep(limits.peer_clock_skew_retry_ms / 1000)
            if peer.clock_skew:
                logger.info("applied %d held events from peer %s", len(events), peer.node_id)
                peer.clock_skew = False
                peer.held_events = 0
            await engine.wait_durable(offset)
            peer.events_received += len(events)
            await stream.send(Ack(batch.last_offset))
