"""The change feed: every committed record, announced to bounded subscribers.

Theory of operation
-------------------
After the engine appends a record to the log and applies its events, it
calls :meth:`ChangeFeed.publish` with the record's offset and events. Each
subscriber has a queue of at most ``capacity`` records; publishing appends
to every queue and wakes the subscribers parked in :meth:`receive`. That is
all a writer ever pays: no await, no copy beyond one tuple per record, and
nothing at all while there are no subscribers.

A subscriber that lets its queue fill is **dropped**, never waited for: its
queue is emptied (the memory goes back at once) and its next ``receive``
raises :class:`~bolt.errors.FeedDroppedError` whose ``resume_offset`` is the
first offset it did not get. It resumes by reading the log from there
(:meth:`bolt.node.Engine.read_changes`) and subscribing again, or by using
:meth:`bolt.node.Engine.follow`, which does exactly that.

A record is announced when it is appended and applied, which in ``batch``
and ``always`` mode is before it is durable: a consumer that must not act on
a record that a crash could lose (a peer acknowledging, a task waiter telling
a client) awaits ``engine.wait_durable(change.offset)`` first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import NamedTuple

import trio

from bolt import limits
from bolt.errors import BadRequestError, FeedDroppedError
from bolt.events import Event


class Change(NamedTuple):
    """One committed record: its log offset and its events, in order.

    ``payload`` is the record's encoded bytes as written to the log (empty
    when the engine has no log), so a shipper that forwards the whole record
    sends them as they are instead of encoding the events again.
    """

    offset: int
    events: tuple[Event, ...]
    payload: bytes = b""


@dataclass(frozen=True)
class FeedStatistics:
    """A snapshot of the feed's counters."""

    subscribers: int
    published_total: int
    dropped_total: int


class FeedSubscription:
    """One subscriber's bounded queue (see the module docstring).

    Use it as a context manager, or call :meth:`close` when done.
    """

    __slots__ = ("_feed", "_lot", "_queue", "_resume", "capacity", "name", "start_offset")

    def __init__(self, feed: ChangeFeed, capacity: int, start_offset: int, name: str) -> None:
        self._feed = feed
        self._queue: deque[Change] = deque()
        self._lot = trio.lowlevel.ParkingLot()
        self._resume = -1  # >= 0 once dropped: the first offset not delivered
        self.capacity = capacity
        self.start_offset = start_offset
        """The first offset this subscription delivers (everything before it is in the log)."""
        self.name = name

    @property
    def dropped(self) -> bool:
        """True once the feed dropped this subscriber."""
        return self._resume >= 0

    def pending(self) -> int:
        """Records queued and not yet received."""
        return len(self._queue)

    def _push(self, change: Change) -> None:
        queue = self._queue
        if len(queue) >= self.capacity:
            self._resume = queue[0].offset if queue else change.offset
            queue.clear()
            self._feed._drop(self, dropped=True)
        else:
            queue.append(change)
        if self._lot:
            self._lot.unpark_all()

    async def receive(self) -> Change:
        """The next committed record, waiting for one if none is queued.

        Raises:
            FeedDroppedError: this subscriber fell ``capacity`` records behind;
                ``resume_offset`` is where to resume reading the log.
        """
        queue = self._queue
        while True:
            while not queue:
                if self._resume >= 0:
                    raise FeedDroppedError(
                        f"change-feed subscriber {self.name or '?'} fell {self.capacity} records "
                        f"behind and was dropped; resume from offset {self._resume}",
                        self._resume,
                    )
                await self._lot.park()
            await trio.lowlevel.checkpoint()
            # A drop during the checkpoint empties the queue: look again (it raises).
            if queue:
                return queue.popleft()

    def receive_nowait(self) -> list[Change]:
        """Every queued record, without waiting (empty if none).

        Raises:
            FeedDroppedError: as :meth:`receive`.
        """
        if not self._queue and self._resume >= 0:
            raise FeedDroppedError(
                f"change-feed subscriber {self.name or '?'} was dropped", self._resume
            )
        changes = list(self._queue)
        self._queue.clear()
        return changes

    def close(self) -> None:
        """Stop receiving; wakes a task parked in :meth:`receive` (it then raises)."""
        self._feed._drop(self, dropped=False)
        if self._resume < 0:
            self._resume = self._queue[0].offset if self._queue else self._feed.next_offset()
        self._queue.clear()
        if self._lot:
            self._lot.unpark_all()

    def __enter__(self) -> FeedSubscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class ChangeFeed:
    """Announces committed records to subscribers (see the module docstring).

    Args:
        next_offset: returns the offset the next record will get (the
            engine's ``last_offset + 1``), the start of a new subscription.
    """

    def __init__(self, next_offset: Callable[[], int]) -> None:
        self._next_offset = next_offset
        self.subscribers: list[FeedSubscription] = []
        self.published_total = 0
        self.dropped_total = 0

    def next_offset(self) -> int:
        """The offset the next published record will carry."""
        return self._next_offset()

    def subscribe(
        self, capacity: int = limits.feed_subscriber_records_max, *, name: str = ""
    ) -> FeedSubscription:
        """A new subscriber that receives every record committed from now on.

        Args:
            capacity: records it may hold unread before it is dropped.
            name: shown in the drop message and logs.

        Raises:
            BadRequestError: ``capacity`` is not a positive integer.
        """
        if type(capacity) is not int or capacity < 1:
            raise BadRequestError(f"a feed capacity must be a positive integer, not {capacity!r}")
        subscription = FeedSubscription(self, capacity, self.next_offset(), name)
        self.subscribers.append(subscription)
        return subscription

    def publish(self, offset: int, events: Sequence[Event], payload: bytes = b"") -> None:
        """Announce the record at ``offset`` (the engine calls this after apply)."""
        self.published_total += 1
        change = Change(offset, tuple(events), payload)
        for subscription in tuple(self.subscribers):
            subscription._push(change)

    def _drop(self, subscription: FeedSubscription, *, dropped: bool) -> None:
        try:
            self.subscribers.remove(subscription)
        except ValueError:
            return
        if dropped:
            self.dropped_total += 1

    def statistics(self) -> FeedStatistics:
        """The feed's counters."""
        return FeedStatistics(len(self.subscribers), self.published_total, self.dropped_total)


def drop_from(feed: ChangeFeed, offset: int) -> None:
    """Drop every subscriber, telling each to resume from ``offset`` at the latest.

    For a rollback (a failed log append, :mod:`bolt.node._durability`): the
    records from ``offset`` on were announced but are no longer in the log, so
    nothing queued from there may be delivered and a reader that received one
    must read the log again from ``offset``.
    """
    for subscription in tuple(feed.subscribers):
        queue = subscription._queue
        first = queue[0].offset if queue else offset
        subscription._resume = min(first, offset)
        queue.clear()
        feed._drop(subscription, dropped=True)
        if subscription._lot:
            subscription._lot.unpark_all()
