"""Events codec: every event type round-trips; bad records raise typed errors.

``encode_record``/``decode_record`` carry one command's events as
``[FORMAT_VERSION, [[kind, *fields], ...]]``. A newer format or an unknown
kind is a FormatVersionError (never misread); bytes that are not a record at
all are a CorruptionError; ``event_to_dict`` gives JSON-friendly dicts.
"""

from __future__ import annotations

import json
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bolt.errors import CorruptionError, FormatVersionError, StorageError
from bolt.events import (
    EVENT_CLASSES,
    EVENT_KINDS,
    EVENT_NAMES,
    FORMAT_VERSION,
    CounterSet,
    CrdtCounterChanged,
    Event,
    KeyDeleted,
    KeyPut,
    ListPopped,
    ListPushed,
    SetAdded,
    SetRemoved,
    UserDeleted,
    UserPut,
    decode_record,
    encode_record,
    event_to_dict,
)

# Valid UTF-8 text only (msgpack strings are UTF-8).
text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)
values = st.one_of(text, st.binary(max_size=12))
u63 = st.integers(0, 2**63 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)
hlcs = st.integers(0, 2**62)


def _head() -> dict[str, Any]:
    return {"origin": text, "seq": st.integers(1, 2**40), "hlc": hlcs, "db": text, "key": text}


positions = st.tuples(st.integers(-(2**62), 2**62), text, st.integers(-1000, 1000))
tags = st.tuples(hlcs, text)

EVENT_STRATEGIES: dict[type, st.SearchStrategy[Any]] = {
    KeyPut: st.builds(KeyPut, **_head(), value=values, expires_at_ms=u63),
    # counter_base values decode as tuples (use_list=False), so build them as tuples.
    KeyDeleted: st.builds(
        KeyDeleted,
        **_head(),
        counter_base=st.dictionaries(text, st.tuples(u63, u63), max_size=3),
        cause=st.sampled_from(["", "evicted"]),
    ),
    CounterSet: st.builds(CounterSet, **_head(), value=i64, expires_at_ms=u63),
    CrdtCounterChanged: st.builds(CrdtCounterChanged, **_head(), positive=u63, negative=u63),
    ListPushed: st.builds(
        ListPushed, **_head(), left=st.booleans(), values=st.lists(values, max_size=4).map(tuple)
    ),
    ListPopped: st.builds(
        ListPopped, **_head(), positions=st.lists(positions, max_size=3).map(tuple)
    ),
    SetAdded: st.builds(SetAdded, **_head(), members=st.lists(values, max_size=4).map(tuple)),
    SetRemoved: st.builds(
        SetRemoved,
        **_head(),
        removed=st.lists(st.tuples(values, st.lists(tags, max_size=3).map(tuple)), max_size=3).map(
            tuple
        ),
    ),
    UserPut: st.builds(UserPut, **_head(), password_hash=text, role=text),
    UserDeleted: st.builds(UserDeleted, **_head()),
}
any_event = st.one_of(*EVENT_STRATEGIES.values())


def test_every_event_type_has_a_strategy_and_a_stable_kind() -> None:
    assert set(EVENT_STRATEGIES) == set(EVENT_KINDS)
    # Wire kinds are stable: never renumber.
    assert {cls.__name__: kind for cls, kind in EVENT_KINDS.items()} == {
        "KeyPut": 1,
        "KeyDeleted": 2,
        "CounterSet": 3,
        "CrdtCounterChanged": 4,
        "ListPushed": 5,
        "ListPopped": 6,
        "SetAdded": 7,
        "SetRemoved": 8,
        "UserPut": 9,
        "UserDeleted": 10,
    }
    assert {EVENT_CLASSES[k] for k in EVENT_KINDS.values()} == set(EVENT_KINDS)
    assert set(EVENT_NAMES.values()) == set(EVENT_KINDS)


@pytest.mark.parametrize("cls", list(EVENT_STRATEGIES), ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_each_event_type_round_trips(cls: type, data: st.DataObject) -> None:
    event = data.draw(EVENT_STRATEGIES[cls])
    decoded = decode_record(encode_record([event]))
    assert decoded == [event]
    assert type(decoded[0]) is cls


@settings(max_examples=100, deadline=None)
@given(st.lists(any_event, max_size=6))
def test_records_of_mixed_events_round_trip(events: list[Event]) -> None:
    decoded = decode_record(encode_record(events))
    assert decoded == events
    assert [type(e) for e in decoded] == [type(e) for e in events]


@settings(max_examples=100, deadline=None)
@given(any_event)
def test_event_to_dict_is_json_serialisable(event: Event) -> None:
    as_dict = event_to_dict(event)
    assert as_dict["type"] == type(event).__name__
    assert set(as_dict) == {"type", *event._fields}
    round_tripped = json.loads(json.dumps(as_dict))
    assert round_tripped == as_dict
    # The dict of the decoded event is the same (lists and tuples both become lists).
    assert event_to_dict(decode_record(encode_record([event]))[0]) == as_dict


def test_event_to_dict_marks_bytes() -> None:
    event = KeyPut("n", 1, 2, "", "k", b"\x00\xff", 0)
    assert event_to_dict(event)["value"] == {"bytes": "00ff"}


def test_counter_base_as_built_by_commands_round_trips_in_meaning() -> None:
    # Commands build counter_base values as lists; decoding gives tuples.
    event = KeyDeleted("n", 1, 2, "", "k", {"a": [3, 1]}, "")
    decoded = decode_record(encode_record([event]))[0]
    assert isinstance(decoded, KeyDeleted)
    assert {o: list(pn) for o, pn in decoded.counter_base.items()} == {"a": [3, 1]}
    assert event_to_dict(decoded) == event_to_dict(event)


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, FORMAT_VERSION + 100])
def test_newer_format_version_raises(version: int) -> None:
    payload = msgpack.packb([version, []], use_bin_type=True)
    with pytest.raises(FormatVersionError):
        decode_record(payload)


def test_unknown_event_kind_raises() -> None:
    unknown = max(EVENT_CLASSES) + 1
    payload = msgpack.packb([FORMAT_VERSION, [[unknown, "n", 1, 1, "", "k"]]], use_bin_type=True)
    with pytest.raises(FormatVersionError) as info:
        decode_record(payload)
    assert isinstance(info.value, StorageError)


@pytest.mark.parametrize(
    "payload",
    [b"", b"\xc1", b"\x92\x01", b"\xff\xff\xff", b"\x93\x01\x90\x01", b"not msgpack at all"],
)
def test_undecodable_bytes_raise_corruption(payload: bytes) -> None:
    with pytest.raises(CorruptionError):
        decode_record(payload)


@pytest.mark.parametrize(
    "record",
    [
        7,  # not an array
        [FORMAT_VERSION],  # too short
        [FORMAT_VERSION, 5],  # events not an array
        [FORMAT_VERSION, [5]],  # an event that is not an array
        [FORMAT_VERSION, [[]]],  # an empty event
        [FORMAT_VERSION, [[1, "n", 1]]],  # a KeyPut with missing fields
        [FORMAT_VERSION, [[1, "n", 1, 1, "", "k", "v", 0, "extra"]]],  # too many fields
    ],
    ids=[
        "scalar",
        "short",
        "events-int",
        "event-int",
        "event-empty",
        "missing-fields",
        "extra-fields",
    ],
)
def test_structurally_wrong_records_raise_corruption(record: Any) -> None:
    payload = msgpack.packb(record, use_bin_type=True)
    with pytest.raises(CorruptionError):
        decode_record(payload)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_random_bytes_never_raise_untyped_errors(payload: bytes) -> None:
    try:
        events = decode_record(payload)
    except (CorruptionError, FormatVersionError):
        return
    # Whatever decodes must be whole events of a known type.
    for event in events:
        assert type(event) in EVENT_KINDS
        assert len(event) == len(type(event)._fields)
