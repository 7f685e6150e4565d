"""The dialing side of a peer link: connect, prove, and ship this node's log.

Theory of operation
-------------------
One task per configured peer (:func:`run_link`) dials the peer's cluster
port, redialing forever with jittered exponential back-off
(``peer_reconnect_backoff_initial_ms`` doubling up to ``..._max_ms``, each
delay drawn between half and all of the current step, so a cluster that
restarts together does not redial in lock-step).

After the handshake (:mod:`bolt.cluster._handshake`) the link ships the log
from the offset after the one the peer last acknowledged: first what is
already in the log (read with ``Engine.read_changes``), then live records
from the change feed; a dropped feed subscription (the link fell too far
behind) just resumes from the log. Only **durable** records are shipped
(``wait_durable`` first): a record a crash of this node could still lose
must not survive on a peer, or this node would reuse its seq for a different
event after restart. At most ``peer_batches_in_flight_max`` batches are
unacknowledged at once (flow control); acknowledgements are cumulative.

A peer too far behind, or needing records the log no longer holds, gets a
full sync of the state first (:mod:`bolt.cluster._fullsync_send`); the log
is shipped from the offset the state covers.
"""

from __future__ import annotations

import logging
import random
import secrets
from typing import TYPE_CHECKING

import trio

from bolt import limits
from bolt.cluster._batches import build_batches
from bolt.cluster._fullsync_send import FullSyncWindow, full_sync_reason, send_full_sync
from bolt.cluster._handshake import ROLE_ANSWER, ROLE_DIAL, check_proof, proof
from bolt.cluster._peer_state import PeerState
from bolt.cluster._stream import PeerStream, sole_failure
from bolt.errors import (
    BoltConnectionError,
    FeedDroppedError,
    FullSyncError,
    LogTrimmedError,
    PeerAuthenticationError,
    PeerProtocolError,
    PeerRefusedError,
    ProtocolError,
)
from bolt.node import Change
from bolt.wire import (
    PEER_PROTOCOL_VERSION,
    Ack,
    FullSyncAck,
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

LINK_ERRORS = (
    OSError,
    BoltConnectionError,
    ProtocolError,
    PeerAuthenticationError,
    FullSyncError,
    trio.TooSlowError,
)


def next_backoff_ms(current_ms: int) -> int:
    """The back-off step after a failure at ``current_ms``."""
    return min(limits.peer_reconnect_backoff_max_ms, max(1, current_ms) * 2)


def jittered_seconds(step_ms: int, rng: random.Random) -> float:
    """A delay drawn between half and all of ``step_ms``."""
    return rng.uniform(step_ms / 2, step_ms) / 1000


async def run_link(service: ClusterService, peer: PeerState) -> None:
    """Dial ``peer`` and ship the log to it, reconnecting forever."""
    rng = random.Random()
    step_ms = limits.peer_reconnect_backoff_initial_ms
    failures = 0
    while True:
        stream: PeerStream | None = None
        try:
            stream = await service.dial(peer)
            with trio.fail_after(limits.peer_handshake_timeout_ms / 1000):
                await handshake(service, stream, peer)
            logger.info("link to peer %s (%s) is up", peer.node_id, stream.address)
            step_ms, failures = limits.peer_reconnect_backoff_initial_ms, 0
            peer.link = "connected"
            await ship(service, stream, peer)
        except LINK_ERRORS as exc:
            failures += 1
            level = logging.WARNING if isinstance(exc, PeerAuthenticationError) else logging.INFO
            if failures == 1 or failures % 20 == 0 or level == logging.WARNING:
                logger.log(level, "link to peer %s failed: %s", peer.node_id, _describe(exc))
        finally:
            if stream is not None:
                await stream.aclose()
        peer.link = "disconnected"
        peer.reconnects += 1
        await trio.sleep(jittered_seconds(step_ms, rng))
        step_ms = next_backoff_ms(step_ms)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, trio.TooSlowError):
        return "the handshake timed out"
    return str(exc) or type(exc).__name__


async def handshake(service: ClusterService, stream: PeerStream, peer: PeerState) -> None:
    """Prove who we are to ``peer`` and check its proof (the dialing side).

    Raises:
        PeerAuthenticationError: the peer has another id or a wrong proof.
        PeerProtocolError: another protocol version, or an unexpected message.
        PeerRefusedError: the peer refused us (the message says why).
    """
    own = service.node_id
    nonce = secrets.token_bytes(limits.peer_nonce_bytes)
    await stream.send(PeerHello(PEER_PROTOCOL_VERSION, own, peer.node_id, nonce))
    challenge = await stream.receive()
    _raise_refusal(challenge)
    if type(challenge) is not PeerChallenge:
        raise PeerProtocolError(f"expected a challenge, got {type(challenge).__name__}")
    if challenge.version != PEER_PROTOCOL_VERSION:
        raise PeerProtocolError(
            f"peer speaks cluster protocol {challenge.version}, this node {PEER_PROTOCOL_VERSION}"
        )
    if challenge.node_id != peer.node_id:
        await stream.refuse(
            PeerAuthenticationError.code, PeerAuthenticationError.name, "unexpected node id"
        )
        raise PeerAuthenticationError(
            f"{stream.address} is node {challenge.node_id!r}, not {peer.node_id!r}"
        )
    secret = service.settings.secret
    if not check_proof(
        challenge.proof, secret, ROLE_ANSWER, nonce, challenge.nonce, own, peer.node_id
    ):
        await stream.refuse(
            PeerAuthenticationError.code, PeerAuthenticationError.name, "wrong cluster secret"
        )
        raise PeerAuthenticationError(
            f"peer {peer.node_id} failed the challenge: BOLT_CLUSTER_SECRET differs"
        )
    mine = proof(secret, ROLE_DIAL, nonce, challenge.nonce, own, peer.node_id)
    await stream.send(PeerProof(mine, service.handshake_status()))
    ready = await stream.receive()
    _raise_refusal(ready)
    if type(ready) is not PeerReady:
        raise PeerProtocolError(f"expected ready, got {type(ready).__name__}")
    stream.codec.authenticated()
    stream.peer = peer
    service.learned(peer, ready.status)


def _raise_refusal(message: object) -> None:
    if type(message) is PeerRefusal:
        raise PeerRefusedError(f"refused by the peer: {message.name}: {message.message}")


async def ship(service: ClusterService, stream: PeerStream, peer: PeerState) -> None:
    """Ship the log to ``peer`` until the connection fails (raises then)."""
    window = trio.Semaphore(limits.peer_batches_in_flight_max)
    in_flight: list[int] = []
    syncs = FullSyncWindow()
    try:
        with service.publish_outbox(peer) as publishes:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_read_acks, service, stream, peer, window, in_flight, syncs)
                nursery.start_soon(_send_heartbeats, service, stream, peer)
                nursery.start_soon(_send_publishes, stream, peer, publishes)
                await _ship_log(service, stream, peer, window, in_flight, syncs)
    except BaseExceptionGroup as group:
        raise sole_failure(group) from None
    finally:
        peer.sync_hold = None  # a full sync cut here is restarted by the next link


async def _read_acks(
    service: ClusterService,
    stream: PeerStream,
    peer: PeerState,
    window: trio.Semaphore,
    in_flight: list[int],
    syncs: FullSyncWindow,
) -> None:
    while True:
        message = await stream.receive_live()
        now = trio.current_time()
        peer.heard(now)
        if type(message) is Ack:
            covered = [offset for offset in in_flight if offset <= message.offset]
            del in_flight[: len(covered)]
            for _ in covered:
                window.release()
            peer.acknowledged(message.offset, now, service.engine.last_offset)
            service.ack_changed()
        elif type(message) is Heartbeat:
            peer.clock_offset_ms = service.engine.clock.offset_ms(message.hlc)
            service.heard_stability(peer, message.stability)
        elif type(message) is PeerRefusal:
            raise PeerRefusedError(f"peer closed the link: {message.name}: {message.message}")
        elif type(message) is FullSyncAck:
            syncs.acked(message)
        else:
            raise PeerProtocolError(f"unexpected {type(message).__name__} on a shipping link")


async def _send_heartbeats(service: ClusterService, stream: PeerStream, peer: PeerState) -> None:
    engine = service.engine
    while True:
        await stream.send(
            Heartbeat(
                service.now_hlc(), engine.last_offset, peer.acked_offset, service.stability_report()
            )
        )
        await trio.sleep(limits.peer_heartbeat_interval_ms / 1000)


async def _send_publishes(
    stream: PeerStream, peer: PeerState, publishes: trio.MemoryReceiveChannel[Publish]
) -> None:
    """Send this node's ``PUBLISH`` messages to the peer, in the order made."""
    async for message in publishes:
        await stream.send(message)
        peer.publishes_sent += 1


async def _ship_log(
    service: ClusterService,
    stream: PeerStream,
    peer: PeerState,
    window: trio.Semaphore,
    in_flight: list[int],
    syncs: FullSyncWindow,
) -> None:
    engine = service.engine
    next_offset = peer.acked_offset + 1
    reason = _full_sync_reason(service, peer, next_offset)
    if reason is not None:
        next_offset = await send_full_sync(service, stream, peer, syncs, reason) + 1
    while True:
        with engine.feed.subscribe(limits.feed_subscriber_records_max, name=peer.node_id) as sub:
            start = sub.start_offset
            while next_offset < start:
                await engine.wait_durable(start - 1)
                try:
                    changes = await trio.to_thread.run_sync(
                        engine.read_changes, next_offset, limits.peer_batch_records_max
                    )
                except LogTrimmedError as exc:
                    reason = f"it needs offset {next_offset}, which is not in the log ({exc})"
                    next_offset = await send_full_sync(service, stream, peer, syncs, reason) + 1
                    break
                changes = [change for change in changes if change.offset < start]
                if not changes:
                    break
                next_offset = await _send(service, stream, peer, changes, window, in_flight)
            try:
                while True:
                    changes = [await sub.receive(), *sub.receive_nowait()]
                    changes = [change for change in changes if change.offset >= next_offset]
                    if changes:
                        await engine.wait_durable(changes[-1].offset)
                        next_offset = await _send(service, stream, peer, changes, window, in_flight)
            except FeedDroppedError:
                pass  # fell behind: read the gap from the log, then follow again


def _full_sync_reason(service: ClusterService, peer: PeerState, next_offset: int) -> str | None:
    engine = service.engine
    log = engine._log
    last = engine.last_offset
    return full_sync_reason(
        own_vector=engine.version_vector(),
        remote_vector=peer.remote_vector,
        threshold=service.settings.full_sync_threshold,
        next_offset=next_offset,
        first_offset=log.first_offset if log is not None else last + 1,
        last_offset=last,
        marked=peer.needs_full_sync,
    )


async def _send(
    service: ClusterService,
    stream: PeerStream,
    peer: PeerState,
    changes: list[Change],
    window: trio.Semaphore,
    in_flight: list[int],
) -> int:
    """Send ``changes`` as batches (waiting for window room); the next offset to send."""
    for batch, _events in build_batches(changes, peer.node_id, peer.remote_vector):
        await window.acquire()
        in_flight.append(batch.last_offset)
        if peer.unacked_since is None:
            peer.unacked_since = trio.current_time()
        await stream.send(batch)
        peer.batches_sent += 1
    return changes[-1].offset + 1
