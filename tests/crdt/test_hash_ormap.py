"""Add-wins OR-map of LWW fields (hashes): built from simulated replicas' operations.

Each replica issues HSET-like writes (several fields sharing one tag
``(hlc, origin)``, each naming the tags of that field it observed, exactly as
``bolt.state.apply`` does for a HashFieldsSet event), HDEL-like deletes
carrying the tags they observed, and key resets (prune at an HLC). Delivering
every operation to a fresh map, in any order and with duplicates skipped by
operation id (as the dot layer does), must give the same fields, values and
internal state; and the whole-state :func:`merge` of any two replicas' states
must equal the state made of the union of their operations.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bolt.crdt import ORMap
from bolt.crdt._ormap import merge
from tests.crdt._support import NO_SHRINK, delivery_orders

FIELDS = ("f", "g", b"h")
VALUES = ("1", "2", b"\xff", "")


class Replica:
    """One node's view: the map plus the key's reset floor (as ``apply`` keeps it)."""

    def __init__(self, keep_tombstones: bool = True) -> None:
        self.map = ORMap()
        self.floor = 0
        self.keep = keep_tombstones
        self.seen: set[int] = set()

    def deliver(self, op_id: int, op: tuple[Any, ...]) -> None:
        if op_id in self.seen:
            return  # duplicates are skipped by dot, one level up
        self.seen.add(op_id)
        kind = op[0]
        if kind == "set":
            for field, value, observed in op[1]:
                self.map.put(field, value, op[2], observed, self.floor, self.keep)
        elif kind == "delete":
            for field, tags in op[1]:
                self.map.remove(field, tags, self.floor, self.keep)
        else:
            self.floor = max(self.floor, op[1])
            self.map.prune(op[1])


def _visible(orm: ORMap) -> list[tuple[Any, Any]]:
    return sorted(orm.items(), key=repr)


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
            fields = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True))
            writes = tuple(
                (f, draw(st.sampled_from(VALUES)), tuple(replica.map.tags(f))) for f in fields
            )
            op: tuple[Any, ...] = ("set", writes, (hlc, names[index]))
        elif choice <= 7:
            present = [f for f in FIELDS if f in replica.map]
            if not present:
                continue
            chosen = draw(st.lists(st.sampled_from(present), min_size=1, unique=True))
            op = ("delete", tuple((f, tuple(replica.map.tags(f))) for f in chosen))
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


def _run(order: list[int], ops: list[tuple[Any, ...]], keep: bool = True) -> ORMap:
    replica = Replica(keep)
    for op_id in order:
        replica.deliver(op_id, ops[op_id])
    return replica.map


@settings(max_examples=200, deadline=None, phases=NO_SHRINK)
@given(histories(), st.randoms(use_true_random=False))
def test_fields_and_state_converge_in_any_order_with_duplicates(
    ops: list[tuple[Any, ...]], rnd: Any
) -> None:
    maps = [_run(order, ops) for order in delivery_orders(len(ops), rnd)]
    assert all(_visible(m) == _visible(maps[0]) for m in maps), [_visible(m) for m in maps]
    assert all(m.state() == maps[0].state() for m in maps)


@settings(max_examples=100, deadline=None, phases=NO_SHRINK)
@given(histories(replica_count=1))
def test_without_tombstones_in_order_delivery_gives_the_same_fields(
    ops: list[tuple[Any, ...]],
) -> None:
    kept = _run(list(range(len(ops))), ops, True)
    dropped = _run(list(range(len(ops))), ops, False)
    assert _visible(dropped) == _visible(kept)
    # Sequential use keeps one tag per field and no tombstones at all.
    assert not dropped.pending_removals
    assert all(len(dropped.tags(f)) == 1 for f in dropped)


@st.composite
def state_triples(draw: st.DrawFn) -> tuple[list[tuple[Any, ...]], list[list[int]]]:
    """A history and three subsets of it (what three replicas had received)."""
    ops = draw(histories())
    ids = list(range(len(ops)))
    subsets = [draw(st.lists(st.sampled_from(ids), unique=True)) if ids else [] for _ in range(3)]
    return ops, subsets


@settings(max_examples=200, deadline=None, phases=NO_SHRINK)
@given(state_triples())
def test_merge_is_commutative_associative_idempotent(data: Any) -> None:
    ops, (s1, s2, s3) = data
    a, b, c = _run(s1, ops), _run(s2, ops), _run(s3, ops)
    assert merge(a, b).state() == merge(b, a).state()
    assert merge(merge(a, b), c).state() == merge(a, merge(b, c)).state()
    assert merge(a, a).state() == a.state()
    assert a.merge(b).state() == merge(a, b).state()


@settings(max_examples=200, deadline=None, phases=NO_SHRINK)
@given(state_triples())
def test_merge_equals_delivering_the_union_of_events(data: Any) -> None:
    ops, (s1, s2, _) = data
    union = sorted(set(s1) | set(s2))
    merged = merge(_run(s1, ops), _run(s2, ops))
    assert merged.state() == _run(union, ops).state()
    assert _visible(merged) == _visible(_run(union, ops))


def test_merge_leaves_its_arguments_alone() -> None:
    a, b = ORMap(), ORMap()
    a.put("f", "1", (1, "a"))
    b.remove("f", [(1, "a")])
    before = (a.state(), b.state())
    assert "f" not in merge(a, b)
    assert (a.state(), b.state()) == before


def test_concurrent_field_set_beats_a_field_delete() -> None:
    orm = ORMap()
    orm.put("f", "old", (1, "a"))
    # Node b deletes what it saw (tag 1); node a concurrently writes f again.
    orm.put("f", "new", (2, "a"), [(1, "a")])
    assert not orm.remove("f", [(1, "a")])
    assert orm.get("f") == "new"


def test_concurrent_writes_of_one_field_keep_the_later_hlc() -> None:
    for order in ((0, 1), (1, 0)):
        orm = ORMap()
        writes = [("x", (5, "a")), ("y", (7, "b"))]
        for i in order:
            orm.put("f", writes[i][0], writes[i][1])
        assert orm.get("f") == "y"
        assert orm.tags("f") == [(5, "a"), (7, "b")]
        # The next write observes both and leaves one tag.
        orm.put("f", "z", (9, "a"), orm.tags("f"))
        assert orm.tags("f") == [(9, "a")]


def test_writes_to_different_fields_both_survive() -> None:
    orm = ORMap()
    orm.put("f", "1", (3, "a"))
    orm.put("g", "2", (3, "b"))
    assert sorted(orm.items()) == [("f", "1"), ("g", "2")]


def test_prune_and_wire_round_trip() -> None:
    orm = ORMap()
    orm.put("old", "1", (1, "a"))
    orm.put("new", "2", (5, "a"))
    orm.put("new", "3", (6, "b"))
    orm.remove("gone", [(9, "c")])
    orm.prune(3)
    assert list(orm) == ["new"]
    assert not orm.put("older", "x", (2, "b"), floor_hlc=3)
    again = ORMap.from_wire(orm.to_wire())
    assert again.state() == orm.state()
    assert again.get("new") == "3"
    assert orm.newest_live_hlc() == 6


def test_forget_seen_drops_old_field_writes_the_holder_lacks() -> None:
    incoming, held = ORMap(), ORMap()
    incoming.put("old", "1", (1, "a"))
    incoming.put("kept", "2", (2, "a"))
    incoming.put("new", "3", (9, "b"))
    held.put("kept", "2", (2, "a"))
    incoming.forget_seen(5, held)
    assert sorted(incoming.items()) == [("kept", "2"), ("new", "3")]
    before = incoming.state()
    incoming.forget_seen(0, None)
    assert incoming.state() == before
