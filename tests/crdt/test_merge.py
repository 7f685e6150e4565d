"""Whole-state merges of the CRDTs: the join laws, and "merge of states = state of
all operations" (each replica applies a random subset of one set of operations)."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bolt.crdt import DotSet, ORSet, PNCounter, Sequence, VersionVector, later

ORIGINS = ("a", "b", "c")


# --- operations and replicas ------------------------------------------------------------------


def _orset_ops(rnd: random.Random, count: int) -> list[tuple[Any, ...]]:
    ops: list[tuple[Any, ...]] = []
    added: list[tuple[str, tuple[int, str]]] = []
    for hlc in range(1, count + 1):
        choice = rnd.random()
        if choice < 0.55 or not added:
            member, tag = rnd.choice("xyz"), (hlc, rnd.choice(ORIGINS))
            added.append((member, tag))
            ops.append(("add", member, tag))
        elif choice < 0.9:
            member, tag = rnd.choice(added)
            ops.append(("remove", member, [tag]))
        else:
            ops.append(("prune", hlc))
    return ops


def _orset(ops: list[tuple[Any, ...]]) -> ORSet:
    result = ORSet()
    for op in ops:
        if op[0] == "add":
            result.add(op[1], op[2])
        elif op[0] == "remove":
            result.remove(op[1], op[2])
        else:
            result.prune(op[1])
    return result


def _orset_state(s: ORSet) -> Any:
    return (
        sorted((m, sorted(s.tags(m))) for m in s.members),
        sorted(s.pending_removals),
        s.floor,
    )


def _sequence_ops(rnd: random.Random, count: int) -> list[tuple[Any, ...]]:
    ops: list[tuple[Any, ...]] = []
    pushed: list[tuple[int, str, int]] = []
    for hlc in range(1, count + 1):
        choice = rnd.random()
        if choice < 0.55 or not pushed:
            sign = rnd.choice((1, -1))
            position = (sign * hlc, rnd.choice(ORIGINS), 0)
            pushed.append(position)
            ops.append(("insert", position, f"v{hlc}"))
        elif choice < 0.9:
            ops.append(("remove", rnd.choice(pushed)))
        else:
            ops.append(("prune", hlc))
    return ops


def _sequence(ops: list[tuple[Any, ...]]) -> Sequence:
    result = Sequence()
    for op in ops:
        if op[0] == "insert":
            result.insert(op[1], op[2])
        elif op[0] == "remove":
            result.remove(op[1])
        else:
            result.prune(op[1])
    return result


def _sequence_state(s: Sequence) -> Any:
    return (list(s.items()), list(s.order), sorted(s.pending_removals), s.floor)


def _counter_ops(rnd: random.Random, count: int) -> list[tuple[Any, ...]]:
    totals = {o: [0, 0] for o in ORIGINS}
    ops: list[tuple[Any, ...]] = []
    for hlc in range(1, count + 1):
        origin = rnd.choice(ORIGINS)
        if rnd.random() < 0.85:
            totals[origin][rnd.randint(0, 1)] += rnd.randint(1, 5)
            ops.append(("update", origin, *totals[origin], hlc))
        else:
            ops.append(
                ("reset", {o: (t[0], t[1]) for o, t in totals.items() if rnd.random() < 0.7})
            )
    return ops


def _counter(ops: list[tuple[Any, ...]]) -> PNCounter:
    result = PNCounter()
    for op in ops:
        if op[0] == "update":
            result.update(*op[1:])
        else:
            result.reset(op[1])
    return result


def _counter_state(c: PNCounter) -> Any:
    return (sorted((o, list(e)) for o, e in c.nodes.items()), sorted(c.base.items()), c.value())


KINDS: dict[str, tuple[Any, Any, Any, Any]] = {
    "orset": (_orset_ops, _orset, _orset_state, ORSet),
    "sequence": (_sequence_ops, _sequence, _sequence_state, Sequence),
    "counter": (_counter_ops, _counter, _counter_state, PNCounter),
}


def _subset(rnd: random.Random, ops: list[Any]) -> list[Any]:
    """A replica's view: some of the operations, in the order they were issued."""
    return [op for op in ops if rnd.random() < 0.6]


def _merged(*replicas: Any) -> Any:
    result = type(replicas[0])()
    for replica in replicas:
        result.merge(replica)
    return result


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(KINDS)), st.integers(0, 2**32), st.integers(0, 40))
def test_merge_is_a_join_and_equals_applying_everything(kind: str, seed: int, count: int) -> None:
    make_ops, build, state, _cls = KINDS[kind]
    rnd = random.Random(seed)
    ops = make_ops(rnd, count)
    picks = [_subset(rnd, ops) for _ in range(3)]
    a, b, c = (build(p) for p in picks)
    ab, ba = _merged(a, b), _merged(b, a)
    assert state(ab) == state(ba)  # commutative
    assert state(_merged(_merged(a, b), c)) == state(_merged(a, _merged(b, c)))  # associative
    assert state(_merged(a, a)) == state(a)  # idempotent
    before = state(b)
    a.merge(b)
    assert state(b) == before  # the argument is not changed
    # The merge of two replicas is the replica that saw both sets of operations.
    union = [op for op in ops if op in picks[0] or op in picks[1]]
    assert state(ab) == state(build(union))


def test_orset_merge_add_wins_over_a_concurrent_remove() -> None:
    left, right = ORSet(), ORSet()
    left.add("m", (1, "a"))
    right.add("m", (1, "a"))
    right.remove("m", [(1, "a")])
    left.add("m", (2, "b"))  # concurrent with the remove: it never saw this tag
    left.merge(right)
    assert "m" in left and left.tags("m") == [(2, "b")]


def test_sequence_merge_keeps_one_agreed_order() -> None:
    left, right = Sequence(), Sequence()
    left.insert((5, "a", 0), "x")
    right.insert((3, "b", 0), "y")
    right.insert((-7, "b", 0), "z")
    left.merge(right)
    assert list(left) == ["z", "y", "x"]


def test_dotset_merge_is_a_union_that_folds_exceptions() -> None:
    left = DotSet(VersionVector({"a": 2}), [("a", 5), ("b", 3)])
    right = DotSet(VersionVector({"a": 4, "b": 1}), [("b", 2)])
    left.merge(right)
    assert left.vector.to_dict() == {"a": 5, "b": 3}
    assert left.exceptions() == []
    assert ("a", 5) in left and ("a", 6) not in left


@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(ORIGINS)), min_size=1, max_size=6))
def test_later_is_an_lww_join(stamps: list[tuple[int, str]]) -> None:
    forward = stamps[0]
    for stamp in stamps[1:]:
        forward = later(forward, stamp)
    backward = stamps[-1]
    for stamp in reversed(stamps[:-1]):
        backward = later(stamp, backward)
    assert forward == backward == max(stamps)


# --- forget_seen: what a node that has seen everything up to an HLC lacks ---------------------


def _elements(kind: str, replica: Any) -> set[Any]:
    """The live element ids with their HLCs: set tags, list positions."""
    if kind == "orset":
        return {(m, t) for m in replica.members for t in replica.tags(m)}
    return set(replica.values)


def _element_hlc(kind: str, element: Any) -> int:
    return element[1][0] if kind == "orset" else abs(element[0])


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["orset", "sequence"]),
    st.integers(0, 2**32),
    st.integers(0, 40),
    st.integers(0, 45),
)
def test_forget_seen_drops_exactly_the_old_elements_the_holder_lacks(
    kind: str, seed: int, count: int, seen: int
) -> None:
    make_ops, build, state, _cls = KINDS[kind]
    rnd = random.Random(seed)
    ops = make_ops(rnd, count)
    incoming, held = build(_subset(rnd, ops)), build(_subset(rnd, ops))
    before, tombstones = _elements(kind, incoming), sorted(incoming.pending_removals)
    incoming.forget_seen(seen, held)
    kept = {e for e in before if _element_hlc(kind, e) > seen or e in _elements(kind, held)}
    assert _elements(kind, incoming) == kept
    assert sorted(incoming.pending_removals) == tombstones  # removals are never forgotten
    unchanged = build(ops)
    snapshot = state(unchanged)
    unchanged.forget_seen(0, None)  # seen_hlc 0: nothing is known to be seen
    assert state(unchanged) == snapshot
