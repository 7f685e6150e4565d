"""PN-counter: per-node totals merged by maximum, resets that observe totals.

Laws (``bolt/crdt/_pncounter.py``): the state-based merge (``update`` every
node's totals, ``reset`` with the other side's base) is commutative,
associative and idempotent; applying the operations of a history in any
order, with duplicates, gives the same counter; a reset removes exactly the
increments it observed, and concurrent increments survive.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bolt.crdt import PNCounter

ORIGINS = ("a", "b", "c")

# One operation: ("update", origin, P, N, hlc) or ("reset", {origin: (P, N)}).
Op = tuple[Any, ...]


@st.composite
def histories(draw: st.DrawFn) -> list[Op]:
    """Monotone totals per origin, and resets that observe earlier totals."""
    totals = {o: [0, 0] for o in ORIGINS}
    issued: dict[str, list[tuple[int, int]]] = {o: [(0, 0)] for o in ORIGINS}
    ops: list[Op] = []
    hlc = 0
    for _ in range(draw(st.integers(0, 25))):
        hlc += 1
        if draw(st.integers(0, 5)) == 0:
            # A reset observes, for each origin, one of the totals already issued.
            observed = {o: draw(st.sampled_from(issued[o])) for o in ORIGINS if draw(st.booleans())}
            ops.append(("reset", observed))
            continue
        origin = draw(st.sampled_from(ORIGINS))
        delta = draw(st.integers(-5, 5))
        if delta >= 0:
            totals[origin][0] += delta
        else:
            totals[origin][1] -= delta
        positive, negative = totals[origin]
        issued[origin].append((positive, negative))
        ops.append(("update", origin, positive, negative, hlc))
    return ops


def _run(ops: list[Op]) -> PNCounter:
    counter = PNCounter()
    for op in ops:
        if op[0] == "update":
            counter.update(*op[1:])
        else:
            counter.reset(op[1])
    return counter


def _state(counter: PNCounter) -> tuple[int, Any, Any]:
    return (
        counter.value(),
        sorted((o, tuple(e)) for o, e in counter.nodes.items()),
        sorted(counter.base.items()),
    )


@settings(max_examples=150, deadline=None)
@given(histories(), st.randoms(use_true_random=False), st.data())
def test_any_order_with_duplicates_converges(ops: list[Op], rnd: Any, data: st.DataObject) -> None:
    reference = _state(_run(ops))
    for _ in range(3):
        shuffled = list(ops)
        if ops:
            shuffled += [rnd.choice(ops) for _ in range(data.draw(st.integers(0, 5)))]
        rnd.shuffle(shuffled)
        assert _state(_run(shuffled)) == reference


def _merge(left: PNCounter, right: PNCounter) -> PNCounter:
    result = PNCounter.from_wire(left.to_wire())
    for origin, (positive, negative, hlc) in right.nodes.items():
        result.update(origin, positive, negative, hlc)
    result.reset(right.base)
    return result


@settings(max_examples=100, deadline=None)
@given(histories(), histories(), histories())
def test_state_merge_is_commutative_associative_idempotent(
    a_ops: list[Op], b_ops: list[Op], c_ops: list[Op]
) -> None:
    a, b, c = _run(a_ops), _run(b_ops), _run(c_ops)
    assert _state(_merge(a, b)) == _state(_merge(b, a))
    assert _state(_merge(_merge(a, b), c)) == _state(_merge(a, _merge(b, c)))
    assert _state(_merge(a, a)) == _state(a)


def test_every_increment_on_every_node_counts() -> None:
    counter = PNCounter()
    counter.update("a", 3, 0, 1)
    counter.update("b", 2, 1, 2)
    counter.update("a", 3, 0, 1)  # a duplicate changes nothing
    assert counter.value() == 3 + 2 - 1
    assert counter.totals("a") == (3, 0)
    assert counter.totals("z") == (0, 0)


def test_reset_drops_what_it_observed_and_keeps_concurrent_increments() -> None:
    counter = PNCounter()
    counter.update("a", 5, 0, 1)
    counter.update("b", 2, 0, 2)
    # A delete on node a saw a=5 and b=2; concurrently b incremented to 4.
    counter.reset({"a": (5, 0), "b": (2, 0)})
    counter.update("b", 4, 0, 3)
    assert counter.value() == 2
    assert counter.live()
    assert counter.newest_live_hlc() == 3
    counter.reset({"b": (4, 0)})
    assert counter.value() == 0
    assert not counter.live()
    assert counter.newest_live_hlc() == 0


def test_wire_round_trip() -> None:
    counter = PNCounter()
    counter.update("a", 5, 2, 7)
    counter.reset({"a": (1, 1)})
    again = PNCounter.from_wire(counter.to_wire())
    assert _state(again) == _state(counter)
    assert again.value() == 3
