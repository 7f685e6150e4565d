"""The engine: command → events → log → state → reply.

Theory of operation
-------------------
``submit`` is synchronous and is the hot path: it validates the request
against the views (``bolt.state`` command handlers), stamps the events with
this node's dot and HLC, appends them to the log as **one record** (so a
multi-key write is atomic), applies them with the same pure ``apply`` that
replay and replication use, and returns the reply with the record's offset.
The caller then awaits ``wait_durable(offset)`` before answering the client:
in ``always`` mode that is after fsync (group commit shares one fsync between
every writer of a round), in ``batch`` and ``off`` after the write reached the
OS. A server handles every request of one receive with ``submit`` and awaits
only the last offset, so one flush serves the whole batch.

``submit`` sends the two commands that dominate real loads, GET and SET of
a plain key in the default database, to ``get_fast`` and ``put_fast``: no
command lookup, no argument checks and no clock read. Each takes the
shortcut only when its outcome is certain to be the general path's
(``run_command``: a plain ASCII key and value; for GET a stored plain
string without TTL; for SET a working log and no eviction due) and
otherwise calls ``run_command``; ``tests/node/test_fast_paths.py`` checks
reply, error, events and state agree.

Background jobs (the log flusher, the expiry sweep, snapshots) run in the
nursery of :meth:`Engine.run`. ``close`` flushes and fsyncs the log and takes
a final snapshot, so a clean restart replays almost nothing.

If writing the log fails, the engine stops taking writes (``DiskError``)
rather than acknowledge what it cannot keep, rebuilds its views from what
the log acknowledged (so a refused write is never readable) and takes writes
again once the log has cleared the error (:mod:`bolt.node._durability`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import trio

from bolt import limits
from bolt.crdt import HybridClock
from bolt.errors import (
    BadRequestError,
    DiskError,
    FeedDroppedError,
    LogTrimmedError,
    NodeJoiningError,
    OutOfMemoryError,
    StorageError,
    UnknownCommandError,
)
from bolt.events import (
    EVENT_KINDS,
    Event,
    KeyDeleted,
    UserDeleted,
    UserPut,
    decode_record,
    encode_record,
)
from bolt.log import Log, LogOptions, sync_directory, sync_file, write_fully
from bolt.node._config import EngineConfig
from bolt.node._durability import DiskRecovery
from bolt.node._feed import Change, ChangeFeed
from bolt.node._recovery import RecoveryStatistics, bulk_load, open_snapshot, replay
from bolt.node._snapshots import SnapshotWriter
from bolt.node._stats import EngineStatistics, ShardStatistics
from bolt.state import (
    COMMANDS,
    SLOW,
    Keyspace,
    UserRecord,
    after_eviction,
    apply,
    check_batch,
    eviction_events,
    fast_get,
    fast_put_events,
    reclaim_expired,
    validate_database,
    write_growth,
)
from bolt.state.snapshot import SnapshotStore

logger = logging.getLogger("bolt.engine")


def wall_clock_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


_CHUNKED = {"MSET": 2, "MDEL": 1, "MGET": 1}
"""Batch commands :meth:`Engine.submit_large` may split, and their arguments per key."""


class Engine:
    """One node's storage engine (see the module docstring).

    Create with :meth:`open` (or the :func:`open_engine` context manager),
    start :meth:`run` in a nursery, and :meth:`close` at the end.
    """

    def __init__(self, config: EngineConfig) -> None:
        config.validate()
        self.config = config
        self._now_ms = config.now_ms or wall_clock_ms
        self.keyspace = Keyspace(
            config.shard_count,
            track_lru=config.eviction_policy in ("allkeys-lru", "volatile-lru"),
            track_random=config.eviction_policy == "allkeys-random",
            keep_tombstones=config.keep_tombstones,
        )
        self.origin = config.node_id or ""
        self._seq = 0
        # Why local writes are refused for now (None: they are not): see hold_writes.
        self.writes_held: str | None = None
        self._writes_open = trio.Event()
        self._writes_open.set()
        self.clock = HybridClock(self._now_ms, config.max_clock_offset_ms)
        self._log: Log | None = None
        self._store: SnapshotStore | None = None
        self._snapshots: SnapshotWriter | None = None
        self._lock_file: int | None = None
        self._last_offset = -1
        self._failed: BaseException | None = None
        self._views_stale = False  # the views may hold refused writes: refuse reads too
        self._closed = False
        self.ready = False
        self.recovery: RecoveryStatistics | None = None
        self.started_at = time.time()
        self._warned_memory = False
        self._limit = config.max_memory_bytes
        self._fast_paths = {"GET": self.get_fast, "PUT": self.put_fast, "SET": self.put_fast}
        self._warn_bytes = self._limit * config.memory_warning_threshold // 100
        self.events_total = 0
        self.keys_deleted_total = 0
        self.user_events_total = 0  # users are events too, but not keys
        self.ingested_events_total = 0
        self.feed = ChangeFeed(lambda: self._last_offset + 1)

    # --- opening ---------------------------------------------------------------

    @classmethod
    async def open(cls, config: EngineConfig) -> Engine:
        """Open the data directory and recover (in a worker thread).

        Raises:
            CorruptionError: damage before the end of the log (names file/offset).
            StorageError: the directory is locked by another Bolt, or unreadable.
        """
        engine = cls(config)
        try:
            await trio.to_thread.run_sync(engine._open_sync)
        except BaseException:
            engine._release()
            raise
        return engine

    def _release(self) -> None:
        """Close what a failed open had opened, and unlock the directory."""
        if self._log is not None:
            self._log._close_files()
        if self._store is not None:
            self._store.close()
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None

    def _open_sync(self) -> None:
        config = self.config
        if not config.persist:
            self.origin = self.origin or uuid.uuid4().hex[:12]
            self.ready = True
            return
        assert config.data_dir is not None
        data_dir = config.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self._lock(data_dir)
        self.origin = self._node_id(data_dir)
        self._log = Log.open(
            LogOptions(
                directory=data_dir / "log",
                fsync=config.fsync,  # type: ignore[arg-type]
                flush_interval_ms=config.flush_interval_ms,
                batch_size=config.batch_size,
                segment_bytes_max=config.segment_bytes_max,
            )
        )
        torn = self._log.recovery.torn_tail
        if torn is not None:
            logger.warning(
                "log had a torn tail: truncated %s at byte %d (%d bytes dropped)",
                torn.path,
                torn.position,
                torn.bytes_dropped,
            )
        with bulk_load():
            self._store, snapshot = open_snapshot(data_dir / "snapshot", self._log)
            self.recovery = replay(self.keyspace, self._log, snapshot, self._progress)
            if snapshot is not None:
                for shard in snapshot.shards.values():
                    shard.entries = []  # the encoded copies: free them, keep the offsets
        self._last_offset = self._log.next_offset - 1
        self.keyspace.applying_offset = self._last_offset
        # Resume above every seq ever used here, gaps included: reusing a seq
        # would make later writes look like duplicates and be skipped.
        self._seq = self.keyspace.dots.highest(self.origin)
        self.clock = HybridClock(
            self._now_ms, config.max_clock_offset_ms, last=self.recovery.max_hlc
        )
        self._snapshots = SnapshotWriter(self, self._store, snapshot)
        self._reclaim_expired(self._now_ms(), limit=None)
        self.ready = True
        stats = self.recovery
        logger.info(
            "recovered %d keys: snapshot %.2fs, replayed %d records (%d events) in %.2fs",
            self.keyspace.key_count(),
            stats.snapshot_seconds,
            stats.replayed_records,
            stats.replayed_events,
            stats.replay_seconds,
        )

    def _progress(self, records: int, seconds: float) -> None:
        logger.info("replaying the log: %d records in %.1fs", records, seconds)

    def _lock(self, data_dir: Path) -> None:
        fd = os.open(data_dir / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise StorageError(
                f"{data_dir} is in use by another Bolt process (could not lock {data_dir / 'LOCK'})"
            ) from exc
        self._lock_file = fd

    def _node_id(self, data_dir: Path) -> str:
        path = data_dir / "NODE_ID"
        if path.exists():
            stored = path.read_text().strip()
            if not stored:
                raise StorageError(
                    f"{path} is empty: this data directory's node id is lost; "
                    "write it back into the file (the origin of the log's events)"
                )
            if self.config.node_id and self.config.node_id != stored:
                raise StorageError(
                    f"{data_dir} belongs to node {stored!r}, "
                    f"not BOLT_NODE_ID={self.config.node_id!r}"
                )
            return stored
        node_id = self.config.node_id or uuid.uuid4().hex[:12]
        # Written whole or not at all, and durable before any event names it.
        temporary = data_dir / "NODE_ID.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_fully(fd, (node_id + "\n").encode())
            sync_file(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        sync_directory(data_dir)
        return node_id

    # --- background jobs ----------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the log flusher, the expiry sweep and snapshots until cancelled."""
        async with trio.open_nursery() as nursery:
            if self._log is not None:
                await nursery.start(self._log.run)
                nursery.start_soon(DiskRecovery(self).run)
            nursery.start_soon(self._expiry_loop)
            if self._snapshots is not None:
                nursery.start_soon(self._snapshots.run)
            task_status.started()

    async def _expiry_loop(self) -> None:
        interval = limits.expiry_sweep_interval_ms / 1000
        while True:
            await trio.sleep(interval)
            self._reclaim_expired(self._now_ms(), limits.expiry_sweep_keys_max)

    def _reclaim_expired(self, now_ms: int, limit: int | None) -> int:
        """Free the memory of expired keys (already invisible; see bolt.state.reclaim_expired)."""
        return reclaim_expired(self.keyspace, now_ms, limit)

    # --- the hot path -----------------------------------------------------------------

    def hold_writes(self, reason: str | None) -> None:
        """Refuse local writes with :class:`NodeJoiningError` (``reason``), or
        take them again (None). Replicated events are applied meanwhile; the
        servers wait (:meth:`writes_open`) rather than answer the error."""
        self.writes_held = reason
        if reason is None:
            self._writes_open.set()
        elif self._writes_open.is_set():
            self._writes_open = trio.Event()

    async def writes_open(self) -> None:
        """Return once local writes are taken (at once when they are)."""
        await self._writes_open.wait()

    def skip_seqs_through(self, seq: int) -> None:
        """Never stamp a seq at or below ``seq`` (peers know this node's events
        up to it: a wiped node must not reuse them)."""
        self._seq = max(self._seq, seq)

    def stamp(self) -> tuple[int, int]:
        """A fresh ``(seq, hlc)`` for one local event.

        Raises:
            NodeJoiningError: :meth:`hold_writes` is in force (nothing is written).
        """
        if self.writes_held is not None:
            raise NodeJoiningError(self.writes_held)
        self._seq += 1
        return self._seq, self.clock.tick()

    def stamps(self, count: int) -> tuple[int, int]:
        """The first of ``count`` consecutive ``(seq, hlc)`` stamps, reserved at once."""
        if self.writes_held is not None:
            raise NodeJoiningError(self.writes_held)
        seq = self._seq + 1
        self._seq += count
        return seq, self.clock.tick_many(count)

    def submit(self, command: str, args: Sequence[Any], db: str | None = None) -> tuple[Any, int]:
        """Run one command now; return ``(reply, offset)`` to wait for (-1: nothing).

        A write that changes nothing still returns the last offset written,
        so its reply is not acknowledged before the records it was read from.

        GET and SET/PUT in the default database go to :meth:`get_fast` and
        :meth:`put_fast`; every other command, and whatever those do not
        take, to :meth:`run_command`. The outcome is the same either way.

        Raises:
            UnknownCommandError, BadRequestError, WrongTypeError, NotIntegerError,
            IntegerOverflowError, TooLargeError: the request is refused and
                nothing was written.
            OutOfMemoryError: at the memory limit and the policy frees nothing.
            DiskError: the log failed earlier; the engine takes no writes.
        """
        if not db:
            fast = self._fast_paths.get(command)
            if fast is not None:
                return fast(args)
        return self.run_command(command, args, db)

    async def submit_large(
        self, command: str, args: Sequence[Any], db: str | None = None
    ) -> tuple[Any, int]:
        """:meth:`submit`, but a long MSET/MDEL/MGET runs in chunks with other tasks between.

        A batch of more than ``limits.batch_chunk_keys`` keys would hold the
        event loop for its whole length (a 100k-key MSET: hundreds of ms in
        which no other client is answered). Here every argument is checked and
        the memory limit applied for the whole request first, so no chunk can
        be refused after another was written; then each chunk is submitted as
        its own record (atomic on its own) and the scheduler runs between
        chunks. Other clients may read a long MSET half applied, and a crash
        in the middle keeps the chunks already logged (README: Limits).

        Returns and raises as :meth:`submit`.
        """
        width = _CHUNKED.get(command)
        step = limits.batch_chunk_keys * (width or 1)
        if width is None or type(args) is not list or len(args) <= step:
            return self.submit(command, args, db)
        if db:
            validate_database(db)
        check_batch(command, args)
        if self._limit and COMMANDS[command].grows_memory:
            self._make_room(self._now_ms(), write_growth(command, args))
        total: Any = [] if command == "MGET" else 0
        offset = -1
        for start in range(0, len(args), step):
            if start:
                await trio.lowlevel.checkpoint()
            reply, last = self.submit(command, args[start : start + step], db)
            total = total + reply
            offset = max(offset, last)
        return total, offset

    def run_command(
        self, command: str, args: Sequence[Any], db: str | None = None
    ) -> tuple[Any, int]:
        """The general path of :meth:`submit`: look the command up, validate,
        evict if due, run its handler and commit its events (raises as ``submit``)."""
        if self._views_stale:
            raise DiskError(f"the log failed ({self._failed}); the views are being rebuilt")
        spec = COMMANDS.get(command)
        if spec is None:
            raise UnknownCommandError(f"unknown command '{command}'")
        database = validate_database(db) if db else ""
        if type(args) is not list:
            if isinstance(args, str | bytes) or not isinstance(args, Sequence):
                raise BadRequestError("arguments must be a list")
            args = list(args)
        now = self._now_ms()
        if spec.access != "write":
            return spec.handler(self.keyspace, self, database, args, now)[0], -1
        if self._failed is not None:
            raise DiskError(f"the log failed ({self._failed}); this node takes no writes")
        if self._limit and spec.grows_memory:
            self._make_room(now, write_growth(command, args))
        reply, events = spec.handler(self.keyspace, self, database, args, now)
        if not events:
            # Nothing to write, but the reply was read off state that may hold
            # records not yet durable (SADD of a member another client just
            # added): acknowledge it no sooner than everything before it.
            return reply, self._last_offset
        return reply, self._commit(events)

    def get_fast(self, args: Any) -> tuple[Any, int]:
        """``run_command("GET", args)`` in the default database, faster when usual.

        :func:`bolt.state.fast_get` answers a plain key that is absent or holds
        a plain string (one shard lookup, no clock read); anything else goes to
        :meth:`run_command`, so replies and errors are the general path's.
        """
        if type(args) is list and len(args) == 1:
            value = fast_get(self.keyspace, args[0])
            if value is not SLOW:
                return value, -1
        return self.run_command("GET", args)

    def put_fast(self, args: Any) -> tuple[Any, int]:
        """``run_command("PUT", args)`` in the default database, faster when usual.

        With a working log, room for the write under the memory limit and a
        key and value :func:`bolt.state.fast_put_events` takes, it commits
        those events without the lookup, argument checks and clock read of the
        general path. Anything else goes to :meth:`run_command`.
        """
        if type(args) is list and len(args) == 2 and self._failed is None:
            limit = self._limit
            if not limit or self.keyspace.memory_used + write_growth("PUT", args) <= limit:
                events = fast_put_events(self, self.keyspace, args[0], args[1])
                if events is not None:
                    return None, self._commit(events)
        return self.run_command("PUT", args)

    def _commit(self, events: list[Event]) -> int:
        """Append and apply events stamped here (a failed append gives back their seqs)."""
        try:
            return self._append_and_apply(events)
        except BaseException:
            # Nothing was written: give back the seqs, so no gap is left.
            self._seq = min(e.seq for e in events) - 1
            raise

    def _append_and_apply(self, events: Sequence[Event]) -> int:
        """The one path by which events reach the log and the views.

        Local writes (:meth:`_commit`) and events from peers (:meth:`ingest`)
        both come here: one record, appended first, then applied with the pure
        ``apply``, then announced on the change feed. If the append raises,
        nothing was applied or announced.
        """
        log = self._log
        payload = b""
        if log is not None:
            payload = encode_record(events)
            try:
                offset = log.append(payload)
            except DiskError as exc:
                self._failed = exc
                raise
        else:
            offset = self._last_offset + 1
        self._last_offset = offset
        keyspace = self.keyspace
        keyspace.applying_offset = offset
        for event in events:
            apply(keyspace, event)
            if type(event) is KeyDeleted:
                self.keys_deleted_total += 1
        self.events_total += len(events)
        if self._limit and keyspace.memory_used > self._warn_bytes:
            self._memory_warning()
        feed = self.feed
        if feed.subscribers:
            feed.publish(offset, events, payload)
        return offset

    # --- events from elsewhere, and the change feed ------------------------------------

    def ingest(self, events: Sequence[Event]) -> int:
        """Append and apply events stamped on another node (replication).

        Events whose dot this node already has are skipped (so a batch may be
        delivered twice, or relayed by a third node); the rest are checked
        against the clock first: if any HLC is more than
        ``max_clock_offset_ms`` ahead of the local wall clock, nothing is
        applied. Then the clock observes the newest HLC, and the new events
        are appended as one record and applied, exactly as a local write.

        Returns:
            The offset of the record written, or the last offset if every
            event was already here (wait for it before acknowledging).

        Raises:
            ClockSkewError: an event's HLC is too far ahead (counted in
                ``clock.rejected_total``); nothing was applied.
            DiskError: the log failed; nothing was applied.
            BadRequestError: ``events`` is not a sequence of events.
        """
        dots = self.keyspace.dots
        fresh: list[Event] = []
        seen: set[tuple[str, int]] = set()
        for event in events:
            if type(event) not in EVENT_KINDS:
                raise BadRequestError(f"not an event: {type(event).__name__}")
            dot = (event.origin, event.seq)
            if dot in seen or dot in dots:
                continue
            seen.add(dot)
            fresh.append(event)
        if not fresh:
            return self._last_offset
        if self._failed is not None:
            raise DiskError(f"the log failed ({self._failed}); this node takes no writes")
        self.clock.observe(max(event.hlc for event in fresh))  # raises, changing nothing
        offset = self._append_and_apply(fresh)
        # Our own events coming back (a peer kept them while this node lost its
        # data): never reuse their seqs, or new writes would look like duplicates.
        own = [event.seq for event in fresh if event.origin == self.origin]
        if own:
            self._seq = max(self._seq, *own)
        self.ingested_events_total += len(fresh)
        return offset

    @property
    def last_offset(self) -> int:
        """The offset of the last record appended (-1: none yet)."""
        return self._last_offset

    def version_vector(self) -> dict[str, int]:
        """For each origin, the highest seq up to which every event is applied here."""
        return self.keyspace.dots.vector.to_dict()

    def read_changes(
        self, from_offset: int, max_records: int = limits.feed_read_records_max
    ) -> list[Change]:
        """Committed records from ``from_offset`` on, read back from the log.

        Only records already written to the OS are read; to read up to a
        subscription's ``start_offset``, first ``await
        wait_durable(start_offset - 1)``. Reading is file I/O: for many
        records call it through ``trio.to_thread.run_sync``.

        Raises:
            LogTrimmedError: ``from_offset`` is no longer in the log (or this
                node keeps no log at all, ``BOLT_PERSIST=false``).
        """
        if from_offset > self._last_offset:
            return []
        log = self._log
        if log is None:
            raise LogTrimmedError(
                f"offset {from_offset} is not kept: this node has no log (BOLT_PERSIST=false)"
            )
        changes: list[Change] = []
        try:
            for offset, payload in log.read(from_offset):
                changes.append(Change(offset, tuple(decode_record(payload)), payload))
                if len(changes) >= max_records:
                    break
        except ValueError as exc:
            raise LogTrimmedError(str(exc)) from exc
        return changes

    async def follow(
        self, from_offset: int, *, capacity: int = limits.feed_subscriber_records_max
    ) -> AsyncIterator[Change]:
        """Every committed record from ``from_offset`` on, forever, in order.

        Reads the log up to the live feed, then follows the feed; a drop
        (the consumer fell ``capacity`` records behind) resumes from the log,
        so a consumer of this iterator never misses a record and never slows
        writers. Close it when done (``async with contextlib.aclosing(...)``).

        Raises:
            LogTrimmedError: records needed are no longer in the log.
        """
        next_offset = from_offset
        while True:
            with self.feed.subscribe(capacity, name=f"follow@{next_offset}") as subscription:
                start = subscription.start_offset
                while next_offset < start:
                    await self.wait_durable(start - 1)
                    batch = await trio.to_thread.run_sync(self.read_changes, next_offset)
                    if not batch:
                        raise LogTrimmedError(
                            f"records {next_offset}..{start - 1} are not in the log"
                        )
                    for change in batch:
                        if change.offset >= start:
                            break
                        yield change
                        next_offset = change.offset + 1
                try:
                    while True:
                        change = await subscription.receive()
                        if change.offset >= next_offset:
                            yield change
                            next_offset = change.offset + 1
                except FeedDroppedError:
                    pass  # fell behind: subscribe again and read the gap from the log

    async def wait_durable(self, offset: int) -> None:
        """Wait until the record at ``offset`` is durable per the fsync mode."""
        if offset >= 0 and self._log is not None:
            try:
                await self._log.wait_for(offset)
            except DiskError as exc:
                self._failed = exc
                raise

    async def execute(self, command: str, args: Sequence[Any] = (), db: str | None = None) -> Any:
        """``submit`` and wait for durability: the convenience form for one command."""
        reply, offset = self.submit(command, args, db)
        if offset >= 0:
            await self.wait_durable(offset)
        # Always a schedule point (trio's rule for async functions): a small
        # write is acknowledged inline, and a caller looping on execute()
        # must not starve the log's fsync task or anyone else.
        await trio.lowlevel.checkpoint()
        return reply

    # --- memory ------------------------------------------------------------------------

    def _make_room(self, now_ms: int, growth: int) -> None:
        """Evict until a write adding up to ``growth`` bytes fits under the limit.

        Raises:
            OutOfMemoryError: ``noeviction``, or the policy finds nothing more
                to evict (the write is refused and nothing was written).
        """
        keyspace = self.keyspace
        limit = self._limit
        if keyspace.memory_used + growth <= limit:
            return
        policy = self.config.eviction_policy
        if policy == "noeviction":
            raise OutOfMemoryError(
                f"memory limit reached ({keyspace.memory_used} of {limit} bytes, "
                f"and this write may add {growth}) and BOLT_EVICTION_POLICY=noeviction"
            )
        self._reclaim_expired(now_ms, limits.expiry_sweep_keys_max)
        attempts = keyspace.key_count() + 1
        while keyspace.memory_used + growth > limit:
            attempts -= 1
            name = keyspace.eviction_candidate(policy, now_ms) if attempts >= 0 else None
            if name is None:
                raise OutOfMemoryError(
                    f"memory limit reached ({keyspace.memory_used} of {limit} bytes, "
                    f"and this write may add {growth}) and {policy} finds nothing to evict"
                )
            events = eviction_events(keyspace, self, name, now_ms)
            if events:
                self._commit(events)
                after_eviction(keyspace, name)

    def _memory_warning(self) -> None:
        if not self._warned_memory:
            self._warned_memory = True
            logger.warning(
                "memory use %d bytes is above %d%% of the limit (%d bytes)",
                self.keyspace.memory_used,
                self.config.memory_warning_threshold,
                self._limit,
            )

    # --- users -----------------------------------------------------------------------

    def user(self, name: str) -> UserRecord | None:
        """The live user ``name``, or None."""
        record = self.keyspace.users.get(name)
        return None if record is None or record.deleted else record

    def users(self) -> list[UserRecord]:
        """Every live user, by name."""
        return sorted(
            (u for u in self.keyspace.users.values() if not u.deleted), key=lambda u: u.name
        )

    def put_user(self, name: str, password_hash: str, role: str) -> int:
        """Create or change a user (the hash is computed by the caller, off the loop)."""
        seq, hlc = self.stamp()
        offset = self._commit([UserPut(self.origin, seq, hlc, "", name, password_hash, role)])
        self.user_events_total += 1
        return offset

    def delete_user(self, name: str) -> tuple[bool, int]:
        """Delete a user; ``(existed, offset)``."""
        if self.user(name) is None:
            return False, self._last_offset  # as for a write with no events
        seq, hlc = self.stamp()
        offset = self._commit([UserDeleted(self.origin, seq, hlc, "", name)])
        self.user_events_total += 1
        return True, offset

    # --- observing -----------------------------------------------------------------

    def statistics(self) -> EngineStatistics:
        """A frozen snapshot of the engine's counters (cheap; for metrics)."""
        keyspace = self.keyspace
        snapshots = self._snapshots
        return EngineStatistics(
            node_id=self.origin,
            ready=self.ready,
            keys=keyspace.key_count(),
            memory_used_bytes=keyspace.memory_used,
            memory_limit_bytes=self._limit,
            eviction_policy=self.config.eviction_policy,
            evicted_total=keyspace.evicted_total,
            expired_total=keyspace.expired_total,
            events_total=self.events_total,
            keys_written_total=self.events_total - self.keys_deleted_total - self.user_events_total,
            keys_deleted_total=self.keys_deleted_total,
            hlc=self.clock.last,
            seq=self._seq,
            last_offset=self._last_offset,
            fsync_mode=self.config.fsync if self._log is not None else "none",
            log=self._log.statistics() if self._log is not None else None,
            snapshot=snapshots.statistics() if snapshots is not None else None,
            shards=tuple(
                ShardStatistics(s.index, len(s.entries), s.memory, s.offset)
                for s in keyspace.shards
            ),
            databases=keyspace.database_count(),
            failed=str(self._failed) if self._failed is not None else None,
        )

    # --- closing -------------------------------------------------------------------

    async def snapshot_now(self) -> None:
        """Write a snapshot of every changed shard now."""
        if self._snapshots is not None:
            await self._snapshots.snapshot()

    async def close(self, *, final_snapshot: bool = True) -> None:
        """Flush and fsync the log, take a final snapshot, release the directory.

        Args:
            final_snapshot: write a snapshot so the next start replays little
                (benchmarks of log-only recovery turn it off).
        """
        if self._closed:
            return
        self._closed = True
        with trio.CancelScope(shield=True):
            try:
                if self._log is not None and self._failed is None:
                    await self._log.flush()
                    if self._snapshots is not None and final_snapshot:
                        await self._snapshots.snapshot()
            finally:
                if self._log is not None:
                    await self._log.close()
                if self._store is not None:
                    self._store.close()
                if self._lock_file is not None:
                    os.close(self._lock_file)
                    self._lock_file = None
