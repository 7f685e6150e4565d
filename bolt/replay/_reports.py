"""Human renderings of the replay reports (info, verify, state, history, diff).

Each function prints one report to a rich console, using the primitives of
:mod:`bolt.replay._render` (user data as Text, fixed-width streaming tables).
The JSON renderings live with the data classes (``to_json``) and in the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from bolt.crdt import hlc_ms

from ._diff import DiffResult, KeyDifference, LastEvent
from ._history import HistoryEntry, KeyHistory
from ._info import DataDirInfo
from ._points import format_ms
from ._render import (
    EVENT_COLUMNS,
    event_row,
    new_table,
    print_rows,
    show_value,
    show_view,
    text,
)
from ._state import KeyView, RebuiltState
from ._verify import VerifyResult

if TYPE_CHECKING:
    from rich.console import Console


def _moment(hlc: int) -> str:
    return format_ms(hlc_ms(hlc)) if hlc else "(before any event)"


def _time_range(low: int, high: int) -> str:
    if not low:
        return "-"
    return f"{format_ms(hlc_ms(low))} .. {format_ms(hlc_ms(high))}"


def print_info(console: Console, info: DataDirInfo) -> None:
    """``replay info``: the directory, its segments, snapshot, counts and version vector."""
    console.print(text(f"data directory  {info.path}", "bold"))
    console.print(text(f"node id         {info.node_id or '(none)'}"))
    console.print(
        text(
            f"log             offsets {info.first_offset} .. {info.next_offset - 1}, "
            f"{info.records} records, {info.events} events"
        )
    )
    console.print(text(f"time range      {_time_range(info.hlc_min, info.hlc_max)}"))
    table = new_table(
        ("file", 26),
        ("offsets", 23),
        ("records", 9),
        ("bytes", 11),
        ("status", 8),
        ("time range (UTC)", None),
        title="segments",
    )
    for segment in info.segments:
        status = segment.status
        if status != "clean":
            status = f"{status} @{segment.position}"
        table.add_row(
            text(segment.path.name),
            text(f"{segment.first_offset} .. {segment.next_offset - 1}"),
            text(str(segment.records)),
            text(str(segment.bytes)),
            text(status, "" if segment.status == "clean" else "bold red"),
            text(_time_range(segment.hlc_min, segment.hlc_max)),
        )
    console.print(table)
    snap = info.snapshot
    if snap is None:
        console.print(text("snapshot        none"))
    else:
        console.print(
            text(
                f"snapshot        {snap.shards_written} of {snap.shard_count} shards, covering "
                f"offsets {snap.covered_min} .. {snap.covered_max} (recovery replays from "
                f"{snap.covered_min + 1}); {snap.keys} keys, {snap.users} users, "
                f"{snap.bytes} bytes; taken at {_moment(snap.hlc)}; "
                f"node {snap.node_id}"
            )
        )
    counts = new_table(("event type", 20), ("count", 12), title="events by type")
    for name, count in info.event_counts.items():
        counts.add_row(text(name), text(str(count)))
    console.print(counts)
    vector = new_table(
        ("origin", 24), ("events in log", 14), ("version vector", None), title="origins"
    )
    for origin in sorted(set(info.version_vector) | set(info.origin_counts)):
        vector.add_row(
            text(origin),
            text(str(info.origin_counts.get(origin, 0))),
            text(str(info.version_vector.get(origin, 0))),
        )
    console.print(vector)
    if info.dots_out_of_order:
        console.print(text(f"{info.dots_out_of_order} dots seen out of order", "yellow"))
    if info.damage is not None:
        console.print(text(f"stopped at damage: {info.damage.message}", "bold red"))


def print_verify(console: Console, result: VerifyResult, *, allow_torn_tail: bool) -> None:
    """``replay verify``: counts, then every problem, then the verdict."""
    console.print(
        text(
            f"{result.data_dir}: {result.segments} segments, {result.records} records "
            f"(offsets {result.first_offset} .. {result.next_offset - 1}), {result.events} "
            f"events; snapshot: {result.snapshot}"
        )
    )
    for problem in result.problems:
        console.print(text(f"CORRUPT: {problem}", "bold red"))
    if result.torn_tail is not None:
        console.print(text(f"TORN TAIL: {result.torn_tail}", "yellow"))
    if result.clean(allow_torn_tail=allow_torn_tail):
        console.print(text("clean", "bold green"))
    else:
        console.print(text("NOT CLEAN", "bold red"))


def print_state(console: Console, state: RebuiltState, views: Iterable[KeyView]) -> int:
    """``replay state``: what the state is, then every key (streamed); returns the count."""
    console.print(text(state.describe(), "bold"))
    columns: tuple[tuple[str, int | None], ...] = (
        ("db", 10),
        ("key", 30),
        ("type", 12),
        ("ttl", 8),
        ("value", None),
    )
    count = print_rows(console, columns, (_key_row(view) for view in views))
    console.print(text(f"{count} keys"))
    users = sorted(u.name for u in state.keyspace.users.values() if not u.deleted)
    if users:
        console.print(text(f"users: {', '.join(users)}"))
    return count


def print_history(console: Console, found: KeyHistory, entries: Iterator[HistoryEntry]) -> int:
    """``replay history``: the starting value, then one row per event; returns the count."""
    where = f" in db {found.db!r}" if found.db else ""
    console.print(text(f"history of key {found.key!r}{where}", "bold"))
    if found.snapshot is not None:
        console.print(
            text(
                f"from the snapshot (covers offsets up to {found.snapshot.covered_max}): "
                f"{show_view(found.initial)}"
            )
        )
    columns = (*EVENT_COLUMNS[:4], ("effect", 11), ("details", 30), ("value after", None))
    count = print_rows(console, columns, (_history_row(entry) for entry in entries))
    if found.snapshot is not None:
        console.print(text(snapshot_note(found)))
    return count


def snapshot_note(found: KeyHistory) -> str:
    """What a history that starts from a snapshot does not list, in one sentence."""
    snapshot = found.snapshot
    assert snapshot is not None
    node = f"node {snapshot.node_id}" if snapshot.node_id else "this node"
    if found.covered:
        verb = "is" if found.covered == 1 else "are"
        events = f"{found.covered} event{'' if found.covered == 1 else 's'} of the key"
        events += f" before offset {found.start_offset} {verb}"
    else:
        events = "its earlier events, if any, are"
    note = (
        f"{events} covered by the snapshot of {node} (offsets up to {snapshot.covered_max}, "
        f"as of {format_ms(hlc_ms(snapshot.hlc))}); its value there was "
        f"{show_view(found.initial)}"
    )
    if found.first_offset > 0:
        note += (
            f"; the log before offset {found.first_offset} was removed after that snapshot, "
            "so older events cannot be listed"
        )
    if found.count == 0:
        note = f"No event touched the key after the snapshot. {note[0].upper()}{note[1:]}"
    return note + "."


def _key_row(view: KeyView) -> list[Any]:
    ttl = "" if view.ttl_seconds < 0 else f"{view.ttl_seconds}s"
    return [text(view.db), text(view.key), text(view.type), text(ttl), text(show_value(view.value))]


def _history_row(entry: HistoryEntry) -> list[Any]:
    cells = event_row(entry.offset, entry.event)
    style = "bold" if entry.effect == "changed" else "dim"
    return [*cells[:4], text(entry.effect, style), cells[6], text(show_view(entry.after))]


def _last(found: LastEvent | None) -> str:
    if found is None:
        return "(none in the retained log)"
    event = found.event
    return (
        f"@{found.offset} {type(event).__name__} {event.origin}:{event.seq} "
        f"{format_ms(hlc_ms(event.hlc))}"
    )


def print_diff(console: Console, result: DiffResult) -> None:
    """``replay diff``: shard digests that differ, then each differing key."""
    a, b = result.state_a, result.state_b
    console.print(
        text(
            f"A: node {result.node_a} up to offset {a.last_offset}   "
            f"B: node {result.node_b} up to offset {b.last_offset}   "
            f"(expiry judged at {format_ms(result.moment_ms)})",
            "bold",
        )
    )
    differing = len(result.differing_shards)
    console.print(text(f"{differing} of {result.shard_count} shard digests differ"))
    if differing:
        shards = new_table(
            ("shard", 6), ("keys A", 8), ("keys B", 8), ("digest A", 34), ("digest B", None)
        )
        for index in result.differing_shards:
            da, db = result.digests_a[index], result.digests_b[index]
            shards.add_row(
                text(str(index)),
                text(str(da.keys)),
                text(str(db.keys)),
                text(da.digest),
                text(db.digest),
            )
        console.print(shards)
    if result.differences:
        _print_differences(console, result.differences)
    hidden = result.total_differences - len(result.differences)
    if hidden > 0:
        console.print(text(f"{hidden} more differing keys not shown (raise --limit)"))
    for name in result.users_differing:
        console.print(text(f"user {name!r} differs (existence, role or password)", "yellow"))
    _print_first_disagreement(console, result)
    console.print(
        text("same", "bold green")
        if result.same
        else text(
            f"DIFFERENT: {result.total_differences} keys, "
            f"{result.only_in_a + result.only_in_b} events",
            "bold red",
        )
    )


def _print_first_disagreement(console: Console, result: DiffResult) -> None:
    """The first event (by HLC) one log holds and the other node lacks, if any."""
    first = result.first_disagreement
    if first is None:
        console.print(text("the logs agree: each node has applied every event of the other"))
        return
    holder, other = ("A", "B") if first.side == "a" else ("B", "A")
    event = first.found.event
    console.print(
        text(
            f"first event the logs disagree on: {_last(first.found)} db {event.db!r} "
            f"key {event.key!r} (index {first.found.index} of the record) is in {holder}'s "
            f"log and {other} lacks it",
            "bold yellow",
        )
    )
    console.print(
        text(f"events only in A: {result.only_in_a}   events only in B: {result.only_in_b}")
    )


def _print_differences(console: Console, differences: list[KeyDifference]) -> None:
    table = new_table(
        ("db", 8), ("key", 24), ("A", 30), ("B", 30), ("last event A", 44), ("last event B", None)
    )
    for found in differences:
        table.add_row(
            text(found.db),
            text(found.key),
            text(show_view(found.a)),
            text(show_view(found.b)),
            text(_last(found.last_a)),
            text(_last(found.last_b)),
        )
    console.print(table)
