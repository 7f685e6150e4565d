"""``replay history``: every event that touched one key, and the value after each.

Theory of operation
-------------------
A key's state depends only on the events of that key (``apply`` of an event
touches one key; duplicate detection is per event dot). So the history is
built by streaming the whole log once and applying **only** the key's events,
in log order, into an otherwise empty :class:`~bolt.state.Keyspace` with the
real ``apply``; after each one the key is read back through the real command
handlers. Memory stays tiny however long the log is.

When the log was trimmed (its oldest segments are covered by the snapshot),
the key's entry is taken from the snapshot first and shown as the starting
value; events that the snapshot already holds are listed as such, exactly as
recovery skips them. The retained log's records before the snapshot's lowest
covered offset are still read, only to count the key's events there
(:attr:`KeyHistory.covered`): they are in the starting value, and a history
that shows none of them must say so rather than look empty.

Each entry says what the event did to what a reader sees: ``changed``,
``no change`` (e.g. a write that lost last-writer-wins to a newer one),
``duplicate`` (a dot already applied) or ``in snapshot``. Expiry is judged at
the newest event time seen so far, so "the value after it" is what a client
would have read right after the event.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bolt.crdt import hlc_ms
from bolt.errors import HistoryUnavailableError
from bolt.events import Event, UserDeleted, UserPut
from bolt.node import covering_offset, load_snapshot
from bolt.state import Keyspace, apply, key_name
from bolt.state.snapshot import LoadedSnapshot, ShardSnapshot

from ._source import Damage, DataDir, Progress, RecordStream
from ._state import KeyView, SnapshotUse, check_log_joins, read_key

_USER_EVENTS = (UserPut, UserDeleted)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One event that touched the key, and what a reader saw right after it."""

    offset: int
    index: int
    event: Event
    after: KeyView | None
    effect: str


class KeyHistory:
    """The history of ``key`` in ``db`` (iterate it once; see the module docstring).

    After iteration :attr:`damage` says where corruption stopped it, and
    :attr:`count` how many events touched the key.

    Raises:
        HistoryUnavailableError: the log was trimmed and there is no snapshot.
        bolt.errors.FormatVersionError: data from a newer Bolt (while iterating).
    """

    def __init__(
        self, data_dir: DataDir, db: str, key: str, progress: Progress | None = None
    ) -> None:
        self.data_dir = data_dir
        self.db = db
        self.key = key
        self.name = key_name(db, key)
        self.count = 0
        self.covered = 0
        """Events of the key before :attr:`start_offset`, held by the snapshot."""
        first = data_dir.first_offset()
        self.first_offset = first
        self.keyspace = Keyspace(1, track_lru=False, keep_tombstones=True)
        self._covered: dict[int, int] = {}
        self._old_count = 1
        self.snapshot: SnapshotUse | None = None
        self.initial: KeyView | None = None
        self._moment = 0
        start = first
        if first > 0:
            snapshot = data_dir.load_snapshot()
            if snapshot is None:
                raise HistoryUnavailableError(
                    f"the log in {data_dir.log_dir} starts at offset {first} (older segments "
                    "were removed) and there is no snapshot to start from"
                )
            start = self._load(snapshot, first)
        self.start_offset = start
        """The first offset whose events are applied (earlier ones are in the snapshot)."""
        self._stream = RecordStream(data_dir, first, None, progress, strict=first > 0)

    def _load(self, snapshot: LoadedSnapshot, first: int) -> int:
        """Start from the snapshot's entry for the key; return the offset to read from."""
        only_key = LoadedSnapshot(
            snapshot.node_id,
            snapshot.shard_count,
            {
                index: ShardSnapshot(
                    index,
                    shard.covered,
                    shard.dots,
                    shard.hlc,
                    [],
                    [(name, data) for name, data in shard.entries if name == self.name],
                )
                for index, shard in snapshot.shards.items()
            },
        )
        self._covered, max_hlc = load_snapshot(self.keyspace, only_key)
        self._old_count = snapshot.shard_count or 1
        self._moment = hlc_ms(max_hlc)
        self.initial = read_key(self.keyspace, self.db, self.key, self._moment)
        low, high = min(self._covered.values()), max(self._covered.values())
        check_log_joins(low, first)
        self.snapshot = SnapshotUse(snapshot.node_id, snapshot.shard_count, low, high, max_hlc)
        return max(first, low + 1)

    @property
    def damage(self) -> Damage | None:
        """Where corruption ended the history (None: the log ended cleanly)."""
        return self._stream.damage

    def __iter__(self) -> Iterator[HistoryEntry]:
        db, key = self.db, self.key
        keyspace = self.keyspace
        covered = self._covered
        before = self.initial
        start = self.start_offset
        for offset, events in self._stream:
            for index, event in enumerate(events):
                if event.key != key or event.db != db or isinstance(event, _USER_EVENTS):
                    continue
                if offset < start:
                    self.covered += 1
                    continue
                self.count += 1
                self._moment = max(self._moment, hlc_ms(event.hlc))
                keyspace.applying_offset = offset
                if covered and offset <= covering_offset(covered, self._old_count, event):
                    keyspace.dots.add((event.origin, event.seq))
                    effect = "in snapshot"
                elif not apply(keyspace, event):
                    effect = "duplicate"
                else:
                    effect = ""
                after = read_key(keyspace, db, key, self._moment)
                if not effect:
                    effect = "changed" if after != before else "no change"
                before = after
                yield HistoryEntry(offset, index, event, after, effect)


def history(data_dir: DataDir, db: str, key: str, progress: Progress | None = None) -> KeyHistory:
    """The history of ``key`` in ``db`` (see :class:`KeyHistory`)."""
    return KeyHistory(data_dir, db, key, progress)
