"""JSON renderings of replay results that are more than one ``to_json()`` call.

Large results are written as a stream: ``state --json`` is one JSON document
written key by key (never built whole in memory), ``history --json`` one
object per line. Values are serialized with :func:`bolt.replay._render.dumps`
(``bytes`` become ``{"bytes": "<hex>"}``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

from ._diff import DiffResult, LastEvent, LogDisagreement
from ._history import KeyHistory
from ._points import format_ms
from ._render import dumps, event_json, write_json_line
from ._source import DataDir
from ._state import KeyView, RebuiltState, live_users


def write_state_json(
    out: IO[str], data_dir: DataDir, state: RebuiltState, views: Iterable[KeyView]
) -> None:
    """Write ``state --json``: a header, every key (streamed), then the users."""
    point = state.point
    at: dict[str, int | None] | None = None
    if point is not None:
        at = {"offset": point.offset} if point.offset is not None else {"hlc": point.hlc}
    header = {
        "data_dir": str(data_dir.path),
        "node_id": data_dir.node_id,
        "at": at,
        "last_offset": state.last_offset,
        "moment_ms": state.moment_ms,
        "moment": format_ms(state.moment_ms),
        "from_snapshot": state.snapshot is not None,
        "damaged_at_offset": state.damage.offset if state.damage else None,
    }
    out.write(dumps(header)[:-1] + ',"keys":[')
    for count, view in enumerate(views):
        out.write(("," if count else "") + "\n" + dumps(view.to_json()))
    out.write('\n],"users":' + dumps(live_users(state.keyspace)) + "}\n")


def write_history_json(out: IO[str], found: KeyHistory) -> None:
    """Write ``history --json``: the snapshot's value first (if used), then one line per event."""
    if found.snapshot is not None:
        write_json_line(
            out,
            {
                "source": "snapshot",
                "covered_offset": found.snapshot.covered_max,
                "after": found.initial.to_json() if found.initial else None,
            },
        )
    for entry in found:
        line = event_json(entry.offset, entry.index, entry.event)
        line["effect"] = entry.effect
        line["after"] = entry.after.to_json() if entry.after else None
        write_json_line(out, line)


def _last(found: LastEvent | None) -> dict[str, Any] | None:
    return None if found is None else event_json(found.offset, found.index, found.event)


def diff_json(result: DiffResult) -> dict[str, Any]:
    """The ``diff --json`` object."""
    return {
        "same": result.same,
        "node_a": result.node_a,
        "node_b": result.node_b,
        "last_offset_a": result.state_a.last_offset,
        "last_offset_b": result.state_b.last_offset,
        "moment_ms": result.moment_ms,
        "shard_count": result.shard_count,
        "differing_shards": [
            {
                "shard": index,
                "keys_a": result.digests_a[index].keys,
                "keys_b": result.digests_b[index].keys,
                "digest_a": result.digests_a[index].digest,
                "digest_b": result.digests_b[index].digest,
            }
            for index in result.differing_shards
        ],
        "total_differences": result.total_differences,
        "differences": [
            {
                "db": found.db,
                "key": found.key,
                "a": found.a.to_json() if found.a else None,
                "b": found.b.to_json() if found.b else None,
                "last_event_a": _last(found.last_a),
                "last_event_b": _last(found.last_b),
            }
            for found in result.differences
        ],
        "users_differing": result.users_differing,
        "first_disagreement": None
        if result.first_disagreement is None
        else {"side": result.first_disagreement.side, **_last_json(result.first_disagreement)},
        "events_only_in_a": result.only_in_a,
        "events_only_in_b": result.only_in_b,
    }


def _last_json(disagreement: LogDisagreement) -> dict[str, Any]:
    found = disagreement.found
    return event_json(found.offset, found.index, found.event)
