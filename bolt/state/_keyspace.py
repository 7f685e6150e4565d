"""The keyspace: shards of entries, and the indexes kept beside them.

Theory of operation
-------------------
A key lives in database ``db`` (a namespace; ``""`` is the default). Its
internal **name** is the key itself in the default database, and
``db + "\\0" + key`` otherwise (database names may not contain NUL; a default
database key that does is stored as ``"\\0" + key``), so the common case
allocates nothing. The shard is ``crc32(name) % shard_count`` — stable across
processes, unlike ``hash()``, because snapshots are written per shard.

Beside the entries the keyspace keeps, all updated by the pure ``apply``:

* ``memory_used``: the sum of every entry's estimated size, per shard too;
* an expiry heap of ``(expires_at_ms, name)``, checked lazily: stale items
  (overwritten or deleted keys) are skipped when they come due;
* LRU order (each shard's entries are an ``OrderedDict``, most recent last,
  plus an access counter to compare shard heads) when the policy needs it,
  and a pool for truly random eviction;
* the :class:`~bolt.crdt.DotSet` of applied events (duplicates are skipped);
* the users, as last-writer-wins entries like any key;
* the tasks (:class:`~bolt.state._tasks.TaskView`).

Nothing here reads a clock: "now" is passed in.
"""

from __future__ import annotations

import heapq
import random
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from bolt import limits
from bolt.crdt import DotSet
from bolt.state._entry import COUNTER, STRING, TOMBSTONE, Entry, name_bytes
from bolt.state._tasks import TaskView

_SHARD_MEMO_MAX = limits.shard_memo_names_max


def key_name(db: str, key: str) -> str:
    """The internal name of ``key`` in ``db``."""
    if not db:
        return "\0" + key if "\0" in key else key
    return db + "\0" + key


def split_name(name: str) -> tuple[str, str]:
    """``(db, key)`` for an internal name."""
    if "\0" not in name:
        return "", name
    db, key = name.split("\0", 1)
    return db, key


@dataclass
class UserRecord:
    """A user as stored: the LWW stamp, the scrypt hash and the role."""

    name: str
    password_hash: str
    role: str
    hlc: int
    origin: str
    deleted: bool = False


class Shard:
    """One partition of the keyspace."""

    __slots__ = ("entries", "index", "memory", "offset", "volatile")

    def __init__(self, index: int) -> None:
        self.index = index
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        self.memory = 0
        self.volatile: OrderedDict[str, None] = OrderedDict()
        self.offset = -1  # last log offset whose events this shard holds


class Keyspace:
    """Every shard, plus memory totals, the expiry heap and the dot set."""

    def __init__(
        self,
        shard_count: int,
        *,
        track_lru: bool = True,
        track_random: bool = False,
        keep_tombstones: bool = True,
    ) -> None:
        self.shard_count = shard_count
        self.shards = [Shard(i) for i in range(shard_count)]
        self._shard_memo: dict[str, Shard] = {}
        self.memory_used = 0
        self.expiry: list[tuple[int, str]] = []
        self.dots = DotSet()
        self.users: dict[str, UserRecord] = {}
        self.track_lru = track_lru
        self.keep_tombstones = keep_tombstones
        self.access_clock = 0
        self.random_pool: list[str] | None = [] if track_random else None
        self.random_index: dict[str, int] = {}
        self.expired_total = 0
        self.evicted_total = 0
        self.applying_offset = -1  # log offset of the record being applied
        # The highest stable HLC at which a tombstone was collected here: this
        # node holds every event at or below it (see bolt.state._gc), so a full
        # sync's older state must not bring back what it lacks from then
        # (bolt.state._merge.forget_seen). Kept in each shard's snapshot.
        self.collected_hlc = 0
        self.database_keys: dict[str, int] = {}  # entries per non-default database
        self.tasks = TaskView()  # tasks are not keys: see bolt.state._tasks
        self.tombstoned: set[str] = set()  # names that may have got tombstones (bolt.state._gc)

    # --- locating ---------------------------------------------------------

    def shard_of(self, name: str) -> Shard:
        """The shard that holds ``name``.

        A write looks its key up twice (the command, then ``apply``), so the
        answers for the most recent names are kept in a small memo: one CRC
        per key of a write, for a 100-key MSET too. The memo is emptied when
        it reaches ``limits.shard_memo_names_max`` names.
        """
        memo = self._shard_memo
        shard = memo.get(name)
        if shard is None:
            shard = self.shards[
                zlib.crc32(name.encode("utf-8", "surrogatepass")) % self.shard_count
            ]
            if len(memo) >= _SHARD_MEMO_MAX:
                memo.clear()
            memo[name] = shard
        return shard

    def get(self, name: str) -> Entry | None:
        """The entry for ``name`` (live or not), without touching LRU order."""
        return self.shard_of(name).entries.get(name)

    def touch(self, shard: Shard, name: str, entry: Entry) -> None:
        """Mark ``name`` as just used (LRU)."""
        if self.track_lru:
            self.access_clock += 1
            entry.access = self.access_clock
            shard.entries.move_to_end(name)
            if entry.expires_at:
                volatile = shard.volatile
                if name in volatile:
                    volatile.move_to_end(name)

    # --- changing -----------------------------------------------------------

    def insert(self, shard: Shard, name: str) -> Entry:
        """Create an empty entry for ``name`` in ``shard``."""
        return self.adopt(shard, name, Entry())

    def adopt(self, shard: Shard, name: str, entry: Entry) -> Entry:
        """Add an existing ``entry`` (fresh, or loaded from a snapshot) under ``name``."""
        shard.entries[name] = entry
        entry.size = size = name_bytes(name)
        shard.memory += size
        self.memory_used += size
        if "\0" in name:
            self._count_database(name, 1)
        self.access_clock += 1
        entry.access = self.access_clock
        pool = self.random_pool
        if pool is not None:
            self.random_index[name] = len(pool)
            pool.append(name)
        if entry.hlc or entry.bodies:
            self.resize(shard, entry, entry.estimate_size(name))
            if entry.expires_at:
                self.set_expiry(shard, name, entry, entry.expires_at)
        return entry

    def _count_database(self, name: str, delta: int) -> None:
        db = split_name(name)[0]
        if not db:
            return
        count = self.database_keys.get(db, 0) + delta
        if count > 0:
            self.database_keys[db] = count
        else:
            self.database_keys.pop(db, None)

    def database_count(self) -> int:
        """Databases holding at least one entry (the default one included)."""
        others = sum(self.database_keys.values())
        return len(self.database_keys) + (1 if self.key_count() > others else 0)

    def resize(self, shard: Shard, entry: Entry, size: int) -> None:
        """Set ``entry``'s estimated size and fix the totals."""
        delta = size - entry.size
        entry.size = size
        shard.memory += delta
        self.memory_used += delta

    def set_expiry(self, shard: Shard, name: str, entry: Entry, expires_at: int) -> None:
        """Record ``entry``'s absolute expiry (0 = none) in the indexes."""
        entry.expires_at = expires_at
        if expires_at:
            heapq.heappush(self.expiry, (expires_at, name))
            shard.volatile[name] = None
        elif shard.volatile:
            shard.volatile.pop(name, None)

    def remove(self, shard: Shard, name: str) -> None:
        """Forget ``name`` entirely (memory and indexes follow)."""
        entry = shard.entries.pop(name, None)
        if entry is None:
            return
        shard.memory -= entry.size
        self.memory_used -= entry.size
        if "\0" in name:
            self._count_database(name, -1)
        if shard.volatile:
            shard.volatile.pop(name, None)
        pool = self.random_pool
        if pool is not None:
            position = self.random_index.pop(name)
            last = pool.pop()
            if last != name:
                pool[position] = last
                self.random_index[last] = position

    def settle(self, shard: Shard, name: str, entry: Entry, size: int | None = None) -> None:
        """After a change: drop a dead entry (unless tombstones are kept), fix its size.

        ``size`` is the new size when the caller computed it incrementally;
        otherwise it is re-estimated from the whole entry.
        """
        if entry.is_dead():
            if not self.keep_tombstones or entry.hlc == 0:
                self.remove(shard, name)
                return
            entry.value = None
            self.set_expiry(shard, name, entry, 0)
            size = None
        self.resize(shard, entry, entry.estimate_size(name) if size is None else size)

    # --- reading --------------------------------------------------------------

    def live_names(self, now_ms: int, db: str | None = None) -> Iterator[str]:
        """Every visible name (optionally only those of ``db``)."""
        for shard in self.shards:
            for name, entry in list(shard.entries.items()):
                if entry.visible_kind(now_ms) == TOMBSTONE:
                    continue
                if db is not None and split_name(name)[0] != db:
                    continue
                yield name

    def key_count(self, now_ms: int | None = None) -> int:
        """Number of entries (or visible keys, if ``now_ms`` is given: O(n))."""
        if now_ms is None:
            return sum(len(s.entries) for s in self.shards)
        return sum(1 for _ in self.live_names(now_ms))

    # --- expiry and eviction ----------------------------------------------------

    def pop_expired(self, now_ms: int, limit: int) -> list[str]:
        """Names whose expiry is due (at most ``limit``), removed from the heap."""
        heap = self.expiry
        due: list[str] = []
        while heap and heap[0][0] <= now_ms and len(due) < limit:
            expires_at, name = heapq.heappop(heap)
            entry = self.get(name)
            if entry is not None and entry.expires_at == expires_at:
                due.append(name)
        return due

    def _volatile_head(self, shard: Shard, now_ms: int) -> str | None:
        """The least recently used key of ``shard`` that visibly has a TTL.

        Names whose entry no longer shows a value with an expiry (expired, or
        hidden under a newer container) are dropped from the index on the way.
        """
        volatile = shard.volatile
        while volatile:
            name = next(iter(volatile))
            entry = shard.entries.get(name)
            if (
                entry is not None
                and entry.expires_at > now_ms
                and entry.visible_kind(now_ms) in (STRING, COUNTER)
            ):
                return name
            del volatile[name]
        return None

    def eviction_candidate(self, policy: str, now_ms: int) -> str | None:
        """The name the policy would evict next, or None if it has none."""
        if policy == "allkeys-random":
            pool = self.random_pool
            return random.choice(pool) if pool else None
        if policy == "volatile-ttl":
            heap = self.expiry
            while heap:
                expires_at, name = heap[0]
                entry = self.get(name)
                if entry is not None and entry.expires_at == expires_at:
                    return name
                heapq.heappop(heap)
            return None
        best: tuple[int, str] | None = None
        for shard in self.shards:
            if policy == "volatile-lru":
                head = self._volatile_head(shard, now_ms)
            else:
                head = next(iter(shard.entries), None)
            if head is None:
                continue
            access = shard.entries[head].access
            if best is None or access < best[0]:
                best = (access, head)
        return best[1] if best else None
