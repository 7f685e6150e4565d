"""The task view and task commands, pure: claims, leases, fencing, dead letters."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bolt import limits
from bolt.errors import (
    BadRequestError,
    StaleAttemptError,
    TaskExistsError,
    TaskNotFoundError,
    TaskStateError,
    TooLargeError,
)
from bolt.events import decode_record, encode_record
from bolt.state import Keyspace, apply
from bolt.state._tasks import TaskView
from bolt.testing._clock import ManualClock
from tests.state._support import SimNode


def node() -> SimNode:
    return SimNode("n1", ManualClock())


def create(n: SimNode, task_type: str = "research", data: Any = None, **options: Any) -> Any:
    return n.call("TASK.CREATE", "", task_type, data or {"q": 1}, options or None)


def test_create_then_claim_hands_the_task_to_exactly_one_agent() -> None:
    n = node()
    task = create(n)
    assert task["status"] == "pending" and task["attempt"] == 1
    claimed = n.call("TASK.CLAIM", "research", "a1", 5000)
    assert claimed["id"] == task["id"] and claimed["agent_id"] == "a1"
    assert claimed["data"] == {"q": 1}
    assert n.call("TASK.CLAIM", "research", "a2", 5000) is None
    got = n.call("TASK.GET", task["id"])
    assert got["status"] == "claimed" and got["agent_id"] == "a1"
    assert got["lease_expires_at_ms"] == n.clock() + 5000


def test_claims_follow_priority_then_age() -> None:
    n = node()
    low = create(n, priority=0)
    high = create(n, priority=5)
    older_low = low["id"]
    low2 = create(n, priority=0)
    order = [n.call("TASK.CLAIM", "research", "a", 1000)["id"] for _ in range(3)]
    assert order == [high["id"], older_low, low2["id"]]


def test_a_stale_attempt_is_refused_after_the_lease_expired() -> None:
    n = node()
    task = create(n)
    first = n.call("TASK.CLAIM", "research", "a1", 1000)
    n.clock.advance(1001)
    assert n.call("TASK.EXPIRE") == 1
    again = n.call("TASK.GET", task["id"])
    assert again["status"] == "pending" and again["attempt"] == 2
    second = n.call("TASK.CLAIM", "research", "a2", 1000)
    assert second["attempt"] == 2
    with pytest.raises(StaleAttemptError):
        n.call("TASK.COMPLETE", task["id"], first["attempt"], {"late": True})
    with pytest.raises(StaleAttemptError):
        n.call("TASK.RENEW", task["id"], first["attempt"], 1000)
    assert n.call("TASK.COMPLETE", task["id"], 2, {"ok": 1}) is True
    done = n.call("TASK.GET", task["id"])
    assert done["status"] == "completed" and done["result"] == {"ok": 1}


def test_a_renewed_lease_does_not_expire() -> None:
    n = node()
    task = create(n)
    n.call("TASK.CLAIM", "research", "a1", 1000)
    n.clock.advance(800)
    n.call("TASK.RENEW", task["id"], 1, 1000)
    n.clock.advance(800)
    assert n.call("TASK.EXPIRE") == 0
    assert n.call("TASK.GET", task["id"])["status"] == "claimed"


def test_after_max_attempts_the_task_is_dead_and_retryable_by_hand() -> None:
    n = node()
    task = create(n, max_attempts=2)
    for _ in range(2):
        assert n.call("TASK.CLAIM", "research", "a", 100) is not None
        n.clock.advance(101)
        assert n.call("TASK.EXPIRE") == 1
    dead = n.call("TASK.GET", task["id"])
    assert dead["status"] == "dead" and "expired" in dead["error"]
    assert [t["id"] for t in n.call("TASK.LIST", None, "dead")] == [task["id"]]
    assert n.call("TASK.CLAIM", "research", "a", 100) is None
    retried = n.call("TASK.RETRY", task["id"])
    assert retried["status"] == "pending" and retried["attempt"] == 3
    assert n.call("TASK.CLAIM", "research", "a", 100)["attempt"] == 3


def test_a_failure_with_retry_goes_back_to_pending_until_the_last_attempt() -> None:
    n = node()
    task = create(n, max_attempts=2)
    n.call("TASK.CLAIM", "research", "a", 1000)
    assert n.call("TASK.FAIL", task["id"], 1, "boom", True) == "pending"
    n.call("TASK.CLAIM", "research", "a", 1000)
    assert n.call("TASK.FAIL", task["id"], 2, "boom again", True) == "dead"
    assert n.call("TASK.GET", task["id"])["error"] == "boom again"


def test_a_failure_without_retry_is_final() -> None:
    n = node()
    task = create(n)
    n.call("TASK.CLAIM", "research", "a", 1000)
    assert n.call("TASK.FAIL", task["id"], 1, "no") == "failed"
    with pytest.raises(TaskStateError):
        n.call("TASK.COMPLETE", task["id"], None, 1)


def test_release_gives_the_task_back_without_using_an_attempt() -> None:
    n = node()
    task = create(n, max_attempts=1)
    n.call("TASK.CLAIM", "research", "a", 1000)
    n.call("TASK.RELEASE", task["id"], 1)
    again = n.call("TASK.CLAIM", "research", "b", 1000)
    assert again["attempt"] == 2 and again["agent_id"] == "b"


def test_cancel_and_its_refusals() -> None:
    n = node()
    task = create(n)
    assert n.call("TASK.CANCEL", task["id"]) is True
    assert n.call("TASK.CLAIM", "research", "a", 1000) is None
    with pytest.raises(TaskStateError):
        n.call("TASK.CANCEL", task["id"])
    with pytest.raises(TaskNotFoundError):
        n.call("TASK.CANCEL", "nope")


def test_delayed_and_dependent_tasks_wait_until_ready() -> None:
    n = node()
    parent = create(n, "step")
    child = create(n, "step", parents=[parent["id"]])
    later = create(n, "later", run_at_ms=n.clock() + 1000)
    assert n.call("TASK.CLAIM", "later", "a", 100) is None
    claimed = n.call("TASK.CLAIM", "step", "a", 1000)
    assert claimed["id"] == parent["id"]
    assert n.call("TASK.CLAIM", "step", "a", 1000) is None  # the child waits for its parent
    n.call("TASK.COMPLETE", parent["id"], 1, {"out": 42})
    got = n.call("TASK.CLAIM", "step", "a", 1000)
    assert got["id"] == child["id"] and got["parent_results"] == {parent["id"]: {"out": 42}}
    n.clock.advance(1000)
    assert n.call("TASK.CLAIM", "later", "a", 100)["id"] == later["id"]


def test_bad_input_is_refused_and_writes_nothing() -> None:
    n = node()
    create(n)
    seq = n.seq
    with pytest.raises(BadRequestError):
        n.call("TASK.CREATE", "", "", {})
    with pytest.raises(TooLargeError):
        n.call("TASK.CREATE", "", "t", "x" * (limits.task_data_bytes_max + 1))
    with pytest.raises(TaskExistsError):
        n.call("TASK.CREATE", "fixed", "t", {})
        n.call("TASK.CREATE", "fixed", "t", {})
    seq = n.seq
    with pytest.raises(BadRequestError):
        n.call("TASK.CREATE", "", "t", {}, {"bogus": 1})
    with pytest.raises(TaskNotFoundError):
        n.call("TASK.CREATE", "", "t", {}, {"parents": ["missing"]})
    with pytest.raises(BadRequestError):
        n.call("TASK.CLAIM", "research", "a", 1)  # lease below the minimum
    with pytest.raises(BadRequestError):
        n.call("TASK.LIST", None, "sleeping")
    assert n.seq == seq


def test_databases_are_separate_namespaces() -> None:
    n = node()
    task = n.call("TASK.CREATE", "", "t", {}, None, db="team-a")
    assert n.call("TASK.GET", task["id"]) is None
    assert n.call("TASK.CLAIM", "t", "a", 1000) is None
    assert n.call("TASK.CLAIM", "t", "a", 1000, db="team-a")["id"] == task["id"]


def test_stats_count_per_type_and_status() -> None:
    n = node()
    create(n, "a")
    create(n, "a")
    create(n, "b")
    n.call("TASK.CLAIM", "a", "x", 1000)
    stats = n.call("TASK.STATS")
    assert stats["types"]["a"]["pending"] == 1 and stats["types"]["a"]["claimed"] == 1
    assert stats["types"]["b"]["pending"] == 1 and stats["claims_total"] == 1


# --- replay and snapshots -------------------------------------------------------------


def _history(n: SimNode, ops: list[int]) -> list[Any]:
    """Drive ``n`` through a random mix of task operations; return every event."""
    events: list[Any] = []
    for op in ops:
        kind = op % 6
        if kind == 0:
            events += n.run("TASK.CREATE", "", f"t{op % 2}", {"op": op}, {"max_attempts": 2})[1]
        elif kind == 1:
            events += n.run("TASK.CLAIM", f"t{op % 2}", f"a{op % 3}", 500)[1]
        elif kind == 2:
            claimed = [t for t in n.keyspace.tasks.tasks.values() if t.status == "claimed"]
            if claimed:
                t = claimed[op % len(claimed)]
                events += n.run("TASK.COMPLETE", t.id, t.attempt, [op])[1]
        elif kind == 3:
            n.clock.advance(300)
            events += n.run("TASK.EXPIRE")[1]
        elif kind == 4:
            claimed = [t for t in n.keyspace.tasks.tasks.values() if t.status == "claimed"]
            if claimed:
                t = claimed[0]
                events += n.run("TASK.FAIL", t.id, t.attempt, "x", True)[1]
        else:
            dead = [t for t in n.keyspace.tasks.tasks.values() if t.status == "dead"]
            if dead:
                events += n.run("TASK.RETRY", dead[0].id)[1]
    return events


def _summary(view: TaskView) -> dict[Any, Any]:
    return {k: tuple(t.to_reply().items()) for k, t in view.tasks.items()}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=1000), max_size=80))
def test_replaying_the_events_rebuilds_the_same_tasks(ops: list[int]) -> None:
    n = node()
    events = _history(n, ops)
    replayed = Keyspace(4)
    for event in decode_record(encode_record(events)) if events else []:
        apply(replayed, event)
    for event in events:  # duplicates change nothing
        assert not apply(replayed, event)
    assert _summary(replayed.tasks) == _summary(n.keyspace.tasks)
    assert replayed.tasks.pending == n.keyspace.tasks.pending


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=1000), max_size=80))
def test_the_snapshot_form_round_trips_and_claims_go_on_the_same(ops: list[int]) -> None:
    n = node()
    _history(n, ops)
    loaded = TaskView()
    loaded.load_wire(n.keyspace.tasks.to_wire())
    assert _summary(loaded) == _summary(n.keyspace.tasks)
    assert loaded.pending == n.keyspace.tasks.pending
    assert loaded.next_lease_expiry() == n.keyspace.tasks.next_lease_expiry()
