"""One key's state: a composition of the CRDTs of DESIGN §4.

Theory of operation
-------------------
A key holds two kinds of history:

* its **reset**: the newest whole-value write, ordered by ``(hlc, origin)``
  (last writer wins): a string (PUT/SETEX/MSET), a plain counter (INCR logs
  the result), or a tombstone (DEL). ``hlc == 0`` means "never written".
* its **bodies**: element-wise containers created by element operations — a
  list :class:`~bolt.crdt.Sequence`, an :class:`~bolt.crdt.ORSet`, a
  :class:`~bolt.crdt.PNCounter`. A reset at HLC ``h`` prunes every element at
  or below ``h`` (writes older than a delete are ignored; newer ones
  resurrect the key). Counters use the observed base instead (see PNCounter).

What a reader sees is the candidate with the newest HLC among the reset (if it
is a value) and each body that still has live content. Sequential use never
has more than one candidate; concurrent writes of different types on two
nodes resolve the same way everywhere.

Sizes are an honest estimate of the bytes a key costs in this process
(object headers, dict slots, the key and value themselves), kept up to date
on every path that changes the entry.
"""

from __future__ import annotations

import sys
from typing import Any

from bolt import limits
from bolt.crdt import ORMap, ORSet, PNCounter, Sequence

TOMBSTONE = 0
STRING = 1
COUNTER = 2
LIST = 3
SET = 4
CRDT_COUNTER = 5
HASH = 6

TYPE_NAMES = {
    STRING: "string",
    COUNTER: "counter",
    LIST: "list",
    SET: "set",
    CRDT_COUNTER: "crdt_counter",
    HASH: "hash",
}

_STR_HEADER = sys.getsizeof("")
_BYTES_HEADER = sys.getsizeof(b"")
ENTRY_BYTES = limits.entry_overhead_bytes
ELEMENT_BYTES = limits.element_overhead_bytes


def value_bytes(value: Any) -> int:
    """Estimated memory of one stored str/bytes/int value."""
    if isinstance(value, str):
        return _STR_HEADER + len(value)
    if isinstance(value, bytes):
        return _BYTES_HEADER + len(value)
    return 32


def name_bytes(name: str) -> int:
    """Estimated memory of an entry holding nothing yet, under ``name``."""
    return ENTRY_BYTES + _STR_HEADER + len(name)


class Entry:
    """The state of one key (see the module docstring)."""

    __slots__ = ("access", "bodies", "expires_at", "hlc", "kind", "origin", "size", "value")

    def __init__(self) -> None:
        self.hlc = 0
        self.origin = ""
        self.kind = TOMBSTONE
        self.value: Any = None
        self.expires_at = 0
        self.bodies: dict[int, Any] | None = None
        self.size = 0
        self.access = 0

    def body(self, kind: int) -> Any:
        """The container of ``kind``, created empty if missing."""
        bodies = self.bodies
        if bodies is None:
            bodies = self.bodies = {}
        container = bodies.get(kind)
        if container is None:
            container = bodies[kind] = _NEW_BODY[kind]()
        return container

    def visible_kind(self, now_ms: int) -> int:
        """The type a reader sees now, or TOMBSTONE if the key is absent."""
        bodies = self.bodies
        if not bodies:
            kind = self.kind
            if kind != TOMBSTONE and self.expires_at and self.expires_at <= now_ms:
                return TOMBSTONE
            return kind
        # Candidates compare by (hlc, rank, kind): the newest wins; on an equal
        # HLC a container beats the reset and the higher kind number wins, so
        # the answer never depends on the order the events arrived in.
        best_kind = TOMBSTONE
        best = (-1, -1, -1)
        if self.kind != TOMBSTONE and not (self.expires_at and self.expires_at <= now_ms):
            best_kind, best = self.kind, (self.hlc, 0, self.kind)
        live = [(k, b) for k, b in bodies.items() if _body_live(k, b)]
        if len(live) == 1 and best_kind == TOMBSTONE:
            return live[0][0]
        for kind, body in live:
            stamp = (body.newest_live_hlc(), 1, kind)
            if stamp > best:
                best_kind, best = kind, stamp
        return best_kind

    def prune(self, floor_hlc: int) -> None:
        """A reset at ``floor_hlc``: drop container elements at or below it."""
        bodies = self.bodies
        if not bodies:
            return
        for kind in list(bodies):
            body = bodies[kind]
            if kind != CRDT_COUNTER:
                body.prune(floor_hlc)
            if not _body_live(kind, body) and not _body_pending(kind, body):
                del bodies[kind]
        if not bodies:
            self.bodies = None

    def drop_empty_bodies(self) -> None:
        """Forget containers with nothing live or pending (emptied list/set)."""
        bodies = self.bodies
        if bodies:
            for kind in [k for k, b in bodies.items() if not _body_live(k, b)]:
                if not _body_pending(kind, bodies[kind]):
                    del bodies[kind]
            if not bodies:
                self.bodies = None

    def is_dead(self) -> bool:
        """True if the entry holds nothing but a tombstone (or nothing at all)."""
        return self.kind == TOMBSTONE and not self.bodies

    def estimate_size(self, name: str) -> int:
        """Recompute the estimated bytes of this entry (used after big changes)."""
        size = name_bytes(name)
        if self.kind != TOMBSTONE:
            size += value_bytes(self.value)
        if self.bodies:
            for kind, body in self.bodies.items():
                size += _body_bytes(kind, body)
        return size


def _body_live(kind: int, body: Any) -> bool:
    if kind == CRDT_COUNTER:
        return bool(body.live())
    return len(body) > 0


def _body_pending(kind: int, body: Any) -> bool:
    if kind == CRDT_COUNTER:
        return bool(body.nodes or body.base)
    return bool(body.pending_removals)


def element_bytes(value: Any) -> int:
    """Estimated memory of one list element or set member."""
    return ELEMENT_BYTES + value_bytes(value)


def _body_bytes(kind: int, body: Any) -> int:
    if kind == LIST:
        return sum(element_bytes(v) for v in body) + ELEMENT_BYTES * len(body.pending_removals)
    if kind == SET:
        return sum(element_bytes(m) for m in body) + ELEMENT_BYTES * len(body.pending_removals)
    if kind == HASH:
        return hash_bytes(body)
    return ELEMENT_BYTES * (len(body.nodes) + len(body.base))


def field_bytes(field: Any, value: Any) -> int:
    """Estimated memory of one hash field and its value."""
    return ELEMENT_BYTES + value_bytes(field) + value_bytes(value)


def hash_bytes(body: ORMap) -> int:
    """Estimated memory of a hash body: its fields, values and tombstones."""
    return sum(field_bytes(f, v) for f, v in body.items()) + ELEMENT_BYTES * len(
        body.pending_removals
    )


_NEW_BODY: dict[int, Any] = {LIST: Sequence, SET: ORSet, CRDT_COUNTER: PNCounter, HASH: ORMap}
