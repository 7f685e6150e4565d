"""Blocking list pops (BLPOP/BRPOP) over the change feed, for both ports.

Theory of operation
-------------------
A blocked pop is a **waiter** queued, in arrival order, under each
``(db, key)`` it waits on. It registers *before* it looks at the lists, so a
push between the look and the wait is never missed. :func:`run_blocking_service`
follows the engine's change feed and, for each :class:`~bolt.events.ListPushed`
committed (a local push, a replicated one, a RENAME onto the key), wakes the
**oldest** waiter of that key -- one per push, not all of them.

The pop itself is an ordinary ``LPOP``/``RPOP`` through ``engine.submit``,
run by the woken waiter with no await between looking and popping, so an
element goes to exactly one client and is logged and replicated like any
pop. Fairness: a waiter pops from a list only while it is the oldest waiter
of that list (a new BLPOP queues behind the ones already there, and a waiter
woken out of turn wakes the oldest instead). A waiter that leaves (served,
timed out, disconnected, cancelled) wakes the next waiter of every key of its
own that still holds elements, so a wake-up is never lost with it.

A waiter also re-checks its lists every ``limits.blocking_pop_slice_ms`` (a
missed wake-up costs latency, never an element) and watches its connection:
a client that disconnects while blocked is noticed at once (a ``MSG_PEEK``
read on its socket returns end-of-file) and its waiter removed before it
could take an element.

Timeouts are Redis's on the RESP port (seconds, 0 = forever) and at most
``limits.blocking_pop_wait_ms_max`` per request on the Bolt port (clients
repeat the request to wait longer, as for ``TASK.WAIT``).
"""

from __future__ import annotations

import logging
import math
import socket
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import trio

from bolt import limits
from bolt.errors import BadRequestError, BoltError, FeedDroppedError
from bolt.events import ListPushed
from bolt.server._auth import LEVELS
from bolt.state import checks as check
from bolt.state import validate_database

if TYPE_CHECKING:
    from bolt.node import Change, Engine
    from bolt.server._session import Session

logger = logging.getLogger("bolt.server.blocking")

ListKey = tuple[str, str]  # (db, key)


class _Waiter:
    """One blocked pop: the keys it waits on and the event that wakes it."""

    __slots__ = ("event", "keys")

    def __init__(self, keys: Sequence[ListKey]) -> None:
        self.keys = keys
        self.event = trio.Event()


class ListWaiters:
    """Blocked pops by ``(db, key)``, oldest first (see the module docstring)."""

    def __init__(self) -> None:
        self._queues: dict[ListKey, dict[_Waiter, None]] = {}

    def committed(self, change: Change) -> None:
        """Wake the oldest waiter of every list a committed record pushed to."""
        for event in change.events:
            if type(event) is ListPushed:
                self.wake_one((event.db, event.key))

    def wake_one(self, key: ListKey) -> None:
        """Wake the oldest waiter of ``key`` not woken yet."""
        for waiter in self._queues.get(key, ()):
            if not waiter.event.is_set():
                waiter.event.set()
                return

    def wake_everyone(self) -> None:
        """Wake every waiter to look again (after the feed dropped the service)."""
        for queue in self._queues.values():
            for waiter in queue:
                waiter.event.set()

    def first_on(self, key: ListKey, waiter: _Waiter) -> bool:
        """True if no waiter queued on ``key`` before ``waiter``."""
        queue = self._queues.get(key)
        return not queue or next(iter(queue)) is waiter

    @contextmanager
    def waiter(self, keys: Sequence[ListKey]) -> Iterator[_Waiter]:
        """Queue a waiter on ``keys`` for the duration of the block."""
        waiter = _Waiter(keys)
        for key in keys:
            self._queues.setdefault(key, {})[waiter] = None
        try:
            yield waiter
        finally:
            for key in keys:
                queue = self._queues.get(key)
                if queue is not None:
                    queue.pop(waiter, None)
                    if not queue:
                        del self._queues[key]

    def count(self) -> int:
        """How many pops are blocked now."""
        return len({w for queue in self._queues.values() for w in queue})


_WAITERS: weakref.WeakKeyDictionary[Engine, ListWaiters] = weakref.WeakKeyDictionary()


def waiters_of(engine: Engine) -> ListWaiters:
    """The engine's :class:`ListWaiters` (made on first use)."""
    waiters = _WAITERS.get(engine)
    if waiters is None:
        waiters = _WAITERS[engine] = ListWaiters()
    return waiters


def _raw_socket(stream: Any) -> Any:
    """The trio socket under a (possibly TLS) stream, or None."""
    while stream is not None and not hasattr(stream, "socket"):
        stream = getattr(stream, "transport_stream", None)
    return None if stream is None else stream.socket


async def _watch_disconnect(stream: Any, gone: trio.Event, scope: trio.CancelScope) -> None:
    """Set ``gone`` and cancel ``scope`` if the client closes its connection.

    Peeks without consuming, so a command the client pipelined behind the
    blocked one stays for the connection loop to read.
    """
    sock = _raw_socket(stream)
    if sock is None:
        return
    try:
        data = await sock.recv(1, socket.MSG_PEEK)
    except OSError:
        data = b""
    if not data:
        gone.set()
        scope.cancel()


def _non_empty(engine: Engine, key: ListKey) -> bool:
    try:
        return bool(engine.submit("LLEN", [key[1]], key[0])[0])
    except BoltError:  # not a list, or not a valid key: nothing to hand on
        return False


def _try_pop(
    engine: Engine, waiters: ListWaiters, waiter: _Waiter, left: bool
) -> tuple[Any, int] | None:
    """Pop from the first of the waiter's non-empty lists where it is first in line.

    A non-empty list where an older waiter is ahead is left to that waiter,
    which is woken in case it is not awake yet.
    """
    command = "LPOP" if left else "RPOP"
    for key in waiter.keys:
        if not waiters.first_on(key, waiter):
            if _non_empty(engine, key):
                waiters.wake_one(key)
            continue
        value, offset = engine.submit(command, [key[1]], key[0])
        if value is not None:
            return [key[1], value], offset
    return None


async def blocking_pop(
    server: Any,
    session: Session,
    keys: Sequence[str],
    db: str,
    left: bool,
    timeout_seconds: float,
) -> tuple[Any, int]:
    """Pop from the first non-empty of ``keys``, waiting up to ``timeout_seconds``.

    ``timeout_seconds`` may be ``math.inf``. ``server`` is anything with
    ``engine`` and ``closing`` (the Bolt server, or the RESP listener's).

    Returns:
        ``([key, element], offset)``, or ``(None, -1)`` once the time is up,
        the server closes or the client disconnects.

    Raises:
        WrongTypeError: a key holds something other than a list (as Redis,
            checked when the pop is tried).
    """
    engine: Engine = server.engine
    waiters = waiters_of(engine)
    deadline = trio.current_time() + timeout_seconds
    slice_seconds = limits.blocking_pop_slice_ms / 1000
    gone = trio.Event()
    list_keys = [(db, key) for key in dict.fromkeys(keys)]
    with waiters.waiter(list_keys) as waiter:
        try:
            refused: BoltError | None = None
            result = None
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_watch_disconnect, session.stream, gone, nursery.cancel_scope)
                try:
                    result = await _wait_and_pop(
                        server, waiters, waiter, left, deadline, slice_seconds, gone
                    )
                except BoltError as error:  # raised as itself, not in an exception group
                    refused = error
                nursery.cancel_scope.cancel()
            if refused is not None:
                raise refused
        finally:
            for key in list_keys:  # hand on a wake-up this waiter may have taken
                if _non_empty(engine, key):
                    waiters.wake_one(key)
    return (None, -1) if result is None or gone.is_set() else result


async def _wait_and_pop(
    server: Any,
    waiters: ListWaiters,
    waiter: _Waiter,
    left: bool,
    deadline: float,
    slice_seconds: float,
    gone: trio.Event,
) -> tuple[Any, int] | None:
    engine = server.engine
    while True:
        if not gone.is_set():
            popped = _try_pop(engine, waiters, waiter, left)
            if popped is not None:
                return popped
        if server.closing or gone.is_set() or trio.current_time() >= deadline:
            return None
        waiter.event = trio.Event()
        with trio.move_on_at(min(deadline, trio.current_time() + slice_seconds)):
            await waiter.event.wait()


async def run_blocking_service(server: Any) -> None:
    """Wake blocked pops from the change feed until the server closes."""
    engine: Engine = server.engine
    waiters = waiters_of(engine)
    slice_seconds = limits.blocking_service_check_ms / 1000
    while not server.closing:
        with engine.feed.subscribe(limits.blocking_feed_records_max, name="blocked pops") as feed:
            try:
                while not server.closing:
                    with trio.move_on_after(slice_seconds):
                        waiters.committed(await feed.receive())
                        for change in feed.receive_nowait():
                            waiters.committed(change)
            except FeedDroppedError:
                waiters.wake_everyone()


def bolt_pop_args(command: str, args: list[Any]) -> tuple[list[str], float]:
    """``[key, ..., timeout_ms]`` of the Bolt-port command → keys and seconds.

    Raises:
        BadRequestError: no key, or a timeout that is not a non-negative integer.
    """
    if type(args) is not list or len(args) < 2:
        raise BadRequestError(f"'{command}' takes one or more keys and a timeout in ms")
    timeout_ms = args[-1]
    if type(timeout_ms) is not int or timeout_ms < 0:
        raise BadRequestError("timeout_ms must be a non-negative integer")
    keys = [check.key(k) for k in args[:-1]]
    check.batch(command, keys)
    cap = limits.blocking_pop_wait_ms_max
    return keys, (cap if timeout_ms == 0 else min(timeout_ms, cap)) / 1000


def _bolt_command(left: bool) -> Any:
    name = "BLPOP" if left else "BRPOP"

    async def handler(server: Any, session: Session, args: list[Any]) -> tuple[Any, int]:
        if type(args) is not list or len(args) < 3:
            raise BadRequestError(f"'{name}' takes [key, ..., timeout_ms, db]")
        db = validate_database(args[-1])
        keys, seconds = bolt_pop_args(name, args[:-1])
        return await blocking_pop(server, session, keys, db, left, seconds)

    handler.__doc__ = (
        f"``{name} [key, ..., timeout_ms, db]`` → ``[key, element]`` or None after the timeout."
    )
    return handler


BLOCKING_SERVER_COMMANDS: dict[str, tuple[Any, bool, int]] = {
    "BLPOP": (_bolt_command(True), True, LEVELS["readwrite"]),
    "BRPOP": (_bolt_command(False), True, LEVELS["readwrite"]),
}
"""``(handler, is_async, required level)``, added to ``SERVER_COMMANDS``."""

INFINITE = math.inf
"""The timeout of a RESP ``BLPOP key 0``."""
