"""Rebuilding the state of a node as of a point in its log.

Theory of operation
-------------------
The state is rebuilt with the engine's own code, never a second
implementation: events go through the pure :func:`bolt.state.apply` into a
:class:`bolt.state.Keyspace`, a snapshot is loaded with the recovery's
:func:`bolt.node._recovery.load_snapshot`, and keys are read back through the
real command handlers (``TYPE``, ``GET``, ``LRANGE``, ``SMEMBERS``, ``CGET``,
``TTL``), so what is printed is what a client would have read.

Where the replay starts:

* the log still holds offset 0: replay from an empty keyspace (the log is the
  truth, the snapshot is not needed);
* the log was trimmed (segments covered by the snapshot were deleted): load
  the snapshot and replay the log after it, skipping per shard what the shard
  already covers — exactly what recovery does. A point older than the
  snapshot can then no longer be rebuilt, and the error says so.

The point (see :mod:`bolt.replay._points`):

* ``offset O``: every record up to and including ``O``; expiry is judged at
  the wall time of the newest event applied (the moment the node wrote ``O``);
* a time ``T``: every event whose HLC is at or before ``T``, in log order;
  expiry is judged at ``T``. An HLC cut is causally consistent, so on a node
  of a cluster it shows what the cluster had made by ``T``;
* none: the whole log, with expiry judged now.

Tombstones are kept (``keep_tombstones=True``, as on a cluster node) so a
late replicated write older than a delete stays deleted, as it did live.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bolt import limits
from bolt.crdt import hlc_ms
from bolt.errors import BadRequestError, HistoryUnavailableError, LogTrimmedError
from bolt.events import json_friendly
from bolt.node import load_snapshot, replay_record
from bolt.state import COMMANDS, Keyspace, compile_glob, key_name, split_name
from bolt.state.snapshot import LoadedSnapshot

from ._points import Point, format_ms
from ._source import Damage, DataDir, Progress, RecordStream

_TRIMMED_ATTEMPTS = 3


class _ReadOnly:
    """The stamp source given to read handlers: reads never take stamps."""

    origin = ""

    def stamp(self) -> tuple[int, int]:
        raise AssertionError("a read handler asked for a stamp")


_READER = _ReadOnly()


def _run(command: str, keyspace: Keyspace, db: str, args: list[Any], now_ms: int) -> Any:
    return COMMANDS[command].handler(keyspace, _READER, db, args, now_ms)[0]


@dataclass(frozen=True, slots=True)
class KeyView:
    """One visible key as a client would read it.

    ``value`` is a str/bytes for a string, an int for a counter or CRDT
    counter, the elements in order for a list, the sorted members for a set
    and a field → value dict (fields sorted) for a hash.
    ``expires_at_ms`` is 0 and ``ttl_seconds`` -1 without an expiry.
    """

    db: str
    key: str
    type: str
    value: Any
    expires_at_ms: int
    ttl_seconds: int

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``state --json`` and the fixtures."""
        return {
            "db": self.db,
            "key": self.key,
            "type": self.type,
            "value": json_friendly(self.value),
            "ttl_seconds": self.ttl_seconds,
            "expires_at_ms": self.expires_at_ms,
        }


def _member_order(member: str | bytes) -> tuple[bool, str | bytes]:
    return isinstance(member, bytes), member


def read_key(keyspace: Keyspace, db: str, key: str, now_ms: int) -> KeyView | None:
    """Read ``key`` of ``db`` through the real command handlers (None if absent)."""
    kind = _run("TYPE", keyspace, db, [key], now_ms)
    if kind is None:
        return None
    value: Any
    if kind in ("string", "counter"):
        value = _run("GET", keyspace, db, [key], now_ms)
        if kind == "counter":
            value = int(value)
    elif kind == "list":
        value = _run("LRANGE", keyspace, db, [key, 0, -1], now_ms)
    elif kind == "set":
        value = sorted(_run("SMEMBERS", keyspace, db, [key], now_ms), key=_member_order)
    elif kind == "hash":
        fields = _run("HGETALL", keyspace, db, [key], now_ms)
        value = dict(sorted(fields.items(), key=lambda item: _member_order(item[0])))
    else:
        value = _run("CGET", keyspace, db, [key], now_ms)
    ttl = _run("TTL", keyspace, db, [key], now_ms)
    expires_at = 0
    if ttl is not None and ttl >= 0:
        entry = keyspace.get(key_name(db, key))
        expires_at = entry.expires_at if entry is not None else 0
    return KeyView(db, key, kind, value, expires_at, -1 if ttl is None else ttl)


def iter_keys(
    keyspace: Keyspace, now_ms: int, *, pattern: str | None = None, db: str | None = None
) -> Iterator[KeyView]:
    """Every visible key, sorted by (db, key), optionally filtered by glob and db."""
    matches = compile_glob(pattern) if pattern else None
    names = sorted(keyspace.live_names(now_ms, db), key=split_name)
    for name in names:
        db_name, key = split_name(name)
        if matches is not None and not matches(key):
            continue
        view = read_key(keyspace, db_name, key, now_ms)
        if view is not None:
            yield view


def live_users(keyspace: Keyspace) -> list[dict[str, str]]:
    """Every live user as ``{"name", "role"}`` (never the password hash), by name."""
    return [
        {"name": user.name, "role": user.role}
        for user in sorted(keyspace.users.values(), key=lambda u: u.name)
        if not user.deleted
    ]


@dataclass(frozen=True, slots=True)
class SnapshotUse:
    """The snapshot a rebuild started from."""

    node_id: str | None
    shard_count: int
    covered_min: int
    covered_max: int
    hlc: int


@dataclass
class RebuiltState:
    """A keyspace rebuilt as of a point, and how it was made."""

    keyspace: Keyspace
    point: Point | None
    first_offset: int
    last_offset: int
    max_hlc: int
    moment_ms: int
    records: int
    events: int
    skipped_events: int
    snapshot: SnapshotUse | None
    damage: Damage | None
    seconds: float

    def describe(self) -> str:
        """One line saying what this state is."""
        where = "the end of the log" if self.point is None else self.point.describe()
        source = "log from offset 0"
        if self.snapshot is not None:
            source = (
                f"snapshot (covers offsets up to {self.snapshot.covered_max}) "
                f"+ log from offset {self.snapshot.covered_min + 1}"
            )
        return (
            f"state at {where}: last offset applied {self.last_offset}, "
            f"expiry judged at {format_ms(self.moment_ms)}; from {source}"
        )


def rebuild(
    data_dir: DataDir,
    at: Point | None = None,
    *,
    prefer_snapshot: bool = False,
    now_ms: Callable[[], int] | None = None,
    progress: Progress | None = None,
) -> RebuiltState:
    """Rebuild the keyspace of ``data_dir`` as of ``at`` (see the module docstring).

    Args:
        data_dir: the opened data directory.
        at: the point; None for the end of the log.
        prefer_snapshot: start from the snapshot whenever it can serve the point,
            even if the log still holds offset 0 (faster on long logs).
        now_ms: the wall clock, for expiry when ``at`` is None.
        progress: called with log bytes consumed.

    Returns:
        The rebuilt state; ``damage`` is set if corruption ended the log early
        (the state then holds everything before it).

    Raises:
        HistoryUnavailableError: the point is older than the oldest retained log
            segment and the snapshot, or the log has a gap after the snapshot.
        LogTrimmedError: a live daemon kept trimming the log faster than it could be read.
        bolt.errors.BadRequestError: an offset past the end of the log, or past damage.
        bolt.errors.FormatVersionError: data from a newer Bolt.
    """
    started = time.perf_counter()
    for attempt in range(_TRIMMED_ATTEMPTS):
        try:
            return _rebuild_once(data_dir, at, prefer_snapshot, now_ms, progress, started)
        except LogTrimmedError:
            # A live daemon's retention removed segments between reading the
            # snapshot and reading the log: a newer snapshot covers them now.
            if attempt + 1 == _TRIMMED_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _rebuild_once(
    data_dir: DataDir,
    at: Point | None,
    prefer_snapshot: bool,
    now_ms: Callable[[], int] | None,
    progress: Progress | None,
    started: float,
) -> RebuiltState:
    first = data_dir.first_offset()
    snapshot = _choose_snapshot(data_dir, at, first, prefer_snapshot)
    shard_count = limits.shard_count_default
    if snapshot is not None and snapshot.shard_count:
        shard_count = snapshot.shard_count
    keyspace = Keyspace(shard_count, track_lru=False, keep_tombstones=True)
    covered: dict[int, int] = {}
    max_hlc = 0
    use: SnapshotUse | None = None
    start = first
    if snapshot is not None:
        covered, max_hlc = load_snapshot(keyspace, snapshot)
        use = SnapshotUse(
            snapshot.node_id,
            snapshot.shard_count,
            min(covered.values()),
            max(covered.values()),
            max_hlc,
        )
        start = max(first, use.covered_min + 1)
    stop = None if at is None or at.offset is None else at.offset + 1
    stream = RecordStream(data_dir, start, stop, progress, strict=True)
    old_count = (snapshot.shard_count or shard_count) if snapshot is not None else 1
    hlc_limit = None if at is None else at.hlc
    last, max_hlc, records, events, skipped = _apply_stream(
        keyspace, stream, covered, old_count, hlc_limit, max_hlc
    )
    if use is not None:
        last = max(last, use.covered_max)
        if progress is not None and at is None:
            progress(data_dir.log_bytes())  # the part the snapshot covered is done too
    if at is not None and at.offset is not None and last < at.offset:
        if stream.damage is not None:
            raise BadRequestError(
                f"the log is damaged before offset {at.offset}: {stream.damage.message}; "
                f"the last offset that can be rebuilt is {stream.damage.offset - 1}"
            )
        raise BadRequestError(
            f"offset {at.offset} is past the end of the log (the last offset is {last})"
        )
    if at is None:
        moment = (now_ms or _wall_clock_ms)()
    elif at.hlc is not None:
        moment = hlc_ms(at.hlc)
    else:
        moment = hlc_ms(max_hlc)
    return RebuiltState(
        keyspace=keyspace,
        point=at,
        first_offset=first,
        last_offset=last,
        max_hlc=max_hlc,
        moment_ms=moment,
        records=records,
        events=events,
        skipped_events=skipped,
        snapshot=use,
        damage=stream.damage,
        seconds=time.perf_counter() - started,
    )


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def check_log_joins(covered_min: int, first: int) -> None:
    """Refuse a snapshot that the retained log does not continue.

    Raises:
        HistoryUnavailableError: records between the snapshot's lowest covered
            offset and the log's first offset are gone.
    """
    if first > 0 and covered_min + 1 < first:
        raise HistoryUnavailableError(
            f"the snapshot covers offsets up to {covered_min} but the log starts at offset "
            f"{first}: records {covered_min + 1} to {first - 1} are missing"
        )


def _choose_snapshot(
    data_dir: DataDir, at: Point | None, first: int, prefer_snapshot: bool
) -> LoadedSnapshot | None:
    """The snapshot to start from, or None to replay the log from offset 0.

    The end of the log (``at`` None) always starts from the snapshot when
    there is one, as recovery does: a full sync's merged state is in the
    snapshot and in no log, so replaying from offset 0 would miss it.
    """
    if first == 0 and not prefer_snapshot and at is not None:
        return None
    snapshot = data_dir.load_snapshot()
    if snapshot is None:
        if first > 0:
            raise HistoryUnavailableError(
                f"the log in {data_dir.log_dir} starts at offset {first} (older segments were "
                "removed) and there is no snapshot to start from"
            )
        return None
    covered = [shard.covered for shard in snapshot.shards.values()]
    if len(snapshot.shards) < snapshot.shard_count:
        covered.append(-1)  # a shard never written covers nothing (as in recovery)
    snapshot_hlc = max(shard.hlc for shard in snapshot.shards.values())
    usable = at is None or (
        (at.offset is None or at.offset >= max(covered))
        and (at.hlc is None or snapshot_hlc <= at.hlc)
    )
    check_log_joins(min(covered), first)
    if usable:
        return snapshot
    if first == 0:
        return None
    assert at is not None
    raise HistoryUnavailableError(
        f"{at.describe()} is older than the oldest retained log segment (first offset "
        f"{first}) and the snapshot (covers offsets up to {max(covered)}, taken at "
        f"{format_ms(hlc_ms(snapshot_hlc))}): the state at that point can no longer be rebuilt"
    )


def _apply_stream(
    keyspace: Keyspace,
    stream: RecordStream,
    covered: dict[int, int],
    old_count: int,
    hlc_limit: int | None,
    max_hlc: int,
) -> tuple[int, int, int, int, int]:
    """Apply every record of ``stream`` as recovery does; returns counters.

    Returns:
        ``(last offset, max hlc, records, events applied, events skipped)``; the last
        offset is that of the last record with an event inside the HLC cut.
    """
    last = stream.from_offset - 1
    records = applied = skipped = 0
    for offset, events in stream:
        records += 1
        if hlc_limit is not None:
            inside = [event for event in events if event.hlc <= hlc_limit]
            skipped += len(events) - len(inside)
            if not inside:
                continue
            events = inside
        done, max_hlc = replay_record(keyspace, offset, events, covered, old_count, max_hlc)
        applied += done
        skipped += len(events) - done
        last = offset
    return last, max_hlc, records, applied, skipped
