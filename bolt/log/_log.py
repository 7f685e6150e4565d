"""The durable log: fast in-memory appends, a background flusher, group commit.

Theory of operation
-------------------
``append`` frames a payload into an in-memory buffer and returns its offset
(offsets are record indices: 0, 1, 2, ... across all segments). It does no
I/O. The flusher task (:meth:`Log.run`) waits until the buffer holds data,
swaps it for an empty one and writes it -- rolling segments as they fill, and
fsyncing per the mode -- in **one** ``trio.to_thread.run_sync`` call (a
*round*). Everything appended while a round is in the thread goes into the
next round, so under load many records share one write and one fsync.

Three offsets move forward, in order::

    durable_offset <= written_offset <= next_offset

``written_offset``: every record below it has reached the OS (``os.write``
done). ``durable_offset``: every record below it has been fsynced.
:meth:`Log.wait_for` returns once a record is *acknowledged*:

* ``"always"``: each round writes and fsyncs in the same thread call, and its
  waiters are woken after the fsync (group commit: one fsync per round, shared
  by every writer whose record is in it). A crash loses no acknowledged record.
* ``"batch"``: a round only writes; waiters are woken when the write is done.
  A separate syncer task fsyncs ``flush_interval_ms`` after the first unsynced
  write, or as soon as ``batch_size`` written records are unsynced, whichever
  comes first, without holding up the writes. A crash of the machine loses
  what was written since the last fsync completed: about one interval plus
  one fsync's duration (records written while an fsync runs wait for the
  next one, so there may be more than ``batch_size``). A crash of the process
  alone loses nothing written.
* ``"off"``: rounds only write; fsync happens at :meth:`flush` and
  :meth:`close`.

In ``batch`` and ``off`` mode a small round (at most
``limits.wal_inline_write_bytes_max``) that would not roll a segment is
written by :meth:`Log.wait_for` directly on the event loop when no round is in
flight: a ``write(2)`` of a few KiB into the page cache costs microseconds,
far less than a round trip to a worker thread plus a park and wake per
waiter (one-off measurements on the development VM, not kept as a script:
10 us p50, 67 us p99, 4.4 ms max with another thread fsyncing the same file,
against ~47 us for the thread round trip). Everything that waits for the
disk -- fsync, rolling, big rounds -- stays in a thread.

In those two modes the flusher does not write merely because the buffer is
non-empty (under load it always is): it writes what nobody waits for once
per ``flush_interval_ms`` -- inline too when it can -- and takes a thread
round at once only when woken for a buffer too big to write inline or a
segment to roll. A waiter that finds a thread round in flight without its
record writes its own round inline once that one is done. Looping on a
non-empty buffer had turned every poll into a run of back-to-back thread
rounds, each a hand-off to a worker thread and back, and made the waiters
wait for them (``rounds_inline_total`` / ``rounds_threaded_total`` in
:meth:`Log.statistics` count both kinds).

Waiters park on one ``trio.Event`` per round, so waking thousands of writers
costs one ``set()``. Rounds run shielded from cancellation: once a buffer is
swapped out it is always written and its waiters always learn the outcome.

Errors: refuse, cut back, retry
-------------------------------
A failed write or fsync (``ENOSPC``, ``EMFILE``, ``EIO`` ...) marks the log
failed: every record not yet acknowledged -- the failed round's and everything
appended after it -- is lost, its waiters and every ``append`` meanwhile raise
:class:`~bolt.errors.DiskError`, and :attr:`Log.on_failure` is called at once
(the engine hides its views before anyone reads them). A record is never
acknowledged after an error that may have touched it: a round that comes back
from its thread after another round failed is not acknowledged either.

The flusher then tries to clear the error by itself, after
``limits.log_retry_delay_ms_initial`` and then at doubling intervals (at
most ``limits.log_retry_delay_ms_max``): it cuts the files back to where the
last acknowledged record ends (:meth:`SegmentWriter.rewind
<bolt.log._writer.SegmentWriter.rewind>`: a partial record, records written
but not fsynced in ``always`` mode, a segment rolled in the failed round) and
fsyncs. Once that succeeds the log takes writes again from the offset after
the last acknowledged record (the refused records' offsets are reused; they
were never acknowledged and are no longer on disk), and
:meth:`Log.wait_healthy` returns. ``statistics()`` shows the failure while it
lasts and counts recoveries and failed tries. A waiter is bound to the failure
epoch it started in: it never mistakes a later record with a reused offset for
its own.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import trio
from crc32c import crc32c

from bolt import limits
from bolt.errors import DiskError, ShuttingDownError

from ._options import LogOptions, LogStatistics, RecoveryReport
from ._reader import read_open_segments
from ._record import RECORD_HEADER, check_payload_length
from ._recovery import lock_directory, recover
from ._writer import SegmentWriter

logger = logging.getLogger("bolt.log")

_pack_header = RECORD_HEADER.pack
_RECORD_BYTES_MAX = limits.record_bytes_max
_INLINE_WRITE_BYTES_MAX = limits.wal_inline_write_bytes_max


class Log:
    """An append-only, segmented, crash-safe log of opaque byte records.

    Create it with :meth:`Log.open`; start :meth:`run` in a nursery; then
    :meth:`append` and ``await`` :meth:`wait_for`. See the module docstring for
    the durability modes.
    """

    def __init__(self, options: LogOptions, lock_fd: int) -> None:
        """Use :meth:`Log.open`; this constructor expects recovery to be done."""
        self.options = options
        self._mode = options.fsync
        self._lock_fd = lock_fd
        recovered = recover(options.directory)
        self.recovery: RecoveryReport = recovered.report
        """What opening the log found (segments, records, a truncated torn tail)."""
        self._writer = SegmentWriter(
            options.directory,
            recovered.segments,
            recovered.fd,
            sync_on_roll=self._mode != "off",
            segment_bytes_max=options.segment_bytes_max,
        )
        offset = recovered.next_offset
        self._opened_offset = offset
        self._next_offset = offset
        self._written_offset = offset
        self._durable_offset = offset
        self._acked_offset = offset
        self._buffer = bytearray()
        self._stopped = False  # closed or failed: append refuses
        self._closed = False
        self._failure: str | None = None
        self._running = False
        # The flusher parks on _work; _wake_flusher sets it (a no-op when set).
        self._work = trio.Event()
        self._wake_always = options.fsync == "always"
        self._inline = options.fsync != "always"
        self._round_lock = trio.Lock()
        self._next_round = trio.Event()
        # The event of the latest round taken; set once that round is done (so
        # it starts set: nothing is in flight).
        self._inflight_round = trio.Event()
        self._inflight_round.set()
        self._inflight_end = offset
        # The batch-mode syncer: _unsynced once written > durable, _sync_due at batch_size.
        self._unsynced = trio.Event()
        self._unsynced_since = 0.0
        self._sync_due = trio.Event()
        self._sync_started_offset = offset  # what the syncer's latest fsync covers
        # Statistics.
        self._bytes_taken_total = 0  # framed bytes moved out of the buffer (written or lost)
        self._fsyncs_total = 0
        self._fsync_seconds_total = 0.0
        self._fsync_latencies: collections.deque[float] = collections.deque(
            maxlen=limits.fsync_latency_samples_max
        )
        self._write_errors_total = 0
        self._rounds_inline_total = 0
        self._rounds_threaded_total = 0
        # Errors (see "Errors: refuse, cut back, retry" in the module docstring).
        self._acked_mark = self._writer.mark()  # where the last acknowledged record ends
        self._epoch = 0  # bumped by every failure
        self._healthy = trio.Event()
        self._healthy.set()
        self._failed_event = trio.Event()
        self._recoveries_total = 0
        self._retries_failed_total = 0
        self.on_failure: Callable[[], None] | None = None
        """Called (on the trio thread) as soon as a write or fsync fails."""

    @classmethod
    def open(cls, options: LogOptions) -> Log:
        """Open the log in ``options.directory``, creating it if missing (blocking).

        Scans the last segment, truncates a torn tail (see :attr:`recovery`)
        and takes an exclusive lock on the directory.

        Raises:
            bolt.errors.ConfigError: an invalid option.
            bolt.errors.CorruptionError: damage before the tail; the message names
                the file and byte position.
            bolt.errors.FormatVersionError: a segment of a newer format.
            bolt.errors.StorageError: another process has the log open.
            OSError: the directory cannot be read or written.
        """
        options.validate()
        options = dataclasses.replace(options, directory=Path(options.directory))
        lock_fd = lock_directory(options.directory)
        try:
            return cls(options, lock_fd)
        except BaseException:
            os.close(lock_fd)
            raise

    # --- offsets ------------------------------------------------------------

    @property
    def first_offset(self) -> int:
        """The oldest offset still retained."""
        return self._writer.first_offset

    @property
    def next_offset(self) -> int:
        """The offset the next :meth:`append` will return."""
        return self._next_offset

    @property
    def written_offset(self) -> int:
        """Every record below this offset has been written to the OS."""
        return self._written_offset

    @property
    def durable_offset(self) -> int:
        """Every record below this offset has been fsynced."""
        return self._durable_offset

    @property
    def acked_offset(self) -> int:
        """Every record below this offset is acknowledged per the mode (it does
        not move while the log is failed: the records from it on are lost)."""
        return self._acked_offset

    @property
    def failure(self) -> str | None:
        """Why the log refuses writes right now, or None."""
        return self._failure

    async def wait_healthy(self) -> None:
        """Return once the log takes writes (at once if it does)."""
        await self._healthy.wait()

    async def wait_failure(self) -> None:
        """Return once a write or fsync has failed (at once if the log is failed now)."""
        await self._failed_event.wait()

    # --- the hot path ---------------------------------------------------------

    def append(self, payload: bytes) -> int:
        """Frame ``payload`` into the write buffer; no I/O (trio thread only).

        Args:
            payload: 1 to ``limits.record_bytes_max`` opaque bytes.

        Returns:
            The record's offset.

        Raises:
            bolt.errors.TooLargeError: the payload is over ``limits.record_bytes_max``.
            bolt.errors.BadRequestError: the payload is empty.
            bolt.errors.DiskError: an earlier write or fsync failed.
            bolt.errors.ShuttingDownError: the log is closed.
        """
        length = len(payload)
        if self._stopped or not 0 < length <= _RECORD_BYTES_MAX:
            self._refuse(length)
        buffer = self._buffer
        buffer += _pack_header(length, crc32c(payload))
        buffer += payload
        offset = self._next_offset
        self._next_offset = offset + 1
        # In batch/off mode a small buffer is written by the waiter itself
        # (wait_for, inline); waking the flusher for it would cost a task
        # switch per request for nothing. The flusher polls for leftovers.
        if self._wake_always or len(buffer) > _INLINE_WRITE_BYTES_MAX:
            self._wake_flusher()
        return offset

    def _wake_flusher(self) -> None:
        self._work.set()

    def _refuse(self, length: int) -> None:
        if self._failure is not None:
            raise self._disk_error()
        if self._closed:
            raise ShuttingDownError("the log is closed")
        check_payload_length(length)

    def _disk_error(self) -> DiskError:
        failure = self._failure or "an earlier error (cleared since)"
        return DiskError(f"the log in {self.options.directory} failed: {failure}")

    async def wait_for(self, offset: int) -> None:
        """Return once the record at ``offset`` is acknowledged per the mode.

        ``"off"`` and ``"batch"``: written to the OS; ``"always"``: fsynced.
        Returns without a schedule point when it already is. :meth:`run` must
        be running (or :meth:`flush` called) for this to make progress.

        Raises:
            bolt.errors.DiskError: the write or fsync of the record failed.
            ValueError: ``offset`` has not been appended.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        epoch = self._epoch
        if offset >= self._acked_offset and offset < self._next_offset and self._inline:
            # Yield once first: every task that became runnable in this pass
            # of the scheduler (other connections with requests) appends its
            # records too, and ONE write(2) then covers them all.
            await trio.lowlevel.cancel_shielded_checkpoint()
            if offset >= self._acked_offset and not self._write_inline():
                self._wake_flusher()  # e.g. the round would roll a segment: a thread's job
        while offset >= self._acked_offset:
            if self._failure is not None or self._epoch != epoch:
                raise self._disk_error()
            if offset >= self._next_offset:
                raise ValueError(
                    f"offset {offset} has not been appended (next is {self._next_offset})"
                )
            if offset < self._inflight_end:
                await self._inflight_round.wait()
            elif self._inline and self._round_lock.locked():
                # A thread round without our record is in flight: once it is
                # done, write ours inline rather than wait for the flusher.
                await self._inflight_round.wait()
                if offset >= self._acked_offset and not self._write_inline():
                    self._wake_flusher()
            else:
                await self._next_round.wait()

    # --- the flusher ----------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Write (and fsync) appended records in the background until closed.

        Start it with ``await nursery.start(log.run)``. It returns when the log
        is closed or has failed; cancel it to stop it early (a round already in
        its thread call completes first).
        """
        if self._running:
            raise RuntimeError("Log.run is already running")
        self._running = True
        try:
            async with trio.open_nursery() as nursery:
                if self._mode == "batch":
                    nursery.start_soon(self._sync_loop)
                task_status.started()
                while True:
                    await self._write_loop()
                    if self._closed or self._failure is None:
                        break
                    await self._recover()
                nursery.cancel_scope.cancel()
        finally:
            self._running = False

    async def _write_loop(self) -> None:
        if self._mode == "always":
            while not self._stopped:
                if not self._buffer:
                    await self._park(None)
                    continue
                async with self._round_lock:
                    await self._write_round(sync=True)
            return
        # batch/off: waiters write their own small rounds (wait_for). The
        # flusher writes what nobody waits for once per flush interval, and at
        # once when woken (a buffer too big to write inline, a segment to
        # roll). It must not loop while the buffer is merely non-empty: under
        # load it always is, and back-to-back thread rounds would take the
        # writes away from the waiters and cost the loop a thread hand-off
        # per round.
        poll_seconds = self.options.flush_interval_ms / 1000
        while not self._stopped:
            if len(self._buffer) <= _INLINE_WRITE_BYTES_MAX:
                await self._park(poll_seconds)
            if self._buffer and not self._write_inline():
                async with self._round_lock:
                    await self._write_round(sync=False)

    async def _park(self, seconds: float | None) -> None:
        """Wait until woken by ``_wake_flusher`` (or ``seconds`` passed).

        A wake that came while the flusher was busy is not lost: ``_work``
        stays set, so this returns at once.
        """
        if seconds is None:
            await self._work.wait()
        else:
            with trio.move_on_after(seconds):
                await self._work.wait()
        if self._work.is_set():
            self._work = trio.Event()

    async def _sync_loop(self) -> None:
        interval_seconds = self.options.flush_interval_ms / 1000
        while not self._closed:
            if self._failure is not None:
                await self._healthy.wait()
                continue
            await self._unsynced.wait()
            with trio.move_on_at(self._unsynced_since + interval_seconds):
                await self._sync_due.wait()
            self._unsynced = trio.Event()
            self._sync_due = trio.Event()
            target = self._written_offset
            if self._stopped or target <= self._durable_offset:
                continue
            self._sync_started_offset = target
            epoch = self._epoch
            with trio.CancelScope(shield=True):
                try:
                    duration = await trio.to_thread.run_sync(self._writer.fsync)
                except OSError as error:
                    if epoch == self._epoch:
                        self._fail("fsync", error)
                    continue
                except Exception as error:
                    self._fail("fsync", error)
                    raise
            if epoch != self._epoch:
                continue  # a failure came meanwhile: what this covered may be cut back
            self._record_fsyncs([duration])
            self._durable_offset = max(self._durable_offset, target)

    def _take_round(self) -> tuple[bytearray, int, int, trio.Event]:
        """Swap out the buffer for one write round: ``(data, start, end, event)``."""
        data = self._buffer
        start, end = self._written_offset, self._next_offset
        self._buffer = bytearray()
        self._bytes_taken_total += len(data)
        event = self._next_round
        self._next_round = trio.Event()
        self._inflight_round = event
        self._inflight_end = end
        return data, start, end, event

    def _finish_round(
        self, end: int, sync: bool, durations: list[float], event: trio.Event
    ) -> None:
        """Advance the offsets after a round's write (and fsync) and wake its waiters."""
        self._written_offset = end
        if sync:
            self._durable_offset = end
        self._record_fsyncs(durations)
        self._acked_offset = self._durable_offset if self._mode == "always" else end
        self._acked_mark = self._writer.mark()
        event.set()
        if self._mode == "batch" and self._durable_offset < end:
            if not self._unsynced.is_set():
                self._unsynced_since = trio.current_time()
                self._unsynced.set()
            # Count from what the fsync in progress (if any) will cover, so
            # records it already includes do not trigger another one.
            covered = max(self._durable_offset, self._sync_started_offset)
            if end - covered >= self.options.batch_size:
                self._sync_due.set()

    def _write_inline(self) -> bool:
        """Write a small round on the event loop itself; False if it must go to a thread.

        Only in ``batch`` and ``off`` mode, only when no round is in flight,
        only for at most ``limits.wal_inline_write_bytes_max`` bytes, and
        never when the write would roll a segment (rolling fsyncs). A small
        ``write(2)`` to the page cache takes microseconds, far less than the
        round trip to a worker thread; the fsyncs, which wait for the disk,
        stay in threads. See the module docstring.
        """
        data = self._buffer
        if (
            self._mode == "always"
            or not data
            or len(data) > _INLINE_WRITE_BYTES_MAX
            or self._round_lock.locked()
            or self._stopped
            or not self._writer.fits(len(data))
        ):
            return False
        data, start, end, event = self._take_round()
        self._rounds_inline_total += 1
        try:
            durations = self._writer.write(data, start)
        except OSError as error:
            self._fail("write", error)
            return True
        self._finish_round(end, False, durations, event)
        return True

    async def _write_round(self, *, sync: bool) -> None:
        """Write everything appended so far, and fsync it when ``sync``.

        The caller holds ``_round_lock``.
        """
        sync = sync and (bool(self._buffer) or self._durable_offset < self._written_offset)
        if self._stopped or not (self._buffer or sync):
            return
        data, start, end, event = self._take_round()
        self._rounds_threaded_total += 1
        epoch = self._epoch
        with trio.CancelScope(shield=True):
            try:
                durations = await trio.to_thread.run_sync(self._write_in_thread, data, start, sync)
            except OSError as error:
                if epoch == self._epoch:
                    self._fail("write and fsync" if sync else "write", error)
                return
            except Exception as error:
                self._fail("write", error)
                raise  # a bug, not the disk: let the nursery see it
        if epoch != self._epoch:
            return  # another error came meanwhile (the syncer's): never acknowledge
        self._finish_round(end, sync, durations, event)

    def _write_in_thread(self, data: bytearray, start: int, sync: bool) -> list[float]:
        durations = self._writer.write(data, start) if data else []
        if sync:
            durations.append(self._writer.fsync())
        return durations

    def _record_fsyncs(self, durations: list[float]) -> None:
        for seconds in durations:
            self._fsyncs_total += 1
            self._fsync_seconds_total += seconds
            self._fsync_latencies.append(seconds)

    def _fail(self, what: str, error: Exception) -> None:
        """Mark the log failed and wake everyone who waits on it."""
        if self._failure is None:
            self._failure = f"{what} error: {error}"
            logger.error("log: %s failed in %s: %s", what, self.options.directory, error)
        self._write_errors_total += 1
        self._stopped = True
        self._epoch += 1
        self._bytes_taken_total += len(self._buffer)
        self._buffer = bytearray()
        for event in (self._next_round, self._inflight_round, self._work, self._unsynced):
            event.set()
        self._sync_due.set()
        if self._healthy.is_set():
            self._healthy = trio.Event()
        self._failed_event.set()
        if self.on_failure is not None:
            self.on_failure()

    async def _recover(self) -> None:
        """Clear a failure: cut the files back to the last acknowledged record, retrying.

        Returns once the log takes writes again, or once it is closed.
        """
        delay = limits.log_retry_delay_ms_initial / 1000
        while not self._closed:
            self._work = trio.Event()  # close() sets it: stop waiting at once
            with trio.move_on_after(delay):
                await self._work.wait()
            async with self._round_lock:
                if self._closed:
                    return
                with trio.CancelScope(shield=True):
                    try:
                        await trio.to_thread.run_sync(self._writer.rewind, *self._acked_mark)
                    except OSError as error:
                        self._retries_failed_total += 1
                        logger.warning(
                            "log: still failing in %s (%s); next try in %.1fs",
                            self.options.directory,
                            error,
                            min(delay * 2, limits.log_retry_delay_ms_max / 1000),
                        )
                        delay = min(delay * 2, limits.log_retry_delay_ms_max / 1000)
                        continue
                self._resume()
                return

    def _resume(self) -> None:
        """Take writes again from the offset after the last acknowledged record."""
        end = self._acked_offset
        lost = self._next_offset - end
        self._next_offset = self._written_offset = self._durable_offset = end
        self._inflight_end = self._sync_started_offset = end
        self._buffer = bytearray()
        self._next_round = trio.Event()
        self._work = trio.Event()
        self._unsynced = trio.Event()
        self._sync_due = trio.Event()
        self._failure = None
        self._stopped = False
        self._failed_event = trio.Event()
        self._recoveries_total += 1
        self._healthy.set()
        logger.warning(
            "log: recovered in %s: the error cleared, writes resume at offset %d "
            "(%d unacknowledged records were refused and cut off)",
            self.options.directory,
            end,
            lost,
        )

    # --- flush and close ------------------------------------------------------

    async def flush(self) -> None:
        """Write and fsync everything appended so far (any mode).

        Raises:
            bolt.errors.DiskError: the write or fsync failed, now or earlier.
        """
        async with self._round_lock:
            await self._write_round(sync=True)
        if self._failure is not None:
            raise self._disk_error()

    async def close(self) -> None:
        """Flush, fsync and close the files; makes :meth:`run` return. Idempotent.

        Raises:
            bolt.errors.DiskError: the final write or fsync failed (the files are
                closed anyway). A log that failed earlier closes quietly.
        """
        if self._closed:
            return
        failed_before = self._failure is not None
        with trio.CancelScope(shield=True):
            async with self._round_lock:
                if self._closed:
                    return
                await self._write_round(sync=True)
                self._closed = True
                self._stopped = True
                self._work.set()
                self._unsynced.set()
                self._sync_due.set()
                await trio.to_thread.run_sync(self._close_files)
        if self._failure is not None and not failed_before:
            raise self._disk_error()

    def _close_files(self) -> None:
        self._writer.close()
        if self._lock_fd >= 0:
            fd, self._lock_fd = self._lock_fd, -1
            os.close(fd)  # closing the descriptor releases the flock

    # --- reading and retention ----------------------------------------------------

    def read(self, from_offset: int, to_offset: int | None = None) -> Iterator[tuple[int, bytes]]:
        """Iterate over ``(offset, payload)`` of written records from ``from_offset``.

        Only records already written to the OS (below :attr:`written_offset`
        when called) are read; files are opened read-only, so this may run in
        a worker thread while the flusher writes.

        Args:
            from_offset: the first offset wanted.
            to_offset: stop before this offset (None: up to ``written_offset``).

        Raises:
            ValueError: ``from_offset`` is below :attr:`first_offset` (or the
                segment holding it was dropped while reading).
            bolt.errors.CorruptionError: a segment file was damaged behind the log's back.
        """
        first_offset = self.first_offset
        if from_offset < first_offset:
            raise ValueError(
                f"offset {from_offset} is before the first retained offset {first_offset}"
            )
        limit = self._written_offset if to_offset is None else min(to_offset, self._written_offset)
        return read_open_segments(
            self._writer.snapshot(), from_offset, limit, self.options.directory
        )

    def drop_before(self, offset: int) -> int:
        """Delete whole segment files all of whose records are below ``offset``.

        The active segment is never deleted, so :attr:`first_offset` may stay
        below ``offset``.

        Returns:
            The number of segment files removed.
        """
        return self._writer.drop_before(offset)

    def bytes_from(self, offset: int) -> int:
        """Bytes of the segment files holding records at or after ``offset``
        (what the log keeps for a reader that still needs ``offset``)."""
        segments = self._writer.snapshot()
        total = 0
        for index, segment in enumerate(segments):
            following = segments[index + 1].first_offset if index + 1 < len(segments) else None
            if following is None or following > offset:
                total += segment.size
        return total

    # --- statistics -------------------------------------------------------------

    def statistics(self) -> LogStatistics:
        """A snapshot of the log's offsets and counters."""
        latencies = sorted(self._fsync_latencies)
        p99 = 0.0
        if latencies:
            p99 = latencies[max(0, -(-len(latencies) * 99 // 100) - 1)] * 1000
        segments = self._writer.snapshot()
        return LogStatistics(
            mode=self._mode,
            first_offset=segments[0].first_offset,
            next_offset=self._next_offset,
            written_offset=self._written_offset,
            durable_offset=self._durable_offset,
            segments=len(segments),
            bytes_on_disk=sum(segment.size for segment in segments),
            records_appended_total=self._next_offset - self._opened_offset,
            bytes_appended_total=self._bytes_taken_total + len(self._buffer),
            fsyncs_total=self._fsyncs_total,
            fsync_seconds_total=self._fsync_seconds_total,
            fsync_latency_ms_p99=p99,
            write_errors_total=self._write_errors_total,
            rounds_inline_total=self._rounds_inline_total,
            rounds_threaded_total=self._rounds_threaded_total,
            failure=self._failure,
            recoveries_total=self._recoveries_total,
            retries_failed_total=self._retries_failed_total,
        )
