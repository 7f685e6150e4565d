"""Server pushes: a connection's outbox, its one sender task, and key watches.

Theory of operation
-------------------
A connection that never subscribes sends its replies itself, from the
connection loop (the hot path stays as it was). The first ``WATCH`` gives
the session an :class:`Outbox` and starts its **one sender task**; from then
on replies and pushes are both put in the outbox and only the sender writes
to the socket, so a push never lands inside a reply frame and their order
is the order they were put. The outbox is bounded the same way replies are:
the connection loop waits while it holds more than
``limits.reply_flush_bytes`` (and so stops reading the connection), a
watcher waits while it holds more than ``limits.push_outbox_bytes_max``, and
the session watcher closes a connection whose sender has not finished a send
for ``BOLT_OUTPUT_STALL_MS``.

**Watches** (``WATCH pattern [database]``): the session subscribes to the
engine's change feed with ``limits.watch_records_max`` records of room. For
each committed record with events on matching keys of that database the
watcher waits until the record is durable (a watcher never sees a change a
crash could take back), then pushes ``("keys", {"offset", "changes"})``,
one entry per matching event, in log order. A watcher that falls behind --
its client does not read, so the outbox stays full and the feed queue fills
-- is dropped by the feed, which never waits for it: writers are not slowed.
The client then gets ``("keys.dropped", {"resume_offset", "reason"})`` and
the watch ends; it may read the log from ``resume_offset`` and watch again.
User events are never pushed.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import trio

from bolt import limits
from bolt.errors import BoltError, FeedDroppedError
from bolt.events import UserDeleted, UserPut
from bolt.node import Change, FeedSubscription
from bolt.wire import encode_push

if TYPE_CHECKING:
    from collections.abc import Callable

    from bolt.node import Engine
    from bolt.server._session import Session

logger = logging.getLogger("bolt.server")

TOPIC_KEYS = "keys"
"""Topic of a key-watch push: ``{"offset": int, "changes": [change, ...]}``."""
TOPIC_KEYS_DROPPED = "keys.dropped"
"""Topic of the last push of a dropped watch: ``{"resume_offset", "reason"}``."""
_HIDDEN_FIELDS = frozenset({"db", "key"})
_NEVER_PUSHED = (UserPut, UserDeleted)
_DROP_CHECK_SECONDS = 0.05  # a watcher waiting for outbox room looks for a drop this often


class Outbox:
    """Bytes waiting for the connection's one sender task (see the module docstring)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.bytes = 0
        self.broken = False
        self._chunks: list[bytes] = []
        self._data = trio.lowlevel.ParkingLot()
        self._space = trio.lowlevel.ParkingLot()
        self.scope = trio.CancelScope()
        self.done = trio.Event()

    def put(self, data: bytes) -> None:
        """Queue ``data`` after everything queued before (never waits)."""
        self._chunks.append(data)
        self.bytes += len(data)
        self._data.unpark_all()

    async def wait_below(self, bound: int) -> None:
        """Wait until at most ``bound`` bytes are queued.

        Raises:
            trio.BrokenResourceError: the connection broke; nothing more is sent.
        """
        while self.bytes > bound:
            if self.broken:
                raise trio.BrokenResourceError("the connection is closed")
            await self._space.park()
        if self.broken:
            raise trio.BrokenResourceError("the connection is closed")

    async def run(self, stream: trio.abc.Stream) -> None:
        """The sender task: write queued bytes in order until cancelled or broken."""
        session = self.session
        with self.scope:
            try:
                while True:
                    while not self._chunks:
                        await self._data.park()
                    chunks, self._chunks = self._chunks, []
                    session.sending_since = time.perf_counter()
                    await stream.send_all(chunks[0] if len(chunks) == 1 else b"".join(chunks))
                    session.sending_since = 0.0
                    self.bytes -= sum(map(len, chunks))
                    self._space.unpark_all()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            finally:
                session.sending_since = 0.0
                self.broken = True
                self._space.unpark_all()
                self.done.set()

    async def close(self) -> None:
        """Stop the sender (what it had not sent is dropped) and wait for it."""
        self.scope.cancel()
        await self.done.wait()


def change_matcher(pattern: str, database: str) -> Callable[[Any], bool]:
    """Whether an event is a data change of a key matching ``pattern`` in ``database``."""
    from bolt.state import compile_glob

    matches = compile_glob(pattern)

    def matcher(event: Any) -> bool:
        return event.db == database and not isinstance(event, _NEVER_PUSHED) and matches(event.key)

    return matcher


def describe_event(event: Any) -> dict[str, Any]:
    """The push entry of one event: its kind, database, key and fields."""
    entry: dict[str, Any] = {
        "event": type(event).__name__,
        "database": event.db or None,
        "key": event.key,
    }
    for name, value in event._asdict().items():
        if name not in _HIDDEN_FIELDS:
            entry[name] = value
    return entry


def change_push(change: Change, matcher: Callable[[Any], bool]) -> bytes | None:
    """The ``keys`` push for the matching events of ``change``, or None."""
    entries = [describe_event(event) for event in change.events if matcher(event)]
    if not entries:
        return None
    return encode_push(TOPIC_KEYS, {"offset": change.offset, "changes": entries})


async def watch(
    engine: Engine,
    session: Session,
    outbox: Outbox,
    subscription: FeedSubscription,
    matcher: Callable[[Any], bool],
) -> None:
    """Push the matching committed changes until cancelled or dropped."""
    with subscription:
        try:
            while True:
                change = await subscription.receive()
                push = change_push(change, matcher)
                if push is None:
                    continue
                await engine.wait_durable(change.offset)
                await _room_for_pushes(outbox, subscription)
                outbox.put(push)
        except FeedDroppedError as exc:
            _dropped(session, outbox, exc.resume_offset, exc.message)
        except BoltError as exc:  # the log failed: the change may not be durable
            _dropped(session, outbox, subscription.start_offset, exc.message)
        except trio.BrokenResourceError:
            pass  # the connection is gone


async def _room_for_pushes(outbox: Outbox, subscription: FeedSubscription) -> None:
    """Wait until the outbox has room for pushes, noticing a drop meanwhile.

    Raises:
        FeedDroppedError: the feed dropped the subscription while we waited
            (its queue is freed already; the client is told at once).
        trio.BrokenResourceError: the connection broke.
    """
    while outbox.bytes > limits.push_outbox_bytes_max:
        if subscription.dropped:
            await subscription.receive()  # raises FeedDroppedError (nothing is queued)
        with trio.move_on_after(_DROP_CHECK_SECONDS):
            await outbox.wait_below(limits.push_outbox_bytes_max)
    if outbox.broken:
        raise trio.BrokenResourceError("the connection is closed")


def _dropped(session: Session, outbox: Outbox, resume_offset: int, reason: str) -> None:
    logger.info("dropping the key watch of %s: %s", session.address, reason)
    outbox.put(encode_push(TOPIC_KEYS_DROPPED, {"resume_offset": resume_offset, "reason": reason}))
