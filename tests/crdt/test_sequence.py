"""List sequence: positions from HLCs, pops as facts, resets as floors.

Laws (``bolt/crdt/_sequence.py``): sequential use matches a deque exactly
(RPUSH appends, LPUSH prepends, ``LPUSH k a b c`` gives ``[c, b, a]``);
operations of several replicas delivered in any order, with duplicates
skipped by id, give the same list -- and the same internal state; removal is
by position, so a pop removes that element and no other.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bolt.crdt import Sequence, position_hlc
from tests.crdt._support import NO_SHRINK, delivery_orders

VALUES = ("p", "q", "r", b"s")


def push(
    sequence: Sequence,
    hlc: int,
    origin: str,
    values: tuple[Any, ...],
    left: bool,
    floor: int = 0,
    keep: bool = True,
) -> None:
    """Insert like ``apply`` does for a ListPushed event."""
    sign = -1 if left else 1
    for index, value in enumerate(values):
        sequence.insert((sign * hlc, origin, sign * index), value, floor, keep)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["lpush", "rpush", "lpop", "rpop"]),
            st.lists(st.sampled_from(VALUES), min_size=1, max_size=3),
        ),
        max_size=40,
    )
)
def test_sequential_use_matches_a_deque(steps: list[tuple[str, list[Any]]]) -> None:
    sequence = Sequence()
    model: deque[Any] = deque()
    hlc = 0
    for command, values in steps:
        hlc += 1
        if command == "lpush":
            push(sequence, hlc, "n", tuple(values), left=True)
            model.extendleft(values)
        elif command == "rpush":
            push(sequence, hlc, "n", tuple(values), left=False)
            model.extend(values)
        else:
            position = sequence.first() if command == "lpop" else sequence.last()
            if position is None:
                assert not model
                continue
            expected = model.popleft() if command == "lpop" else model.pop()
            assert sequence.remove(position) == expected
        assert list(sequence) == list(model)
        assert len(sequence) == len(model)
        assert sequence.range(0, -1) == list(model)


def test_lpush_of_several_values_follows_redis() -> None:
    sequence = Sequence()
    push(sequence, 1, "n", ("a", "b", "c"), left=True)
    assert list(sequence) == ["c", "b", "a"]
    push(sequence, 2, "n", ("x", "y"), left=False)
    push(sequence, 3, "n", ("d",), left=True)
    assert list(sequence) == ["d", "c", "b", "a", "x", "y"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(VALUES), max_size=8), st.integers(-12, 12), st.integers(-12, 12))
def test_range_follows_python_slicing_rules(values: list[Any], start: int, stop: int) -> None:
    sequence = Sequence()
    push(sequence, 1, "n", tuple(values), left=False)
    length = len(values)
    s = max(length + start, 0) if start < 0 else start
    e = length + stop if stop < 0 else stop
    expected = values[s : e + 1] if e >= 0 else []
    assert sequence.range(start, stop) == expected


class Replica:
    """One node's list plus the key's reset floor; skips duplicate ops."""

    def __init__(self, keep_tombstones: bool = True) -> None:
        self.sequence = Sequence()
        self.floor = 0
        self.keep = keep_tombstones
        self.seen: set[int] = set()

    def deliver(self, op_id: int, op: tuple[Any, ...]) -> None:
        if op_id in self.seen:
            return
        self.seen.add(op_id)
        if op[0] == "push":
            _, hlc, origin, values, left = op
            push(self.sequence, hlc, origin, values, left, self.floor, self.keep)
        elif op[0] == "pop":
            self.sequence.remove(op[1], self.floor, self.keep)
        else:
            self.floor = max(self.floor, op[1])
            self.sequence.prune(op[1])


@st.composite
def histories(draw: st.DrawFn, replica_count: int = 3) -> list[tuple[Any, ...]]:
    replicas = [Replica() for _ in range(replica_count)]
    names = ["a", "b", "c"]
    ops: list[tuple[Any, ...]] = []
    hlc = 0
    for _ in range(draw(st.integers(1, 30))):
        index = draw(st.integers(0, replica_count - 1))
        replica = replicas[index]
        hlc += 1
        choice = draw(st.integers(0, 9))
        if choice <= 4:
            values = tuple(draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=3)))
            op: tuple[Any, ...] = ("push", hlc, names[index], values, draw(st.booleans()))
        elif choice <= 7:
            position = replica.sequence.first() if draw(st.booleans()) else replica.sequence.last()
            if position is None:
                continue
            op = ("pop", position)
        elif choice == 8:
            op = ("reset", hlc)
        else:
            target = replicas[draw(st.integers(0, replica_count - 1))]
            for op_id, earlier in enumerate(ops):
                target.deliver(op_id, earlier)
            continue
        ops.append(op)
        replica.deliver(len(ops) - 1, op)
    return ops


def _run(order: list[int], ops: list[tuple[Any, ...]]) -> Sequence:
    replica = Replica()
    for op_id in order:
        replica.deliver(op_id, ops[op_id])
    return replica.sequence


@settings(max_examples=200, deadline=None, phases=NO_SHRINK)
@given(histories(), st.randoms(use_true_random=False))
def test_elements_converge_in_any_order_with_duplicates(
    ops: list[tuple[Any, ...]], rnd: Any
) -> None:
    results = [list(_run(order, ops).items()) for order in delivery_orders(len(ops), rnd)]
    assert all(result == results[0] for result in results), results


@settings(max_examples=200, deadline=None, phases=NO_SHRINK)
@given(histories(), st.randoms(use_true_random=False))
def test_internal_state_converges_in_any_order(ops: list[tuple[Any, ...]], rnd: Any) -> None:
    # Pending removals keep an emptied key's entry (and its memory) alive:
    # they must not depend on the delivery order either.
    results = [_run(order, ops).to_wire() for order in delivery_orders(len(ops), rnd)]
    assert all(result == results[0] for result in results), results


def test_concurrent_pushes_both_survive_in_one_agreed_order() -> None:
    one, two = Sequence(), Sequence()
    push(one, 10, "a", ("from-a",), left=False)
    push(one, 10, "b", ("from-b",), left=False)
    push(two, 10, "b", ("from-b",), left=False)
    push(two, 10, "a", ("from-a",), left=False)
    assert list(one) == list(two) == ["from-a", "from-b"]


def test_pop_removes_by_position_and_early_pop_waits() -> None:
    for keep in (True, False):
        sequence = Sequence()
        position = (5, "a", 0)
        assert sequence.remove(position, keep_tombstones=keep) is None  # before its insert
        assert not sequence.insert(position, "v", keep_tombstones=keep)
        assert list(sequence) == []
        assert sequence.pending_removals == ({position} if keep else set())
        sequence.insert((6, "a", 0), "w", keep_tombstones=keep)
        assert sequence.remove((6, "a", 0), keep_tombstones=keep) == "w"
        assert len(sequence) == 0


@settings(max_examples=100, deadline=None, phases=NO_SHRINK)
@given(histories(replica_count=1))
def test_without_tombstones_in_order_delivery_keeps_no_garbage(ops: list[tuple[Any, ...]]) -> None:
    # A standalone node applies its own log in order and keeps no tombstones:
    # the same list as a cluster node, and no removal left over.
    kept, dropped = Replica(True), Replica(False)
    for op_id, op in enumerate(ops):
        kept.deliver(op_id, op)
        dropped.deliver(op_id, op)
    assert list(dropped.sequence.items()) == list(kept.sequence.items())
    assert dropped.sequence.pending_removals == set()


def test_prune_and_floor() -> None:
    sequence = Sequence()
    push(sequence, 1, "a", ("old",), left=False)
    push(sequence, 5, "a", ("new",), left=True)
    sequence.prune(3)
    assert list(sequence) == ["new"]
    assert not sequence.insert((2, "b", 0), "late", floor_hlc=3)
    assert sequence.newest_live_hlc() == 5
    assert position_hlc((-5, "a", 0)) == 5


def test_wire_round_trip() -> None:
    sequence = Sequence()
    push(sequence, 1, "a", ("x", b"y"), left=False)
    push(sequence, 2, "a", ("z",), left=True)
    sequence.remove((9, "q", 0))
    again = Sequence.from_wire(sequence.to_wire())
    assert list(again.items()) == list(sequence.items())
    assert again.pending_removals == sequence.pending_removals


def test_pop_and_reset_leave_the_same_state_in_any_order() -> None:
    position = (1, "a", 0)
    states = []
    for order in (("pop", "reset"), ("reset", "pop")):
        sequence = Sequence()
        sequence.insert(position, "v")
        for step in order:
            if step == "pop":
                sequence.remove(position)
            else:
                sequence.prune(5)
        states.append(sequence.to_wire())
    assert states[0] == states[1], states


def test_two_pops_of_one_element_leave_the_same_state_in_any_order() -> None:
    # Concurrent LPOPs on two nodes may take the same element (documented).
    position = (1, "a", 0)
    states = []
    for order in (("push", "pop1", "pop2"), ("pop1", "pop2", "push")):
        sequence = Sequence()
        for step in order:
            if step == "push":
                sequence.insert(position, "v")
            else:
                sequence.remove(position)
        states.append(sequence.to_wire())
    assert states[0] == states[1], states
