"""The blocked-pop queue (``bolt.server._blocking``): oldest first, one wake-up
per push, and the Bolt-port argument checks."""

from __future__ import annotations

import pytest

from bolt import limits
from bolt.errors import BadRequestError
from bolt.events import ListPushed, SetAdded
from bolt.node import Change
from bolt.server._blocking import ListWaiters, bolt_pop_args


def test_a_push_wakes_the_oldest_waiter_only() -> None:
    waiters = ListWaiters()
    with waiters.waiter([("", "q")]) as first, waiters.waiter([("", "q"), ("", "r")]) as second:
        assert waiters.first_on(("", "q"), first) and not waiters.first_on(("", "q"), second)
        assert waiters.first_on(("", "r"), second)
        push = ListPushed("n", 1, 1, "", "q", False, ("x",))
        waiters.committed(Change(1, (push, SetAdded("n", 2, 2, "", "q", ("m",)))))
        assert first.event.is_set() and not second.event.is_set()
        waiters.committed(Change(2, (push,)))  # the next push: the next waiter
        assert second.event.is_set()
        assert waiters.count() == 2
    assert waiters.count() == 0


def test_a_leaving_waiter_moves_the_next_one_up() -> None:
    waiters = ListWaiters()
    with waiters.waiter([("db", "q")]) as first:
        with waiters.waiter([("db", "q")]) as second:
            assert not waiters.first_on(("db", "q"), second)
            with waiters.waiter([("db", "q")]):
                pass
        assert waiters.first_on(("db", "q"), first)
    waiters.wake_everyone()  # nothing left to wake: no error


@pytest.mark.parametrize(
    "args",
    [["k"], ["k", -1], ["k", 1.5], ["k", "10"], [7, 10], []],
)
def test_bad_bolt_port_arguments_are_refused(args: list[object]) -> None:
    with pytest.raises(BadRequestError):
        bolt_pop_args("BLPOP", args)


def test_the_bolt_port_caps_one_wait() -> None:
    cap = limits.blocking_pop_wait_ms_max / 1000
    assert bolt_pop_args("BLPOP", ["a", "b", 0]) == (["a", "b"], cap)
    assert bolt_pop_args("BLPOP", ["a", 10**9]) == (["a"], cap)
    assert bolt_pop_args("BLPOP", ["a", 250]) == (["a"], 0.25)
