"""The shared parts of command handlers: the spec, the stamper, reading the views.

Theory of operation
-------------------
A handler reads the keyspace, checks every argument and the type of what the
key holds, and only then takes stamps (``seq``, ``hlc``) and builds events —
so a refused request writes nothing and leaves no gap in the node's seq.
It returns ``(reply, events)``; reads return ``events = None``. The engine
logs the events as one record and applies them with the pure ``apply``.

Handlers are pure given their arguments: the time (``now_ms``) and the stamp
source come in from the engine. They are grouped by type (``_strings``,
``_counters``, ``_lists``, ``_sets``); ``_commands`` builds the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bolt.errors import WrongTypeError
from bolt.events import (
    Event,
    KeyDeleted,
)
from bolt.state._entry import (
    COUNTER,
    CRDT_COUNTER,
    TOMBSTONE,
    TYPE_NAMES,
    Entry,
)
from bolt.state._keyspace import Keyspace, key_name

new_tuple = tuple.__new__


class Stamper(Protocol):
    """Where stamps come from: the engine's node id, seq counter and HLC."""

    origin: str

    def stamp(self) -> tuple[int, int]:
        """Return a fresh ``(seq, hlc)`` for one event."""
        ...


Reply = tuple[Any, list[Event] | None]
Handler = Callable[[Keyspace, Stamper, str, list[Any], int], Reply]


@dataclass(frozen=True)
class CommandSpec:
    """How a command is run and who may run it."""

    name: str
    handler: Handler
    access: str  # "read" or "write"
    grows_memory: bool = False  # refused with OUT_OF_MEMORY under noeviction
    metric_type: str = "other"  # label of bolt_operations_total


def visible(ks: Keyspace, db: str, key: str, now_ms: int) -> tuple[Entry | None, int]:
    name = key_name(db, key)
    shard = ks.shard_of(name)
    entry = shard.entries.get(name)
    if entry is None:
        return None, TOMBSTONE
    if ks.track_lru:
        ks.touch(shard, name, entry)
    return entry, entry.visible_kind(now_ms)


def expect(kind: int, *allowed: int) -> None:
    if kind != TOMBSTONE and kind not in allowed:
        raise WrongTypeError(
            f"operation against a key holding the wrong kind of value ({TYPE_NAMES[kind]})"
        )


def delete_event(ctx: Stamper, entry: Entry | None, db: str, key: str, cause: str = "") -> Event:
    """The ``KeyDeleted`` of ``key`` as this node sees it now.

    If the key holds a CRDT counter, the event carries the per-node totals
    the delete observed: increments concurrent with it survive, the ones it
    saw stay deleted (on every node, in any order).
    """
    observed: dict[str, Any] = {}
    if entry is not None and entry.bodies and CRDT_COUNTER in entry.bodies:
        observed = {o: list(pn) for o, pn in entry.bodies[CRDT_COUNTER].observed().items()}
    seq, hlc = ctx.stamp()
    return KeyDeleted(ctx.origin, seq, hlc, db, key, observed, cause)


def counter_reset(entry: Entry | None, ctx: Stamper, db: str, key: str) -> list[Event]:
    """A delete that observes the CRDT counter's totals, before a type change."""
    if entry is None or not entry.bodies or CRDT_COUNTER not in entry.bodies:
        return []
    return [delete_event(ctx, entry, db, key)]


def string_value(entry: Entry, kind: int) -> Any:
    return str(entry.value) if kind == COUNTER else entry.value


SLOW = object()
"""What a fast path returns when the request must take the general path."""


def take_stamps(ctx: Stamper, count: int) -> tuple[int, int]:
    """The first ``(seq, hlc)`` of ``count`` stamps for one batch of events.

    Event ``i`` of the batch takes ``(seq + i, hlc + i)``. A stamper with a
    ``stamps(count)`` method (the engine) reserves them with one clock read;
    any other is asked ``count`` times, which issues readings at least as far
    apart, so ``hlc + i`` is never above what its clock has issued.
    """
    many = getattr(ctx, "stamps", None)
    if many is not None:
        return many(count)
    seq, hlc = ctx.stamp()
    for _ in range(count - 1):
        ctx.stamp()
    return seq, hlc
