"""Events codec: every event type round-trips; bad records raise typed errors.

``encode_record``/``decode_record`` carry one command's events as
``[FORMAT_VERSION, [[kind, *fields], ...]]``. A newer format or an unknown
kind is a FormatVersionError (never misread); bytes that are not a record at
all are a CorruptionError; ``event_to_dict`` gives JSON-friendly dicts.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import msgpack
import pytest
from hypothesis import Phase, event, given, settings
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
    HashFieldsDeleted,
    HashFieldsSet,
    KeyDeleted,
    KeyPut,
    ListPopped,
    ListPushed,
    SetAdded,
    SetRemoved,
    TaskAttemptCancelled,
    TaskCancelled,
    TaskClaimed,
    TaskCompleted,
    TaskCreated,
    TaskDeadLettered,
    TaskFailed,
    TaskLeaseRenewed,
    TaskRemoved,
    TaskRetried,
    UserDeleted,
    UserPut,
    decode_record,
    encode_record,
    event_to_dict,
)
from tests._damage import BYTE_MUTATIONS, edit_array, mutate_bytes

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
# Task events (bolt.state._tasks): ``key`` is the task id.
_blob = st.binary(max_size=12)
EVENT_STRATEGIES.update(
    {
        TaskCreated: st.builds(
            TaskCreated,
            **_head(),
            task_type=text,
            data=_blob,
            priority=i64,
            max_attempts=u63,
            run_at_ms=u63,
            parents=st.lists(text, max_size=3).map(tuple),
            at_ms=u63,
        ),
        TaskClaimed: st.builds(
            TaskClaimed, **_head(), agent_id=text, attempt=u63, lease_expires_at_ms=u63, at_ms=u63
        ),
        TaskLeaseRenewed: st.builds(
            TaskLeaseRenewed, **_head(), attempt=u63, lease_expires_at_ms=u63, at_ms=u63
        ),
        TaskCompleted: st.builds(TaskCompleted, **_head(), attempt=u63, result=_blob, at_ms=u63),
        TaskFailed: st.builds(TaskFailed, **_head(), attempt=u63, error=text, at_ms=u63),
        TaskRetried: st.builds(
            TaskRetried, **_head(), attempt=u63, attempt_limit=u63, reason=text, at_ms=u63
        ),
        TaskDeadLettered: st.builds(
            TaskDeadLettered, **_head(), attempt=u63, reason=text, at_ms=u63
        ),
        TaskCancelled: st.builds(TaskCancelled, **_head(), reason=text, at_ms=u63),
        TaskAttemptCancelled: st.builds(
            TaskAttemptCancelled, **_head(), attempt=u63, reason=text, at_ms=u63
        ),
        TaskRemoved: st.builds(TaskRemoved, **_head(), attempt=u63, at_ms=u63),
    }
)
# Hash events (bolt.crdt.ORMap): fields with values and the tags they observed.
EVENT_STRATEGIES.update(
    {
        HashFieldsSet: st.builds(
            HashFieldsSet,
            **_head(),
            fields=st.lists(
                st.tuples(values, values, st.lists(tags, max_size=3).map(tuple)), max_size=3
            ).map(tuple),
        ),
        HashFieldsDeleted: st.builds(
            HashFieldsDeleted,
            **_head(),
            removed=st.lists(
                st.tuples(values, st.lists(tags, max_size=3).map(tuple)), max_size=3
            ).map(tuple),
        ),
    }
)
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
        "TaskCreated": 20,
        "TaskClaimed": 21,
        "TaskLeaseRenewed": 22,
        "TaskCompleted": 23,
        "TaskFailed": 24,
        "TaskRetried": 25,
        "TaskDeadLettered": 26,
        "TaskCancelled": 27,
        "TaskAttemptCancelled": 28,
        "TaskRemoved": 29,
        "HashFieldsSet": 40,
        "HashFieldsDeleted": 41,
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


# --- mutations of valid records ----------------------------------------------------
#
# Random bytes almost never decode, so a property over them alone never reaches
# its "whatever decodes" half. These strategies start from a valid record and
# damage it the ways a disk or a buggy peer would (byte level) and the ways a
# confused encoder would (msgpack level), so a good share still decodes.

# Bytes that mean something to msgpack: small ints (event kinds), nil, bools,
# empty and one-element arrays and maps, empty strings, type markers, the
# never-used 0xc1.
_MSGPACK_BYTES = [0x00, 0x01, 0x02, 0x0B, 0x7F, 0x80, 0x81, 0x90, 0x91, 0x92, 0xA0, 0xC0, 0xC1]
_MSGPACK_BYTES += [0xC2, 0xC3, 0xC4, 0xCA, 0xCB, 0xCC, 0xD0, 0xD9, 0xDC, 0xDE, 0xE0, 0xFF]
_REPLACEMENTS = st.one_of(
    st.integers(-1, max(EVENT_CLASSES) + 1),
    i64,
    text,
    st.binary(max_size=4),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.just([]),
    st.just({}),
    st.lists(st.integers(0, 3), max_size=3),
)


def _mutate_structure(draw: st.DrawFn, how: str, payload: bytes) -> bytes:
    """Drop, repeat, replace or insert one element of some array of the record
    ("array ...") or one field of one of its events ("field ...")."""
    record = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    where, how = how.split()
    arrays: list[list[Any]] = []
    first = 0  # an event's kind is not one of its fields
    if where == "field" and isinstance(record, list) and len(record) == 2:
        arrays = [raw for raw in record[1] if isinstance(raw, list) and len(raw) > 1]
        first = 1
    if not arrays:
        pending = [record]
        while pending:
            item = pending.pop()
            if isinstance(item, list):
                arrays.append(item)
                pending.extend(item)
        # Innermost first: hypothesis favours the first choices, and damage to
        # an event's fields decodes more often than damage to the record's header.
        arrays.reverse()
        first = 0
    edit_array(draw, how, draw(st.sampled_from(arrays)), first, _REPLACEMENTS)
    return bytes(msgpack.packb(record, use_bin_type=True))


# Byte-level damage mostly gives undecodable records; msgpack-level damage
# mostly gives records that decode (to other events, or to too few fields).
_MUTATIONS = [
    *BYTE_MUTATIONS,
    *["array drop", "array repeat", "array replace", "array insert"],
    *["field drop", "field drop", "field repeat", "field replace", "field replace"],
]


@st.composite
def mutated_records(draw: st.DrawFn) -> tuple[list[Event], bytes]:
    """A valid record's events, and that record after one or two mutations."""
    events = draw(st.lists(any_event, min_size=1, max_size=3))
    payload = encode_record(events)
    donor = encode_record(draw(st.lists(any_event, min_size=1, max_size=2)))
    for _ in range(draw(st.sampled_from([1, 1, 1, 2]))):
        if not payload:
            break
        how = draw(st.sampled_from(_MUTATIONS))
        if " " in how:
            try:
                payload = _mutate_structure(draw, how, payload)
                continue
            except (ValueError, TypeError, msgpack.UnpackException):
                how = "flip"  # an earlier mutation left no msgpack to edit
        payload = mutate_bytes(draw, how, payload, donor, _MSGPACK_BYTES)
    return events, payload


def _assert_whole_events(events: list[Event]) -> None:
    """Decoded events are whole events of a known type, built from their fields in order."""
    for decoded in events:
        assert type(decoded) in EVENT_KINDS
        assert len(decoded) == len(type(decoded)._fields)
    # Encoding them again gives a record that decodes to the same events (compared
    # as bytes: a damaged float may have become NaN, which is not equal to itself).
    again = encode_record(events)
    assert encode_record(decode_record(again)) == again


def _decode_typed(payload: bytes) -> list[Event] | None:
    """The events ``payload`` decodes to, or None for a typed refusal."""
    try:
        return decode_record(payload)
    except (CorruptionError, FormatVersionError):
        return None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40) | mutated_records().map(lambda pair: pair[1]))
def test_damaged_records_never_raise_untyped_errors(payload: bytes) -> None:
    events = _decode_typed(payload)
    event("decoded" if events is not None else "refused")
    if events is not None:
        # Whatever decodes must be whole events of a known type.
        _assert_whole_events(events)


@settings(max_examples=300, deadline=None)
@given(mutated_records())
def test_mutated_records_decode_whole_or_not_at_all(pair: tuple[list[Event], bytes]) -> None:
    originals, payload = pair
    events = _decode_typed(payload)
    event("decoded" if events is not None else "refused")
    if events is None:
        return
    _assert_whole_events(events)
    if payload == encode_record(originals):  # a mutation that changed nothing
        assert events == originals


def _outcomes_of_mutated_records(count: int) -> list[str]:
    """How ``count`` mutated records fare in decode_record (derandomized: the share is stable)."""
    outcomes: list[str] = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
    )
    @given(mutated_records())
    def sample(pair: tuple[list[Event], bytes]) -> None:
        originals, payload = pair
        try:
            events = decode_record(payload)
        except CorruptionError:
            outcomes.append("corrupt")
        except FormatVersionError:
            outcomes.append("format")
        except TypeError:
            outcomes.append("untyped")
        else:
            outcomes.append("same" if events == originals else "decoded")

    sample()
    return outcomes


def test_a_good_share_of_mutated_records_decode_to_other_events() -> None:
    # Keeps the properties above from degenerating into "nothing ever decodes"
    # (as random bytes alone did: 0 of 900 decoded) without anyone noticing.
    outcomes = _outcomes_of_mutated_records(300)
    assert outcomes.count("decoded") >= len(outcomes) // 10, Counter(outcomes)
    assert outcomes.count("corrupt") >= len(outcomes) // 10, Counter(outcomes)


@pytest.mark.parametrize("kind", [{}, ({},)], ids=["map", "array-holding-a-map"])
def test_an_unhashable_event_kind_is_corruption(kind: Any) -> None:
    # One damaged byte (0x01 -> 0x80, an empty map) turns a KeyPut's kind into a map.
    payload = msgpack.packb([FORMAT_VERSION, [[kind, "n", 1, 1, "", "k", "v", 0]]])
    with pytest.raises(CorruptionError):
        decode_record(payload)
