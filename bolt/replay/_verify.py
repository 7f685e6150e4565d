"""``replay verify``: check every record of a data directory, report every problem.

Theory of operation
-------------------
Three checks, each read-only:

1. **Framing and CRC** of every record of every segment, by
   :meth:`bolt.log.LogReader.verify`: damage followed by a valid record
   (corruption), a torn record before the end of the log, a bad segment
   header, a gap in offsets between segments. A torn record at the very end of
   the last segment is reported separately as a **torn tail**: it is what an
   interrupted write leaves (the daemon truncates it at its next start).
2. **Decoding**: every record whose CRC is right must decode into events; a
   record that does not is named by file and offset, and checking goes on
   with the next record.
3. **The snapshot against the log**: it must open and be of a known format,
   every entry and shard must pass its checksum and entry count, and
   ``data.mdb`` must not be truncated (see :mod:`bolt.state._snapshot`); it
   must not claim offsets the log never reached, and the retained log must
   start no later than right after the snapshot's lowest covered offset
   (otherwise records are missing and recovery would fail).

The directory is **clean** when nothing was found; a torn tail alone is not
corruption, but it is not clean either (``allow_torn_tail`` accepts it, e.g.
on a directory a daemon is writing right now).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bolt.errors import CorruptionError, FormatVersionError, StorageError
from bolt.events import decode_record
from bolt.log import RECORD_HEADER_BYTES, VerifyReport
from bolt.state.snapshot import LoadedSnapshot

from ._source import PROGRESS_EVERY_RECORDS, DataDir, Progress


@dataclass(frozen=True)
class VerifyResult:
    """What ``replay verify`` found."""

    data_dir: str
    segments: int
    records: int
    events: int
    first_offset: int
    next_offset: int
    problems: tuple[str, ...]
    torn_tail: str | None
    snapshot: str

    def clean(self, *, allow_torn_tail: bool = False) -> bool:
        """True when nothing is wrong (a torn tail counts unless allowed)."""
        return not self.problems and (allow_torn_tail or self.torn_tail is None)

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict (``verify --json``)."""
        return {
            "data_dir": self.data_dir,
            "segments": self.segments,
            "records": self.records,
            "events": self.events,
            "first_offset": self.first_offset,
            "last_offset": self.next_offset - 1,
            "problems": list(self.problems),
            "torn_tail": self.torn_tail,
            "snapshot": self.snapshot,
            "clean": self.clean(),
        }


def verify(data_dir: DataDir, progress: Progress | None = None) -> VerifyResult:
    """Check ``data_dir`` (see the module docstring); never raises on damage.

    Raises:
        bolt.errors.FormatVersionError: a segment of a newer format (the framing
            of the rest cannot be judged).
    """
    reader = data_dir.reader()
    if not reader.directory.is_dir():
        return VerifyResult(
            str(data_dir.path), 0, 0, 0, 0, 0, (f"{reader.directory} is missing",), None, "none"
        )
    # The snapshot is read once before the log (a live daemon only moves both
    # forward, so the log read after it has every record it claims) and once
    # after (so segments retention removed meanwhile are judged against the
    # snapshot that allowed it).
    before = _load_snapshot(data_dir)
    report = reader.verify()
    problems = list(report.problems)
    torn_tail = None
    if report.torn_tail is not None:
        torn = report.torn_tail
        torn_tail = (
            f"torn tail in {torn.path} at byte {torn.status.position} after offset "
            f"{torn.next_offset - 1}: {torn.status.reason} (an interrupted write; the daemon "
            "truncates it at its next start)"
        )
    events = _decode_all(data_dir, report, problems, progress)
    snapshot = _check_snapshot(before, _load_snapshot(data_dir), report, problems)
    return VerifyResult(
        data_dir=str(data_dir.path),
        segments=len(report.segments),
        records=report.records,
        events=events,
        first_offset=report.first_offset,
        next_offset=report.next_offset,
        problems=tuple(problems),
        torn_tail=torn_tail,
        snapshot=snapshot,
    )


def _decode_all(
    data_dir: DataDir, report: VerifyReport, problems: list[str], progress: Progress | None
) -> int:
    """Decode every readable record; note the ones that do not decode."""
    events = 0
    done = 0
    count = 0
    try:
        for offset, payload in data_dir.reader().read(report.first_offset):
            done += RECORD_HEADER_BYTES + len(payload)
            try:
                events += len(decode_record(payload))
            except (CorruptionError, FormatVersionError) as error:
                where = data_dir.segment_for(offset)
                problems.append(f"record at offset {offset} in {where} does not decode: {error}")
            count += 1
            if progress is not None and count % PROGRESS_EVERY_RECORDS == 0:
                progress(done)
    except CorruptionError:
        pass  # already reported by the framing check
    except (ValueError, FileNotFoundError) as error:
        problems.append(f"the log changed while it was being checked: {error}")
    if progress is not None:
        progress(done)
    return events


def _load_snapshot(data_dir: DataDir) -> LoadedSnapshot | str | None:
    """The snapshot, or the text of the problem that kept it from loading."""
    try:
        return data_dir.load_snapshot()
    except FormatVersionError as error:
        return str(error)
    except StorageError as error:
        return f"the snapshot cannot be read: {error}"


def _check_snapshot(
    before: LoadedSnapshot | str | None,
    after: LoadedSnapshot | str | None,
    report: VerifyReport,
    problems: list[str],
) -> str:
    """Check the snapshot against the log; return a one-line description."""
    for loaded in (before, after):
        if isinstance(loaded, str):
            problems.append(loaded)
            return "unreadable"
    assert not isinstance(before, str) and not isinstance(after, str)
    if after is None:
        if report.first_offset > 0:
            problems.append(
                f"the log starts at offset {report.first_offset} but there is no snapshot: "
                f"records 0 to {report.first_offset - 1} are missing"
            )
        return "none"
    if before is not None:
        high = max(shard.covered for shard in before.shards.values())
        if high >= report.next_offset:
            problems.append(
                f"the snapshot covers offsets up to {high} but the log ends at offset "
                f"{report.next_offset - 1}: records the snapshot holds are missing from the log"
            )
    covered = [shard.covered for shard in after.shards.values()]
    low, high = min(covered), max(covered)
    if report.first_offset > low + 1:
        problems.append(
            f"the snapshot covers offsets up to {low} (its lowest shard) but the log starts at "
            f"offset {report.first_offset}: records {low + 1} to {report.first_offset - 1} "
            "are missing"
        )
    return f"{len(covered)} shards covering offsets {low} to {high}"
