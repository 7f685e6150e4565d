"""Dots, version vectors and dot sets: duplicates detected in any order.

``DotSet.add`` returns True exactly once per dot, whatever the order of
arrival; dots above the contiguous prefix are held as exceptions and fold into
the vector as soon as the gap closes. Version vectors merge by per-origin max.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bolt.crdt import DotSet, VersionVector

origins = st.sampled_from(["a", "b", "c"])
dots = st.tuples(origins, st.integers(min_value=1, max_value=12))


def _model_vector(seen: set[tuple[str, int]]) -> dict[str, int]:
    vector: dict[str, int] = {}
    for origin in {o for o, _ in seen}:
        top = 0
        while (origin, top + 1) in seen:
            top += 1
        if top:
            vector[origin] = top
    return vector


@settings(max_examples=300, deadline=None)
@given(st.lists(dots, max_size=80))
def test_add_is_true_exactly_once_per_dot_in_any_order(arrivals: list[tuple[str, int]]) -> None:
    dotset = DotSet()
    seen: set[tuple[str, int]] = set()
    for dot in arrivals:
        assert dotset.add(dot) is (dot not in seen)
        seen.add(dot)
        assert dot in dotset
    vector = _model_vector(seen)
    assert dotset.vector.to_dict() == vector
    expected_exceptions = sorted(d for d in seen if d[1] > vector.get(d[0], 0))
    assert dotset.exceptions() == expected_exceptions
    for origin in ("a", "b", "c"):
        for seq in range(1, 14):
            assert ((origin, seq) in dotset) is ((origin, seq) in seen)


@settings(max_examples=100, deadline=None)
@given(st.permutations(list(range(1, 20))))
def test_exceptions_fold_into_the_vector_when_the_gap_closes(order: list[int]) -> None:
    dotset = DotSet()
    for seq in order:
        assert dotset.add(("n", seq))
    assert dotset.vector.get("n") == 19
    assert dotset.exceptions() == []


def test_fold_after_a_gap() -> None:
    dotset = DotSet()
    assert dotset.add(("n", 1))
    assert dotset.add(("n", 3))
    assert dotset.add(("n", 4))
    assert dotset.vector.get("n") == 1
    assert dotset.exceptions() == [("n", 3), ("n", 4)]
    assert not dotset.add(("n", 3))
    assert dotset.add(("n", 2))
    assert dotset.vector.get("n") == 4
    assert dotset.exceptions() == []
    assert not dotset.add(("n", 2))
    assert not dotset.add(("n", 0))


@settings(max_examples=100, deadline=None)
@given(st.lists(dots, max_size=40))
def test_wire_round_trip_and_copy(arrivals: list[tuple[str, int]]) -> None:
    dotset = DotSet()
    for dot in arrivals:
        dotset.add(dot)
    again = DotSet.from_wire(dotset.to_wire())
    assert again == dotset
    copy = dotset.copy()
    assert copy == dotset
    copy.add(("z", 1))
    assert ("z", 1) not in dotset  # the copy is independent


vectors = st.dictionaries(origins, st.integers(0, 20), max_size=3)


def _merged(*items: dict[str, int]) -> VersionVector:
    result = VersionVector()
    for item in items:
        result.merge(VersionVector(item))
    return result


@settings(max_examples=100, deadline=None)
@given(vectors, vectors, vectors)
def test_version_vector_merge_is_a_join(
    a: dict[str, int], b: dict[str, int], c: dict[str, int]
) -> None:
    assert _merged(a, b) == _merged(b, a)
    assert _merged(_merged(a, b).to_dict(), c) == _merged(a, _merged(b, c).to_dict())
    assert _merged(a, a) == VersionVector(a)
    merged = _merged(a, b)
    assert merged.dominates(VersionVector(a))
    assert merged.dominates(VersionVector(b))
    for origin in ("a", "b", "c"):
        assert merged.get(origin) == max(a.get(origin, 0), b.get(origin, 0))


def test_version_vector_basics() -> None:
    vector = VersionVector({"a": 3})
    assert vector.covers(("a", 3))
    assert not vector.covers(("a", 4))
    assert not vector.covers(("b", 1))
    vector.advance("a", 2)  # never lowers
    assert vector.get("a") == 3
    assert VersionVector({"a": 0}) == VersionVector()
    assert not VersionVector({"a": 1}).dominates(VersionVector({"b": 1}))
