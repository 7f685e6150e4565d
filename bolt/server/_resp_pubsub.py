"""Redis pub/sub on the RESP port: PUBLISH, SUBSCRIBE, PSUBSCRIBE, and unsubscribing.

Theory of operation
-------------------
Messages are **not persisted**: ``PUBLISH`` hands a message to the
subscribers connected to this node right now and returns how many got it,
as a single Redis does; nothing is logged. In a cluster it is also handed,
without waiting, to every peer with a live link
(:meth:`bolt.cluster.ClusterService.publish`, peer message kind 24), which
gives it to its own subscribers: delivery is cluster-wide and at most once
(a peer cut off at that moment misses it; a full link outbox drops it,
counted), in publish order per publishing node, and the count returned is
this node's subscribers only, as in Redis Cluster.

A session that subscribes gets an **outbox** (a bounded trio channel of
``limits.client_push_queue_max`` chunks) and one sender task that writes the
outbox to its socket; from then on every byte for that session -- its own
replies and the messages published to it -- goes through the outbox, so
they never interleave. ``PUBLISH`` never waits: a subscriber whose outbox is
full is disconnected (Redis's ``client-output-buffer-limit pubsub`` does the
same), so one slow reader never slows publishers or other subscribers.

While subscribed, a RESP2 session may only (un)subscribe, ``PING`` and
``QUIT``, as in Redis; RESP3 sessions may run any command.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import trio

from bolt import limits
from bolt.server._auth import LEVELS
from bolt.server._resp_commands import RespCommand
from bolt.state import compile_glob
from bolt.wire import encode_reply

if TYPE_CHECKING:
    from bolt.server._resp_server import RespListener, RespSession

logger = logging.getLogger("bolt.server.resp")

Result = tuple[bytes, int]
ALLOWED_WHILE_SUBSCRIBED = frozenset(
    {b"SUBSCRIBE", b"PSUBSCRIBE", b"UNSUBSCRIBE", b"PUNSUBSCRIBE", b"PING", b"QUIT"}
)
"""What a RESP2 session may run while it is subscribed (Redis's rule)."""


def _push(protocol: int, items: list[Any]) -> bytes:
    """A push message: ``>n`` in RESP3, an array in RESP2."""
    body = encode_reply(items, protocol)
    return b">" + body[1:] if protocol == 3 else body


class PubSub:
    """The node's channels and patterns and who listens to them."""

    def __init__(self) -> None:
        self.channels: dict[bytes, set[RespSession]] = {}
        self.patterns: dict[bytes, set[RespSession]] = {}
        self._matchers: dict[bytes, Any] = {}
        self.messages_total = 0
        self.dropped_subscribers_total = 0

    def publish(self, channel: bytes, message: bytes) -> int:
        """Deliver to every subscriber of ``channel`` and every matching pattern; the count."""
        delivered = 0
        for session in list(self.channels.get(channel, ())):
            delivered += self._offer(session, [b"message", channel, message])
        for pattern, sessions in list(self.patterns.items()):
            if self._matchers[pattern](channel.decode("utf-8", "surrogateescape")):
                for session in list(sessions):
                    delivered += self._offer(session, [b"pmessage", pattern, channel, message])
        self.messages_total += delivered
        return delivered

    def _offer(self, session: RespSession, items: list[Any]) -> int:
        outbox = session.pubsub_outbox
        if outbox is None:
            return 0
        try:
            outbox.send_nowait(_push(session.protocol, items))
        except trio.WouldBlock:
            logger.info(
                "disconnecting subscriber %s: it does not read its messages", session.address
            )
            self.dropped_subscribers_total += 1
            self.forget(session)
            outbox.close()
            return 0
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return 0
        return 1

    def subscribe(self, session: RespSession, name: bytes, pattern: bool) -> None:
        """Add ``session`` to a channel (or a pattern)."""
        table = self.patterns if pattern else self.channels
        table.setdefault(name, set()).add(session)
        if pattern and name not in self._matchers:
            self._matchers[name] = compile_glob(name.decode("utf-8", "surrogateescape"))
        (session.patterns if pattern else session.channels).add(name)

    def unsubscribe(self, session: RespSession, name: bytes, pattern: bool) -> None:
        """Remove ``session`` from a channel (or a pattern)."""
        table = self.patterns if pattern else self.channels
        members = table.get(name)
        if members is not None:
            members.discard(session)
            if not members:
                del table[name]
                if pattern:
                    self._matchers.pop(name, None)
        (session.patterns if pattern else session.channels).discard(name)

    def forget(self, session: RespSession) -> None:
        """Drop every subscription of ``session`` (it closed, or was too slow)."""
        for name in list(session.channels):
            self.unsubscribe(session, name, False)
        for name in list(session.patterns):
            self.unsubscribe(session, name, True)


async def _sender(session: RespSession, receive: trio.MemoryReceiveChannel[bytes]) -> None:
    """Write a subscribed session's outbox to its socket, in order; close it at the end."""
    stream = session.stream
    try:
        async with receive:
            async for chunk in receive:
                await stream.send_all(chunk)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await trio.aclose_forcefully(stream)


def _open_outbox(listener: RespListener, session: RespSession) -> None:
    if session.pubsub_outbox is not None:
        return
    send, receive = trio.open_memory_channel[bytes](limits.client_push_queue_max)
    session.pubsub_outbox = send
    listener.start_task(_sender, session, receive)


def _subscribe(pattern: bool) -> Any:
    kind = b"psubscribe" if pattern else b"subscribe"

    def handler(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
        _open_outbox(listener, session)
        replies = []
        for name in args[1:]:
            listener.pubsub.subscribe(session, name, pattern)
            count = len(session.channels) + len(session.patterns)
            replies.append(_push(session.protocol, [kind, name, count]))
        return b"".join(replies), -1

    handler.__doc__ = f"``{kind.decode().upper()} name [name ...]``."
    return handler


def _unsubscribe(pattern: bool) -> Any:
    kind = b"punsubscribe" if pattern else b"unsubscribe"

    def handler(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
        mine = session.patterns if pattern else session.channels
        names = args[1:] or sorted(mine)
        if not names:
            count = len(session.channels) + len(session.patterns)
            return _push(session.protocol, [kind, None, count]), -1
        replies = []
        for name in names:
            listener.pubsub.unsubscribe(session, name, pattern)
            count = len(session.channels) + len(session.patterns)
            replies.append(_push(session.protocol, [kind, name, count]))
        return b"".join(replies), -1

    handler.__doc__ = f"``{kind.decode().upper()} [name ...]``."
    return handler


def r_publish(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``PUBLISH channel message`` → how many subscribers of this node got it; in a
    cluster the message also goes to every peer with a live link, for theirs."""
    cluster = listener.server.cluster
    if cluster is not None:
        cluster.publish(args[1], args[2])
    return b":%d\r\n" % listener.pubsub.publish(args[1], args[2]), -1


PUBSUB_COMMANDS: dict[bytes, RespCommand] = {
    b"PUBLISH": RespCommand(
        r_publish, 3, "PUBLISH", flags=("pubsub", "fast"), first_key=0, last_key=0, step=0
    ),
    b"SUBSCRIBE": RespCommand(
        _subscribe(False), -2, "SUBSCRIBE", flags=("pubsub",), first_key=0, last_key=0, step=0
    ),
    b"PSUBSCRIBE": RespCommand(
        _subscribe(True), -2, "PSUBSCRIBE", flags=("pubsub",), first_key=0, last_key=0, step=0
    ),
    b"UNSUBSCRIBE": RespCommand(
        _unsubscribe(False), -1, "UNSUBSCRIBE", flags=("pubsub",), first_key=0, last_key=0, step=0
    ),
    b"PUNSUBSCRIBE": RespCommand(
        _unsubscribe(True), -1, "PUNSUBSCRIBE", flags=("pubsub",), first_key=0, last_key=0, step=0
    ),
}
"""The pub/sub commands of the RESP port."""

PUBSUB_LEVELS: dict[str, int] = {
    "PUBLISH": LEVELS["readwrite"],
    "SUBSCRIBE": LEVELS["readonly"],
    "PSUBSCRIBE": LEVELS["readonly"],
    "UNSUBSCRIBE": LEVELS["readonly"],
    "PUNSUBSCRIBE": LEVELS["readonly"],
}
"""The role level each pub/sub command needs (publishing is a write)."""
