"""Recovery: newest snapshot + replay of the log after it.

Theory of operation
-------------------
Each shard's snapshot says which log offset it covers (a shard of the
layout that was never written covers nothing: -1). Recovery loads every
shard, then replays the log from the smallest covered offset + 1; if the
log no longer reaches back that far, it refuses to start rather than come
up without the missing records. For each
event it finds the shard the event's key belongs to *in the snapshot's
sharding* (``crc32(name) % snapshot_shard_count``, so a changed
``BOLT_SHARD_COUNT`` is handled) and skips the event if that shard already
covers its offset — recording only its dot. Every other event goes through the
same pure ``apply`` as a live write. Users and tasks are kept with shard 0.

Runs in a worker thread (it is all blocking work) and reports progress
through the ``progress`` callback so the daemon can log it.

A damaged snapshot (:class:`~bolt.errors.SnapshotCorruptionError`: an entry
or a shard's metadata fails its checksum, LMDB reports damage, ``data.mdb``
is truncated) is handled by :func:`open_snapshot`. Every shard of a snapshot
holds history from offset 0, so when the log still starts at offset 0 it
holds everything the snapshot does: the damaged snapshot directory is moved
aside (``snapshot.damaged-N``, kept for inspection), recovery rebuilds from
the log alone and says so at WARNING, and the next snapshot round writes a
fresh snapshot. When the log starts later, what the snapshot held is gone:
recovery stops with a message naming the file, shard and key.
"""

from __future__ import annotations

import gc
import logging
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bolt.crdt import DotSet
from bolt.errors import SnapshotCorruptionError, StorageError
from bolt.events import Event, UserDeleted, UserPut, decode_record
from bolt.log import Log
from bolt.state import TASK_HANDLERS, Keyspace, UserRecord, apply, key_name
from bolt.state.snapshot import LoadedSnapshot, SnapshotStore, decode_entry

logger = logging.getLogger("bolt.recovery")


@dataclass(frozen=True)
class RecoveryStatistics:
    """What recovery did and how long it took."""

    snapshot_keys: int
    snapshot_seconds: float
    replayed_records: int
    replayed_events: int
    skipped_events: int
    replay_seconds: float
    last_offset: int
    max_hlc: int


@contextmanager
def bulk_load() -> Iterator[None]:
    """Pause the cyclic GC while millions of objects are loaded, then freeze them.

    Loading allocates an entry per key and no reference cycles; with the
    collector running, every full collection re-walks everything loaded so
    far (``scripts/bench_engine.py``'s replay of 1M keys went from 106k to 154k
    events/s when this pause was added). Afterwards ``gc.freeze()``
    moves the loaded state to the permanent generation, so later collections
    never walk it again. The previous GC state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def open_snapshot(path: Path, log: Log) -> tuple[SnapshotStore, LoadedSnapshot | None]:
    """Open and load the snapshot in ``path``, falling back to the log when it is damaged.

    Returns:
        The store (a fresh one if the damaged snapshot was moved aside) and
        the loaded snapshot (None when there is none, or it was moved aside).

    Raises:
        bolt.errors.SnapshotCorruptionError: the snapshot is damaged and the log
            no longer starts at offset 0.
        bolt.errors.FormatVersionError: the snapshot is of another format.
    """
    store: SnapshotStore | None = None
    try:
        store = SnapshotStore(path)
        return store, store.load()
    except SnapshotCorruptionError as error:
        if store is not None:
            store.close()
        if log.first_offset > 0:
            raise SnapshotCorruptionError(
                f"{error}; the log starts at offset {log.first_offset}, so it no longer holds "
                "what the snapshot covers: refusing to start with data missing (restore the "
                "data directory from a backup or a peer; `boltctl replay verify "
                f"{path.parent}` lists the damage)",
                error.path,
                error.shard,
                error.key,
            ) from error
        aside = _aside_name(path)
        path.rename(aside)
        logger.warning(
            "%s; the log holds every record from offset 0, so the state is rebuilt from the "
            "log alone (the damaged snapshot is kept in %s; a fresh one is written by the "
            "next snapshot round)",
            error,
            aside,
        )
        return SnapshotStore(path), None


def _aside_name(path: Path) -> Path:
    for number in range(1, 1000):
        candidate = path.with_name(f"{path.name}.damaged-{number}")
        if not candidate.exists():
            return candidate
    raise StorageError(f"too many damaged snapshots next to {path}: remove some")


def load_snapshot(keyspace: Keyspace, snapshot: LoadedSnapshot) -> tuple[dict[int, int], int]:
    """Fill ``keyspace`` from ``snapshot``; return (covered by old shard, max hlc).

    Every shard of the snapshot's layout gets a covered offset: -1 for one
    that was never written (a crash during the first round), so the replay
    starts from the beginning of the log for its keys. The version vector
    is the one of the least-covered shard (empty if one is missing): the
    replay re-adds the dots of everything after it.
    """
    count = snapshot.shard_count or keyspace.shard_count
    shards = snapshot.shards
    covered = {i: shards[i].covered if i in shards else -1 for i in range(count)}
    max_hlc = max((s.hlc for s in shards.values()), default=0)
    # Every event at or below a collection's stable HLC was held when any
    # shard was written: the highest holds for the whole keyspace.
    keyspace.collected_hlc = max((s.collected_hlc for s in shards.values()), default=0)
    lowest = min(range(count), key=covered.__getitem__)
    keyspace.dots = DotSet.from_wire(shards[lowest].dots) if lowest in shards else DotSet()
    first = shards.get(0)
    if first is not None:
        for name, password_hash, role, hlc, origin, deleted in first.users:
            keyspace.users[name] = UserRecord(name, password_hash, role, hlc, origin, deleted)
        keyspace.tasks.load_wire(first.tasks)
        keyspace.memory_used += keyspace.tasks.memory  # tasks count in memory_used
    for shard_snapshot in shards.values():
        for name, data in shard_snapshot.entries:
            entry = decode_entry(data)
            shard = keyspace.shard_of(name)
            keyspace.adopt(shard, name, entry)
    for shard in keyspace.shards:
        shard.offset = covered[lowest]
    return covered, max_hlc


def replay(
    keyspace: Keyspace,
    log: Log,
    snapshot: LoadedSnapshot | None,
    progress: Callable[[int, float], None] | None = None,
    *,
    to_offset: int | None = None,
) -> RecoveryStatistics:
    """Rebuild ``keyspace`` from ``snapshot`` and ``log`` (up to, not including,
    ``to_offset``; None: every written record)."""
    started = time.perf_counter()
    covered: dict[int, int] = {}
    max_hlc = 0
    old_count = 1
    if snapshot is not None and snapshot.shards:
        covered, max_hlc = load_snapshot(keyspace, snapshot)
        old_count = snapshot.shard_count or keyspace.shard_count
    loaded = time.perf_counter()
    start = min(covered.values(), default=-1) + 1
    if start < log.first_offset:
        raise StorageError(
            f"the log starts at offset {log.first_offset} but the snapshot covers only up "
            f"to {start - 1}: records in between are gone (was the snapshot directory "
            "replaced or deleted?); refusing to start with data missing"
        )
    records = events_applied = skipped = 0
    offset = start - 1
    for offset, payload in log.read(start, to_offset):
        records += 1
        events = decode_record(payload)
        applied, max_hlc = replay_record(keyspace, offset, events, covered, old_count, max_hlc)
        events_applied += applied
        skipped += len(events) - applied
        if progress is not None and records % 200_000 == 0:
            progress(records, time.perf_counter() - loaded)
    done = time.perf_counter()
    return RecoveryStatistics(
        snapshot_keys=keyspace.key_count(),
        snapshot_seconds=loaded - started,
        replayed_records=records,
        replayed_events=events_applied,
        skipped_events=skipped,
        replay_seconds=done - loaded,
        last_offset=offset,
        max_hlc=max_hlc,
    )


def replay_record(
    keyspace: Keyspace,
    offset: int,
    events: Sequence[Event],
    covered: dict[int, int],
    old_count: int,
    max_hlc: int,
) -> tuple[int, int]:
    """Apply one record's events the way recovery does.

    An event whose key's snapshot shard already covers ``offset`` only has its
    dot recorded; every other event goes through ``apply``. Used by recovery
    and by ``boltctl replay``, so both rebuild state by the same rule.

    Returns:
        ``(events applied, the largest HLC seen so far)``.
    """
    keyspace.applying_offset = offset
    applied = 0
    for event in events:
        hlc = event.hlc
        max_hlc = max(max_hlc, hlc)
        if covered and offset <= covering_offset(covered, old_count, event):
            keyspace.dots.add((event.origin, event.seq))
            continue
        apply(keyspace, event)
        applied += 1
    return applied, max_hlc


def covering_offset(covered: dict[int, int], old_count: int, event: object) -> int:
    """The covered offset of the snapshot shard that held ``event``'s key."""
    if isinstance(event, UserPut | UserDeleted) or type(event) in TASK_HANDLERS:
        return covered.get(0, -1)  # users and tasks are kept with shard 0
    name = key_name(event.db, event.key)  # type: ignore[attr-defined]
    index = zlib.crc32(name.encode("utf-8", "surrogatepass")) % old_count
    return covered.get(index, -1)
