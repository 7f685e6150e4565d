"""A peer connection: a trio stream driven through the sans-IO peer codec.

The only I/O glue of the peer role: ``receive`` reads until the codec has a
whole message, ``send`` frames one and writes it. Bytes are counted on the
peer's record. A closed stream or a broken codec ends the connection with
:class:`~bolt.errors.BoltConnectionError` or
:class:`~bolt.errors.ProtocolError`; the caller logs and drops it.
"""

from __future__ import annotations

import trio

from bolt import limits
from bolt.cluster._peer_state import PeerState
from bolt.errors import BoltConnectionError
from bolt.wire import PeerCodec, PeerMessage, PeerRefusal, encode_peer

_RECEIVE_BYTES = 256 * 1024


def sole_failure(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real error of a link's nursery (its tasks fail together).

    A link runs a few tasks in one nursery; when the connection breaks, one
    fails and the rest are cancelled, and trio reports that as a group.
    Cancellations are left out; if nothing else is left, the group itself.
    """
    pending: list[BaseException] = [group]
    while pending:
        item = pending.pop(0)
        if isinstance(item, BaseExceptionGroup):
            pending.extend(item.exceptions)
        elif not isinstance(item, trio.Cancelled):
            return item
    return group


class PeerStream:
    """One cluster-port connection (either side).

    Args:
        stream: the connected (and, with TLS, handshaken) stream.
        address: ``host:port`` of the other end, for logs.
    """

    def __init__(self, stream: trio.abc.Stream, address: str) -> None:
        self.stream = stream
        self.address = address
        self.codec = PeerCodec()
        self.peer: PeerState | None = None
        self.purpose = ""  # "tasks": a task link (bolt.cluster._tasks), else replication
        self._send_lock = trio.Lock()
        self.bytes_in = 0
        self.bytes_out = 0

    async def receive(self) -> PeerMessage:
        """The next message from the other end.

        Raises:
            ProtocolError: garbage, an oversized frame or a non-peer message.
            BoltConnectionError: the other end closed the connection.
        """
        codec = self.codec
        while True:
            message = codec.next_peer_message()
            if message is not None:
                return message
            try:
                data = await self.stream.receive_some(_RECEIVE_BYTES)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise BoltConnectionError(f"connection to {self.address} broke: {exc}") from exc
            if not data:
                raise BoltConnectionError(f"{self.address} closed the connection")
            self.bytes_in += len(data)
            if self.peer is not None:
                self.peer.bytes_in += len(data)
            codec.receive_data(data)

    async def receive_live(self) -> PeerMessage:
        """:meth:`receive`, but a peer silent for ``peer_dead_after_ms`` is gone.

        Both sides send heartbeats, so silence that long means the path is
        broken (a one-way partition keeps the TCP connection open): the link
        is closed and redialed.

        Raises:
            BoltConnectionError: silence, or as :meth:`receive`.
            ProtocolError: as :meth:`receive`.
        """
        seconds = limits.peer_dead_after_ms / 1000
        with trio.move_on_after(seconds):
            return await self.receive()
        raise BoltConnectionError(f"{self.address} was silent for {seconds:g}s")

    async def send(self, message: PeerMessage) -> None:
        """Frame and write one message (writers take turns).

        Raises:
            BoltConnectionError: the connection broke.
        """
        data = encode_peer(message)
        async with self._send_lock:
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise BoltConnectionError(f"connection to {self.address} broke: {exc}") from exc
        self.bytes_out += len(data)
        if self.peer is not None:
            self.peer.bytes_out += len(data)

    async def refuse(self, code: int, name: str, message: str) -> None:
        """Tell the other end why, then close (never raises)."""
        with trio.move_on_after(1):
            try:
                await self.send(PeerRefusal(code, name, message))
            except BoltConnectionError:
                pass
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection (never raises)."""
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            try:
                await self.stream.aclose()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
