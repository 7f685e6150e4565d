"""Opening a data directory read-only, and streaming its log as events.

Theory of operation
-------------------
A Bolt data directory holds ``NODE_ID``, the daemon's ``LOCK``, the segmented
log in ``log/`` and the LMDB snapshot in ``snapshot/``. The replay tool never
writes to any of it and never takes a lock: the log is read only through
:class:`bolt.log.LogReader` (read-only, tolerant of a live writer, quiet at a
torn tail) and the snapshot only through
``SnapshotStore(path, readonly=True)``. A daemon may therefore keep running
while the tool reads; what the tool sees is a prefix of what the daemon wrote.

:class:`RecordStream` turns ``(offset, payload)`` records into decoded events
and never raises on damage: real corruption (from the reader, or a record
whose CRC is right but whose payload does not decode) ends the stream and is
kept in :attr:`RecordStream.damage`, so callers show everything that precedes
the damage and then say exactly where they stopped. A record written by a
newer Bolt is not damage: it raises :class:`~bolt.errors.FormatVersionError`
naming the file and offset, because reading past it would misread data.

Progress is reported in log bytes consumed (record header + payload), which
matches the segment file sizes the caller can total up in advance.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bolt.errors import (
    CorruptionError,
    FormatVersionError,
    LogTrimmedError,
    NotADataDirectoryError,
    StorageError,
)
from bolt.events import Event, decode_record
from bolt.log import RECORD_HEADER_BYTES, LogReader, list_segment_files
from bolt.state.snapshot import LoadedSnapshot, ShardSnapshot, SnapshotStore

Progress = Callable[[int], None]
"""Called with the number of log bytes consumed so far."""

PROGRESS_EVERY_RECORDS = 4096
"""Records between two progress callbacks (keeps the callback off the hot path)."""

_SNAPSHOT_LOAD_ATTEMPTS = 20


@dataclass(frozen=True, slots=True)
class Damage:
    """Where reading stopped because the log is damaged.

    ``offset`` is the first offset that could not be read; ``path`` the segment
    file holding the damage and ``position`` the byte position in it (-1 when
    only the offset is known, e.g. a record that does not decode).
    """

    path: str
    position: int
    offset: int
    message: str


@dataclass(frozen=True)
class DataDir:
    """A Bolt data directory opened for reading (see :func:`open_data_dir`)."""

    path: Path
    node_id: str | None

    @property
    def log_dir(self) -> Path:
        """The directory of the segment files."""
        return self.path / "log"

    @property
    def snapshot_dir(self) -> Path:
        """The LMDB snapshot environment."""
        return self.path / "snapshot"

    def reader(self) -> LogReader:
        """A read-only reader of the log."""
        return LogReader(self.log_dir)

    def segment_files(self) -> list[tuple[int, Path]]:
        """``(first_offset, path)`` of every segment file, oldest first."""
        if not self.log_dir.is_dir():
            return []
        return list_segment_files(self.log_dir)

    def first_offset(self) -> int:
        """The oldest offset the log still holds (0 for an empty log)."""
        files = self.segment_files()
        return files[0][0] if files else 0

    def segment_for(self, offset: int) -> Path | None:
        """The segment file that holds (or would hold) ``offset``."""
        found: Path | None = None
        for first, path in self.segment_files():
            if first <= offset:
                found = path
        return found

    def log_bytes(self, from_offset: int = 0) -> int:
        """Total size of the segment files a read from ``from_offset`` touches."""
        files = self.segment_files()
        total = 0
        for index, (_first, path) in enumerate(files):
            following = files[index + 1][0] if index + 1 < len(files) else None
            if following is not None and following <= from_offset:
                continue
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                continue
        return total

    def has_snapshot(self) -> bool:
        """True when an LMDB snapshot file exists (it may still hold no shard)."""
        return (self.snapshot_dir / "data.mdb").is_file()

    def load_snapshot(self) -> LoadedSnapshot | None:
        """Read the snapshot read-only (None when there is none).

        On the directory of a live daemon the snapshot is read as a registered
        LMDB reader (see :func:`_open_snapshot_store`), and a shard is only
        taken from a read during which the daemon did not rewrite it (its
        covered offset was the same before and after): shards are independent
        (each carries its covered offset, dots and HLC, and recovery replays
        per shard), so a shard that was being rewritten is simply read again.

        Raises:
            bolt.errors.FormatVersionError: the snapshot is in another format
                (from a newer or an older Bolt).
            bolt.errors.StorageError: the snapshot cannot be read.
        """
        if not self.has_snapshot():
            return None
        import lmdb

        in_use = self.snapshot_in_use()
        verified: dict[int, ShardSnapshot] = {}
        last_error: object = None
        for attempt in range(_SNAPSHOT_LOAD_ATTEMPTS):
            if attempt:
                time.sleep(min(0.01 * attempt, 0.1))
            try:
                store = _open_snapshot_store(self.snapshot_dir, in_use)
            except lmdb.Error as error:
                raise StorageError(
                    f"cannot open the snapshot in {self.snapshot_dir}: {error}"
                ) from error
            try:
                snapshot = store.load()
                if snapshot is None or not snapshot.shards:
                    return None
                if not in_use:
                    return snapshot
                after = store.covered()
            except FormatVersionError:
                raise
            except (lmdb.Error, ValueError, KeyError, TypeError) as error:
                last_error = error
                continue
            finally:
                store.close()
            for index, shard in snapshot.shards.items():
                if after.get(index) == shard.covered:
                    verified.setdefault(index, shard)
            if all(index in verified for index in after):
                shards = {index: verified[index] for index in after}
                return LoadedSnapshot(snapshot.node_id, snapshot.shard_count, shards)
            last_error = "the daemon kept rewriting it while it was being read"
        raise StorageError(f"cannot read the snapshot in {self.snapshot_dir}: {last_error}")

    def snapshot_in_use(self) -> bool:
        """True when a process (the daemon) holds the directory's or the snapshot's lock.

        Read from ``/proc/locks``, so nothing is locked to find out. Where that
        file does not exist, the answer is True whenever LMDB's lock file exists
        (the safe side: see :func:`_open_snapshot_store`).
        """
        lock_file = self.snapshot_dir / "lock.mdb"
        if not lock_file.exists():
            return False
        held = _held_locks()
        if held is None:
            return True
        for path in (lock_file, self.path / "LOCK"):
            try:
                stat = path.stat()
            except OSError:
                continue
            if (os.major(stat.st_dev), os.minor(stat.st_dev), stat.st_ino) in held:
                return True
        return False


def _held_locks() -> set[tuple[int, int, int]] | None:
    """``(major, minor, inode)`` of every file some process holds a lock on (Linux)."""
    try:
        text = Path("/proc/locks").read_text()
    except OSError:
        return None
    held: set[tuple[int, int, int]] = set()
    for line in text.splitlines():
        # "1: FLOCK  ADVISORY  WRITE 24208 fe:00:2146438 0 EOF" (waiters add "->")
        for field in line.split()[4:7]:
            parts = field.split(":")
            if len(parts) == 3:
                try:
                    held.add((int(parts[0], 16), int(parts[1], 16), int(parts[2])))
                except ValueError:
                    continue
                break
    return held


def _open_snapshot_store(snapshot_dir: Path, in_use: bool) -> SnapshotStore:
    """Open the snapshot read-only, as a registered LMDB reader when a daemon is live.

    A lock-less reader is invisible to the daemon's writer, which recycles
    pages freed two write transactions ago -- pages the reader may still be
    walking (torn data, or an abort inside LMDB). Registered, the reader takes
    a slot in LMDB's reader table: the daemon keeps those pages until the read
    ends and never waits for it. Offline, the plain lock-less open is safe and
    changes no byte at all.
    """
    if not in_use:
        return SnapshotStore(snapshot_dir, readonly=True)
    import lmdb

    try:
        return SnapshotStore(snapshot_dir, readonly=True, register_reader=True)
    except lmdb.Error:  # e.g. lock.mdb not writable by this user: the lock-less open
        return SnapshotStore(snapshot_dir, readonly=True)


def open_data_dir(path: str | os.PathLike[str]) -> DataDir:
    """Check that ``path`` is a Bolt data directory and open it for reading.

    Nothing is created, locked or modified.

    Raises:
        NotADataDirectoryError: ``path`` is missing, not a directory, or holds
            neither ``NODE_ID`` nor ``log/``.
        bolt.errors.StorageError: the directory cannot be read.
    """
    directory = Path(path)
    if not directory.exists():
        raise NotADataDirectoryError(f"{directory} does not exist")
    if not directory.is_dir():
        raise NotADataDirectoryError(f"{directory} is not a directory")
    try:
        names = set(os.listdir(directory))
    except OSError as error:
        raise StorageError(f"cannot read {directory}: {error}") from error
    if "NODE_ID" not in names and not (directory / "log").is_dir():
        hint = ""
        if any(name.endswith(".seg") for name in names):
            hint = f"; it holds segment files: pass its parent ({directory.parent})"
        raise NotADataDirectoryError(
            f"{directory} is not a Bolt data directory (no NODE_ID and no log/){hint}"
        )
    node_id: str | None = None
    if "NODE_ID" in names:
        try:
            node_id = (directory / "NODE_ID").read_text().strip() or None
        except OSError as error:
            raise StorageError(f"cannot read {directory / 'NODE_ID'}: {error}") from error
    return DataDir(directory, node_id)


class RecordStream:
    """Iterate over ``(offset, events)`` of a data directory's log.

    Args:
        data_dir: the opened data directory.
        from_offset: the first offset wanted (clamped up to the first retained one;
            :attr:`clamped_from` then tells what was asked).
        to_offset: stop before this offset (None: to the end of the log).
        progress: called with the log bytes consumed, every few thousand records.
        strict: raise :class:`LogTrimmedError` instead of clamping ``from_offset``
            when it is before the first retained record (state rebuilds need
            every record after the snapshot; a plain dump does not).

    After iteration, :attr:`damage` holds where corruption stopped the stream
    (None when the log ended cleanly or at a torn tail) and :attr:`next_offset`
    the offset after the last record yielded.

    Raises (while iterating):
        bolt.errors.FormatVersionError: a segment or record of a newer format.
    """

    def __init__(
        self,
        data_dir: DataDir,
        from_offset: int = 0,
        to_offset: int | None = None,
        progress: Progress | None = None,
        *,
        strict: bool = False,
    ) -> None:
        self.data_dir = data_dir
        first = data_dir.first_offset()
        if strict and from_offset < first:
            raise LogTrimmedError(
                f"the log now starts at offset {first}, after offset {from_offset} that is needed"
            )
        self.clamped_from: int | None = from_offset if from_offset < first else None
        self.from_offset = max(from_offset, first)
        self.to_offset = to_offset
        self.progress = progress
        self.damage: Damage | None = None
        self.next_offset = self.from_offset

    def __iter__(self) -> Iterator[tuple[int, list[Event]]]:
        if self.to_offset is not None and self.to_offset <= self.from_offset:
            return
        reader = self.data_dir.reader()
        if not reader.directory.is_dir():
            return
        progress = self.progress
        every = PROGRESS_EVERY_RECORDS
        header = RECORD_HEADER_BYTES
        done = 0
        count = 0
        offset = self.from_offset - 1
        try:
            for offset, payload in reader.read(self.from_offset, self.to_offset):
                done += header + len(payload)
                try:
                    events = decode_record(payload)
                except FormatVersionError as error:
                    raise FormatVersionError(f"{self._where(offset)}: {error}") from error
                except CorruptionError as error:
                    self.damage = Damage(
                        str(self.data_dir.segment_for(offset) or self.data_dir.log_dir),
                        -1,
                        offset,
                        f"{self._where(offset)} does not decode ({error})",
                    )
                    return
                self.next_offset = offset + 1
                yield offset, events
                count += 1
                if progress is not None and count % every == 0:
                    progress(done)
        except CorruptionError as error:
            self.damage = Damage(error.path, error.position, offset + 1, str(error))
        except ValueError as error:  # the first segment went away since __init__
            raise LogTrimmedError(f"cannot read the log: {error}") from error
        except FileNotFoundError as error:
            raise LogTrimmedError(
                f"a log segment was removed while it was being read ({error.filename}); "
                "the daemon's retention moved on: read again"
            ) from error
        finally:
            if progress is not None:
                progress(done)

    def _where(self, offset: int) -> str:
        path = self.data_dir.segment_for(offset)
        return f"record at offset {offset} in {path if path else self.data_dir.log_dir}"

    def events(self) -> Iterator[tuple[int, int, Event]]:
        """Iterate over ``(offset, index in record, event)`` instead of whole records."""
        for offset, events in self:
            for index, event in enumerate(events):
                yield offset, index, event
