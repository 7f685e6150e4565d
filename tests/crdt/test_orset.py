"""Add-wins OR-set: built from the operations of simulated replicas.

Each replica issues SADD-like adds (several members sharing one tag
``(hlc, origin)``, exactly as ``bolt.state.apply`` does for a SetAdded event),
SREM-like removes carrying the tags it observed, and key resets (prune at an
HLC). Delivering every operation to a fresh set, in any order and with
duplicates skipped by operation id (as the dot layer does), must give the same
members with the same tags -- and the same internal state.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bolt.crdt import ORSet
from tests.crdt._support import NO_SHRINK, delivery_orders

MEMBERS = ("x", "y", "z", b"w")


class Replica:
    """One node's view: the set plus the key's reset floor (as ``apply`` keeps it)."""

    def __init__(self, keep_tombstones: bool = True) -> None:
        self.orset = ORSet()
        self.floor = 0
        self.keep = keep_tombstones
        self.seen: set[int] = set()

    def deliver(self, op_id: int, op: tuple[Any, ...]) -> None:
        if op_id in self.seen:
            return  # duplicates are skipped by dot, one level up
        self.seen.add(op_id)
        kind = op[0]
        if kind == "add":
            for member in op[1]:
                self.orset.add(member, op[2], self.floor, self.keep)
        elif kind == "remove":
            for member, tags in op[1]:
                self.orset.remove(member, tags, self.floor, self.keep)
        else:
            self.floor = max(self.floor, op[1])
            self.orset.prune(op[1])


def _members(orset: ORSet) -> list[tuple[Any, list[tuple[int, str]]]]:
    return sorted(((m, orset.tags(m)) for m in orset), key=repr)


@st.composite
def histories(draw: st.DrawFn, replica_count: int = 3) -> list[tuple[Any, ...]]:
    """Operations issued by three replicas that sync only now and then."""
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
            members = tuple(
                draw(st.lists(st.sampled_from(MEMBERS), min_size=1, max_size=3, unique=True))
            )
            op: tuple[Any, ...] = ("add", members, (hlc, names[index]))
        elif choice <= 7:
            present = [m for m in MEMBERS if m in replica.orset]
            if not present:
                continue
            chosen = draw(st.lists(st.sampled_from(present), min_size=1, unique=True))
            op = ("remove", tuple((m, tuple(replica.orset.tags(m))) for m in chosen))
        elif choice == 8:
            op = ("reset", hlc)
        else:
            # Sync: deliver every operation so far to one replica.
            target = replicas[draw(st.integers(0, replica_count - 1))]
            for op_id, earlier in enumerate(ops):
                target.deliver(op_id, earlier)
            continue
        ops.append(op)
        replica.deliver(len(ops) - 1, op)
    return ops


def _run(order: list[int], ops: list[tuple[Any, ...]]) -> ORSet:
    replica = Replica()
    for op_id in order:
        replica.deliver(op_id, ops[op_id])
    return replica.orset


@settings(max_examples=200, deadline=None, phases=NO_SHRINK)
@given(histories(), st.randoms(use_true_random=False))
def test_members_converge_in_any_order_with_duplicates(
    ops: list[tuple[Any, ...]], rnd: Any
) -> None:
    results = [_members(_run(order, ops)) for order in delivery_orders(len(ops), rnd)]
    assert all(result == results[0] for result in results), results


@settings(max_examples=200, deadline=None, phases=NO_SHRINK)
@given(histories(), st.randoms(use_true_random=False))
def test_internal_state_converges_in_any_order(ops: list[tuple[Any, ...]], rnd: Any) -> None:
    # Pending removals decide whether an emptied key's entry is kept, and so
    # its memory: they must not depend on delivery order either.
    results = [_run(order, ops).to_wire() for order in delivery_orders(len(ops), rnd)]
    normalised = [repr(sorted(repr(m) for m in r[0])) + repr(r[1:]) for r in results]  # type: ignore[attr-defined]
    assert all(n == normalised[0] for n in normalised), normalised


def test_a_remove_that_arrives_first_cancels_only_its_own_member() -> None:
    # SADD k b a (one event, one tag) then SREM k a observed that tag. A node
    # that receives the remove before the add must still end with {b}.
    tag = (100, "A")
    for order in (("add", "remove"), ("remove", "add")):
        orset = ORSet()
        for step in order:
            if step == "add":
                for member in ("b", "a"):
                    orset.add(member, tag)
            else:
                orset.remove("a", [tag])
        assert sorted(orset) == ["b"], order


def test_concurrent_add_beats_remove() -> None:
    orset = ORSet()
    orset.add("m", (1, "a"))
    # Node b removes what it saw (tag 1); node a concurrently re-adds (tag 2).
    orset.add("m", (2, "a"))
    assert not orset.remove("m", [(1, "a")])
    assert "m" in orset
    assert orset.tags("m") == [(2, "a")]


def test_remove_then_late_add_of_the_same_tag_stays_removed() -> None:
    for keep in (True, False):
        orset = ORSet()
        assert not orset.remove("m", [(1, "a")], keep_tombstones=keep)
        assert not orset.add("m", (1, "a"), keep_tombstones=keep)
        assert "m" not in orset
        # A cluster node keeps the tombstone; a standalone one drops it once used.
        assert orset.pending_removals == ({("m", (1, "a"))} if keep else set())


@settings(max_examples=100, deadline=None, phases=NO_SHRINK)
@given(histories(replica_count=1))
def test_without_tombstones_in_order_delivery_gives_the_same_members(
    ops: list[tuple[Any, ...]],
) -> None:
    # A standalone node applies its own log in order and keeps no tombstones:
    # same members as a cluster node, and nothing left of removed members.
    kept, dropped = Replica(True), Replica(False)
    for op_id, op in enumerate(ops):
        kept.deliver(op_id, op)
        dropped.deliver(op_id, op)
    assert _members(dropped.orset) == _members(kept.orset)


def test_prune_drops_old_tags_and_floor_blocks_old_adds() -> None:
    orset = ORSet()
    orset.add("old", (1, "a"))
    orset.add("new", (5, "a"))
    orset.prune(3)
    assert list(orset) == ["new"]
    assert not orset.add("older", (2, "b"), floor_hlc=3)
    assert orset.add("newer", (4, "b"), floor_hlc=3)
    assert orset.newest_live_hlc() == 5


def test_wire_round_trip() -> None:
    orset = ORSet()
    orset.add("m", (1, "a"))
    orset.add("m", (2, "b"))
    orset.add(b"raw", (3, "a"))
    orset.remove("gone", [(9, "c")])
    again = ORSet.from_wire(orset.to_wire())
    assert _members(again) == _members(orset)
    assert again.pending_removals == orset.pending_removals


def test_two_removes_of_one_tag_leave_the_same_state_in_any_order() -> None:
    # Two nodes remove the same observed tag concurrently (both SREM m).
    tag = (1, "a")
    states = []
    for order in (("add", "r1", "r2"), ("r1", "r2", "add"), ("r1", "add", "r2")):
        orset = ORSet()
        for step in order:
            if step == "add":
                orset.add("m", tag)
            else:
                orset.remove("m", [tag])
        states.append(orset.to_wire())
    assert states[0] == states[1] == states[2], states


def test_remove_and_reset_leave_the_same_state_in_any_order() -> None:
    tag = (1, "a")
    states = []
    for order in (("remove", "reset"), ("reset", "remove")):
        orset = ORSet()
        orset.add("m", tag)
        for step in order:
            if step == "remove":
                orset.remove("m", [tag])
            else:
                orset.prune(5)
        states.append(orset.to_wire())
    assert states[0] == states[1], states
