"""Cutting the log into batches: whole offset ranges, no echo, limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bolt.cluster._batches import build_batches
from bolt.events import KeyPut, decode_record, encode_record
from bolt.node import Change


def _changes(origins: list[str]) -> list[Change]:
    return [
        Change(offset, (KeyPut(origin, offset + 1, offset + 1, "", f"k{offset}", "v", 0),))
        for offset, origin in enumerate(origins)
    ]


@given(
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=60),
    st.integers(1, 7),
    st.integers(1, 400),
)
def test_batches_cover_every_offset_once_and_never_echo(
    origins: list[str], records_max: int, bytes_max: int
) -> None:
    changes = _changes(origins)
    batches = build_batches(changes, "b", {}, records_max=records_max, bytes_max=bytes_max)
    covered = [o for batch, _ in batches for o in range(batch.first_offset, batch.last_offset + 1)]
    assert covered == [c.offset for c in changes]
    assert all(b.last_offset - b.first_offset + 1 <= records_max for b, _ in batches)
    shipped = [e for batch, _ in batches for r in batch.records for e in decode_record(r)]
    assert [e.origin for e in shipped] == [o for o in origins if o != "b"]
    assert sum(n for _, n in batches) == len(shipped)


def test_events_the_receiver_has_are_left_out() -> None:
    changes = _changes(["a", "a", "c", "a"])  # seqs 1..4
    ((batch, count),) = build_batches(changes, "b", {"a": 2})
    kept = [e for r in batch.records for e in decode_record(r)]
    assert [(e.origin, e.seq) for e in kept] == [("c", 3), ("a", 4)]
    assert (batch.first_offset, batch.last_offset, count) == (0, 3, 2)


def test_a_whole_record_is_shipped_as_logged_and_a_filtered_one_is_encoded_again() -> None:
    events = (
        KeyPut("a", 1, 1, "", "k1", "v", 0),
        KeyPut("b", 1, 2, "", "k2", "v", 0),
    )
    logged = encode_record(events)
    changes = [Change(0, events, logged)]
    ((whole, _),) = build_batches(changes, "c", {})
    assert whole.records[0] is logged  # the log's bytes, not a second encoding
    ((filtered, count),) = build_batches(changes, "b", {})
    assert count == 1
    assert filtered.records[0] is not logged
    assert decode_record(filtered.records[0]) == [events[0]]
