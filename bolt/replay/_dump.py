"""Streaming the events of a log through filters, and tailing a live log.

Theory of operation
-------------------
:func:`dump` is a generator over a :class:`~bolt.replay._source.RecordStream`:
one record is decoded, filtered and handed on at a time, so memory stays
bounded however long the log is. Offset bounds narrow what is read; every
other filter (time, key glob, database, type, origin) is checked per event,
because a node's log is in arrival order, not HLC order (replicated events
interleave), so a time filter cannot stop the scan early.

:class:`Follower` tails a log a daemon is writing (``dump --follow``). It
keeps the byte position reached in the current segment, so each poll reads
only what was appended since the last one, instead of rescanning the segment
(which may be 64 MiB) from its start. A record the daemon is writing right now
looks like a torn tail and is simply read at the next poll. When a newer
segment appears, the current one is finished (a torn record there is now real
damage) and the follower moves on; a segment deleted by retention before the
follower reached it is an error that says where to resume.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bolt.errors import BadRequestError, CorruptionError, FormatVersionError, StorageError
from bolt.events import EVENT_NAMES, Event, decode_record
from bolt.log import RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES, read_segment_records
from bolt.state import compile_glob

from ._source import Damage, DataDir, Progress, RecordStream


def parse_types(text: str) -> frozenset[str]:
    """Parse ``--type``: event type names, comma-separated, any case.

    Raises:
        bolt.errors.BadRequestError: an unknown type name (the message lists the known ones).
    """
    known = {name.lower(): name for name in EVENT_NAMES}
    found: set[str] = set()
    for part in text.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if name not in known:
            names = ", ".join(sorted(EVENT_NAMES))
            raise BadRequestError(f"unknown event type {part.strip()!r}; known types: {names}")
        found.add(known[name])
    if not found:
        raise BadRequestError("--type needs at least one event type")
    return frozenset(found)


@dataclass(frozen=True)
class EventFilter:
    """Which events to keep. Every bound is inclusive; None means no bound."""

    from_offset: int = 0
    to_offset: int | None = None
    since_hlc: int | None = None
    until_hlc: int | None = None
    key_glob: str | None = None
    db: str | None = None
    types: frozenset[str] = field(default_factory=frozenset)
    origins: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.from_offset < 0 or (self.to_offset is not None and self.to_offset < 0):
            raise BadRequestError("offsets start at 0")
        if self.to_offset is not None and self.to_offset < self.from_offset:
            raise BadRequestError(f"--to {self.to_offset} is before --from {self.from_offset}")

    def matcher(self) -> Callable[[Event], bool] | None:
        """A predicate over events, or None when every event passes."""
        since, until, db = self.since_hlc, self.until_hlc, self.db
        types, origins = self.types, self.origins
        matches = compile_glob(self.key_glob) if self.key_glob is not None else None
        unfiltered = since is None and until is None and db is None and matches is None
        if unfiltered and not types and not origins:
            return None

        def keep(event: Event) -> bool:
            hlc = event.hlc
            if since is not None and hlc < since:
                return False
            if until is not None and hlc > until:
                return False
            if db is not None and event.db != db:
                return False
            if types and type(event).__name__ not in types:
                return False
            if origins and event.origin not in origins:
                return False
            return matches is None or bool(matches(event.key))

        return keep


@dataclass(frozen=True, slots=True)
class DumpedEvent:
    """One event with its place in the log: record ``offset``, ``index`` in the record."""

    offset: int
    index: int
    event: Event


class DumpStream:
    """The events of a log that pass a filter, in log order (iterate it once).

    After iteration, :attr:`damage` says where corruption stopped the stream,
    :attr:`clamped_from` is set when ``from_offset`` was before the oldest
    retained record, and :attr:`next_offset` is the offset after the last
    record read.
    """

    def __init__(
        self, data_dir: DataDir, event_filter: EventFilter, progress: Progress | None = None
    ) -> None:
        stop = None if event_filter.to_offset is None else event_filter.to_offset + 1
        self._stream = RecordStream(data_dir, event_filter.from_offset, stop, progress)
        self._keep = event_filter.matcher()

    @property
    def damage(self) -> Damage | None:
        """Where corruption ended the stream (None: it ended cleanly)."""
        return self._stream.damage

    @property
    def clamped_from(self) -> int | None:
        """The requested start when it was before the first retained offset."""
        return self._stream.clamped_from

    @property
    def first_offset(self) -> int:
        """The offset the stream started from."""
        return self._stream.from_offset

    @property
    def next_offset(self) -> int:
        """The offset after the last record read."""
        return self._stream.next_offset

    def __iter__(self) -> Iterator[DumpedEvent]:
        keep = self._keep
        for offset, events in self._stream:
            for index, event in enumerate(events):
                if keep is None or keep(event):
                    yield DumpedEvent(offset, index, event)


def dump(
    data_dir: DataDir, event_filter: EventFilter | None = None, progress: Progress | None = None
) -> DumpStream:
    """Stream the events of ``data_dir``'s log that pass ``event_filter``.

    Raises (while iterating):
        bolt.errors.FormatVersionError: data from a newer Bolt.
    """
    return DumpStream(data_dir, event_filter or EventFilter(), progress)


class Follower:
    """Tail a (possibly live) log: every event from ``from_offset`` on, waiting for more.

    Args:
        data_dir: the opened data directory.
        event_filter: which events to yield (``to_offset`` ends the tail).
        poll_interval: seconds between looks at the files once caught up.
        should_stop: polled while waiting; True ends the iteration.
    """

    def __init__(
        self,
        data_dir: DataDir,
        event_filter: EventFilter | None = None,
        *,
        poll_interval: float = 0.2,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.data_dir = data_dir
        self.filter = event_filter or EventFilter()
        self.poll_interval = poll_interval
        self.should_stop = should_stop
        first = data_dir.first_offset()
        self.clamped_from: int | None = (
            self.filter.from_offset if self.filter.from_offset < first else None
        )
        self.next_offset = max(self.filter.from_offset, first)
        self._segment: tuple[int, Path] | None = None
        self._position = 0
        self._segment_next = 0  # the offset at self._position

    def __iter__(self) -> Iterator[DumpedEvent]:
        keep = self.filter.matcher()
        last_wanted = self.filter.to_offset
        while not self.should_stop():
            if last_wanted is not None and self.next_offset > last_wanted:
                return
            progressed = False
            for offset, payload in self._poll():
                progressed = True
                try:
                    events = decode_record(payload)
                except CorruptionError as error:
                    raise CorruptionError(
                        f"record at offset {offset} does not decode ({error})",
                        path=str(self._segment[1]) if self._segment else "",
                        position=-1,
                    ) from error
                except FormatVersionError as error:
                    raise FormatVersionError(f"record at offset {offset}: {error}") from error
                for index, event in enumerate(events):
                    if keep is None or keep(event):
                        yield DumpedEvent(offset, index, event)
                self.next_offset = offset + 1
                if last_wanted is not None and self.next_offset > last_wanted:
                    return
            if not progressed:
                time.sleep(self.poll_interval)

    def _poll(self) -> Iterator[tuple[int, bytes]]:
        """Everything appended since the last poll (across segment rolls)."""
        while True:
            files = self.data_dir.segment_files()
            if not files:
                return
            if self._segment is None or self._segment not in files:
                self._start_segment(files)
            assert self._segment is not None
            index = files.index(self._segment)
            is_last = index == len(files) - 1
            yield from self._read_current(last=is_last)
            if is_last:
                return
            following = files[index + 1]
            if following[0] != self._segment_next:
                raise CorruptionError(
                    f"gap in the log: {self._segment[1]} ends before offset {self._segment_next} "
                    f"but {following[1]} starts at offset {following[0]}",
                    path=str(following[1]),
                    position=0,
                )
            self._segment = following
            self._position = 0
            self._segment_next = following[0]

    def _start_segment(self, files: list[tuple[int, Path]]) -> None:
        """Pick the segment holding ``next_offset`` (first call, or after retention)."""
        wanted = self.next_offset
        if wanted < files[0][0]:
            raise StorageError(
                f"the records from offset {wanted} were removed by retention before they "
                f"could be read; the log now starts at offset {files[0][0]}"
            )
        chosen = files[0]
        for first, path in files:
            if first <= wanted:
                chosen = (first, path)
        self._segment = chosen
        self._position = 0
        self._segment_next = chosen[0]

    def _read_current(self, *, last: bool) -> Iterator[tuple[int, bytes]]:
        assert self._segment is not None
        path = self._segment[1]
        records = read_segment_records(
            path,
            start_position=self._position,
            start_offset=self._segment_next,
            from_offset=self._segment_next,
            to_offset=None,
            last=last,
            directory=self.data_dir.log_dir,
        )
        position = max(self._position, SEGMENT_HEADER_BYTES)
        try:
            for offset, payload in records:
                position += RECORD_HEADER_BYTES + len(payload)
                self._position = position
                self._segment_next = offset + 1
                if offset >= self.next_offset:
                    yield offset, payload
        except FileNotFoundError:
            raise StorageError(
                f"{path} was removed by retention while it was being followed; "
                f"resume with --from {self._segment_next}"
            ) from None
