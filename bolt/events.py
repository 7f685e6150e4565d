"""Events: the typed, immutable facts every mutation is made of.

Theory of operation
-------------------
Every event carries its **dot** (``origin``, ``seq``), its ``hlc``, the
database (namespace) ``db`` and the ``key``. The payload is a *fact*, never an
intent: ``CounterSet`` holds the resulting value, ``ListPopped`` the position
of the element removed, ``SetRemoved`` the tags it observed. Replaying a fact
gives the same state every time and on every node.

Events are named in the past tense and are ``NamedTuple`` s: immutable, cheap
to build on the hot path, and encoded by msgpack as plain arrays.

A **record** in the log is one command's events, encoded together::

    [FORMAT_VERSION, [[kind, origin, seq, hlc, db, key, *payload], ...]]

so a multi-key command (MSET, MDEL) is atomic: a torn record drops all of it.
A record from a newer ``FORMAT_VERSION``, or an unknown event kind, raises
:class:`~bolt.errors.FormatVersionError` instead of being misread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, NoReturn

import msgpack

from bolt.errors import CorruptionError, FormatVersionError

FORMAT_VERSION = 1

Value = str | bytes


class KeyPut(NamedTuple):
    """A string value was written (PUT, SETEX, MSET); ``expires_at_ms`` 0 = never."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    value: Value
    expires_at_ms: int


class KeyDeleted(NamedTuple):
    """A key was deleted (DEL, MDEL, eviction, or replaced by another type).

    ``counter_base`` holds the CRDT-counter totals the delete observed
    (origin → [P, N]), so increments it saw stay deleted and concurrent ones
    survive. ``cause`` is "" for a client delete, "evicted" for eviction.
    """

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    counter_base: dict[str, Any]
    cause: str


class CounterSet(NamedTuple):
    """A plain counter took the value ``value`` (INCR and friends log the result)."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    value: int
    expires_at_ms: int


class CrdtCounterChanged(NamedTuple):
    """``origin``'s PN-counter totals for the key are now ``positive``/``negative``."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    positive: int
    negative: int


class ListPushed(NamedTuple):
    """Values were pushed; ``left`` is LPUSH. Positions derive from the dot."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    left: bool
    values: tuple[Value, ...]


class ListPopped(NamedTuple):
    """The elements at ``positions`` were removed (LPOP/RPOP log what they took)."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    positions: tuple[tuple[int, str, int], ...]


class SetAdded(NamedTuple):
    """Members were added, each tagged ``(hlc, origin)``."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    members: tuple[Value, ...]


class SetRemoved(NamedTuple):
    """Members were removed: ``removed`` is ``((member, (tag, ...)), ...)``."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    removed: tuple[tuple[Value, tuple[tuple[int, str], ...]], ...]


class UserPut(NamedTuple):
    """A user was created or changed (``key`` is the user name)."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    password_hash: str
    role: str


class UserDeleted(NamedTuple):
    """A user was removed (``key`` is the user name)."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str


# --- tasks (bolt.agents): ``key`` is the task id -----------------------------


class TaskCreated(NamedTuple):
    """A task was created, pending; ``data`` is its msgpack-encoded input."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    task_type: str
    data: bytes
    priority: int
    max_attempts: int
    run_at_ms: int
    parents: tuple[str, ...]
    at_ms: int


class TaskClaimed(NamedTuple):
    """``agent_id`` holds the task's attempt ``attempt`` until ``lease_expires_at_ms``."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    agent_id: str
    attempt: int
    lease_expires_at_ms: int
    at_ms: int


class TaskLeaseRenewed(NamedTuple):
    """The holder of ``attempt`` extended its lease to ``lease_expires_at_ms``."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    attempt: int
    lease_expires_at_ms: int
    at_ms: int


class TaskCompleted(NamedTuple):
    """Attempt ``attempt`` completed with ``result`` (msgpack-encoded)."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    attempt: int
    result: bytes
    at_ms: int


class TaskFailed(NamedTuple):
    """Attempt ``attempt`` failed with ``error`` (a retry or dead letter may follow)."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    attempt: int
    error: str
    at_ms: int


class TaskRetried(NamedTuple):
    """The task is pending again as attempt ``attempt``; it dies after ``attempt_limit``."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    attempt: int
    attempt_limit: int
    reason: str
    at_ms: int


class TaskDeadLettered(NamedTuple):
    """The task ran out of attempts: it is ``dead`` until retried by hand."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    attempt: int
    reason: str
    at_ms: int


class TaskCancelled(NamedTuple):
    """The task was cancelled (it will not be handed out again)."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    reason: str
    at_ms: int


class TaskAttemptCancelled(NamedTuple):
    """The task was cancelled during attempt ``attempt`` (what nodes write now:
    the attempt orders it against concurrent transitions, see bolt.state._tasks)."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    attempt: int
    reason: str
    at_ms: int


class TaskRemoved(NamedTuple):
    """A finished task (as of attempt ``attempt``) was removed after its retention."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    attempt: int
    at_ms: int


# --- hashes (bolt.crdt.ORMap) ------------------------------------------------


class HashFieldsSet(NamedTuple):
    """Fields were written: ``fields`` is ``((field, value, (observed tag, ...)), ...)``.

    Each field's new tag is ``(hlc, origin)``; the observed tags are the ones
    this write supersedes (HSET, HINCRBY log the resulting value).
    """

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    fields: tuple[tuple[Value, Value, tuple[tuple[int, str], ...]], ...]


class HashFieldsDeleted(NamedTuple):
    """Fields were deleted: ``removed`` is ``((field, (observed tag, ...)), ...)``."""

    origin: str
    seq: int
    hlc: int
    db: str
    key: str
    removed: tuple[tuple[Value, tuple[tuple[int, str], ...]], ...]


Event = (
    KeyPut
    | KeyDeleted
    | CounterSet
    | CrdtCounterChanged
    | ListPushed
    | ListPopped
    | SetAdded
    | SetRemoved
    | UserPut
    | UserDeleted
    | TaskCreated
    | TaskClaimed
    | TaskLeaseRenewed
    | TaskCompleted
    | TaskFailed
    | TaskRetried
    | TaskDeadLettered
    | TaskCancelled
    | TaskAttemptCancelled
    | TaskRemoved
    | HashFieldsSet
    | HashFieldsDeleted
)

# Stable wire kinds: never renumber, only append.
EVENT_KINDS: dict[type, int] = {
    KeyPut: 1,
    KeyDeleted: 2,
    CounterSet: 3,
    CrdtCounterChanged: 4,
    ListPushed: 5,
    ListPopped: 6,
    SetAdded: 7,
    SetRemoved: 8,
    UserPut: 9,
    UserDeleted: 10,
    TaskCreated: 20,
    TaskClaimed: 21,
    TaskLeaseRenewed: 22,
    TaskCompleted: 23,
    TaskFailed: 24,
    TaskRetried: 25,
    TaskDeadLettered: 26,
    TaskCancelled: 27,
    TaskAttemptCancelled: 28,
    TaskRemoved: 29,
    HashFieldsSet: 40,
    HashFieldsDeleted: 41,
}
EVENT_CLASSES: dict[int, type] = {kind: cls for cls, kind in EVENT_KINDS.items()}
EVENT_NAMES: dict[str, type] = {cls.__name__: cls for cls in EVENT_KINDS}

_ARITY: dict[type, int] = {cls: 1 + len(cls._fields) for cls in EVENT_KINDS}  # type: ignore[attr-defined]
_packer = msgpack.Packer(use_bin_type=True)
_unpackb = msgpack.unpackb
_tuple_new = tuple.__new__


def encode_record(events: Sequence[Event]) -> bytes:
    """Encode one command's events as a record payload."""
    kinds = EVENT_KINDS
    if len(events) == 1:  # most commands: no intermediate list
        event = events[0]
        return _packer.pack((FORMAT_VERSION, ((kinds[type(event)], *event),)))
    return _packer.pack((FORMAT_VERSION, [(kinds[type(e)], *e) for e in events]))


def decode_record(payload: bytes) -> list[Event]:
    """Decode a record payload into events.

    Raises:
        FormatVersionError: the record is from a newer format or holds an
            unknown event kind.
        CorruptionError: the payload is not a record at all.
    """
    try:
        record = _unpackb(payload, raw=False, use_list=False, strict_map_key=False)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise CorruptionError(f"undecodable record: {exc}") from exc
    # Fast path for a well-formed record; anything unusual takes the strict
    # checks below, which say precisely what is wrong.
    if type(record) is tuple and len(record) == 2 and record[0] == FORMAT_VERSION:
        raw_events = record[1]
        if type(raw_events) is tuple:
            events: list[Event] = []
            classes = EVENT_CLASSES
            arity = _ARITY
            for raw in raw_events:
                cls = (
                    classes.get(raw[0])
                    if type(raw) is tuple and raw and type(raw[0]) is int
                    else None
                )
                if cls is None or len(raw) != arity[cls]:
                    break
                events.append(_tuple_new(cls, raw[1:]))
            else:
                return events
    _raise_malformed(record)


def _raise_malformed(record: Any) -> NoReturn:
    """Raise the precise error for a record the fast path refused."""
    if type(record) is not tuple or len(record) != 2:
        raise CorruptionError("a record must be [format_version, events]")
    version, raw_events = record
    if type(version) is not int or version < 1:
        raise CorruptionError(f"invalid record format version {version!r}")
    if version > FORMAT_VERSION:
        raise FormatVersionError(
            f"record format {version} is newer than this Bolt reads ({FORMAT_VERSION})"
        )
    if type(raw_events) is not tuple:
        raise CorruptionError("a record's events must be a list")
    for raw in raw_events:
        if type(raw) is not tuple or not raw:
            raise CorruptionError("an event must be a non-empty list")
        if type(raw[0]) is not int:  # a damaged kind may even be unhashable (a map)
            raise CorruptionError(f"an event kind must be an integer, not {raw[0]!r}")
        cls = EVENT_CLASSES.get(raw[0])
        if cls is None:
            raise FormatVersionError(f"unknown event kind {raw[0]!r} (newer Bolt?)")
        if len(raw) != _ARITY[cls]:
            raise CorruptionError(
                f"{cls.__name__} has {len(raw) - 1} fields, expected {_ARITY[cls] - 1}"
            )
    raise CorruptionError("malformed record")


def json_friendly(value: Any) -> Any:
    """A JSON-friendly copy of a stored value: tuples become lists, dict keys
    strings, and ``bytes`` become ``{"bytes": "<hex>"}`` (the one rule every
    JSON output of Bolt follows)."""
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, tuple | list):
        return [json_friendly(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_friendly(v) for k, v in value.items()}
    return value


def event_to_dict(event: Event) -> dict[str, Any]:
    """A JSON-friendly dict of an event (see :func:`json_friendly`)."""
    out: dict[str, Any] = {"type": type(event).__name__}
    for name, value in zip(event._fields, event, strict=True):
        out[name] = json_friendly(value)
    return out
