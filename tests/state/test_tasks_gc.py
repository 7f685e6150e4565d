"""Finished tasks are removed after their retention (through TaskRemoved events), and
tasks count in the keyspace's memory accounting (issue 13, item 2)."""

from __future__ import annotations

from typing import Any

from bolt.events import TaskRemoved
from bolt.state import Keyspace
from bolt.testing._clock import ManualClock
from tests.state._support import SimNode, assert_memory_exact

RETENTION = [1000, 5000]  # completed/cancelled, then dead/failed


def node() -> SimNode:
    return SimNode("n1", ManualClock())


def finish(n: SimNode, how: str, data: Any = None) -> str:
    task = n.call("TASK.CREATE", "", "job", data or {"q": 1}, {"max_attempts": 1})
    if how == "cancel":
        n.call("TASK.CANCEL", task["id"])
        return str(task["id"])
    claimed = n.call("TASK.CLAIM", "job", "a", 1000)
    if how == "complete":
        n.call("TASK.COMPLETE", claimed["id"], claimed["attempt"], {"r": "x" * 100})
    else:
        n.call("TASK.FAIL", claimed["id"], claimed["attempt"], "boom", True)  # dead
    return str(task["id"])


def test_completed_and_cancelled_tasks_go_after_the_retention_dead_ones_later() -> None:
    n = node()
    done, cancelled, dead = finish(n, "complete"), finish(n, "cancel"), finish(n, "dead")
    assert n.call("TASK.GET", dead)["status"] == "dead"
    assert n.call("TASK.GC", *RETENTION) == 0
    n.clock.advance(1001)
    reply, events = n.run("TASK.GC", *RETENTION)
    assert reply == 2 and all(type(e) is TaskRemoved for e in events)
    assert n.call("TASK.GET", done) is None and n.call("TASK.GET", cancelled) is None
    assert n.call("TASK.GET", dead)["status"] == "dead"
    n.clock.advance(4000)
    assert n.call("TASK.GC", *RETENTION) == 1
    assert n.call("TASK.GET", dead) is None
    assert_memory_exact(n.keyspace)


def test_memory_used_counts_tasks_and_returns_to_its_level_after_removal() -> None:
    n = node()
    before = n.keyspace.memory_used
    task_id = finish(n, "complete", {"blob": "y" * 10_000})
    grown = n.keyspace.memory_used - before
    assert grown > 10_000  # the data and the result are counted
    assert n.keyspace.tasks.memory == grown
    assert_memory_exact(n.keyspace)
    n.clock.advance(2000)
    n.call("TASK.GC", *RETENTION)
    assert n.call("TASK.GET", task_id) is None
    assert n.keyspace.memory_used == before and n.keyspace.tasks.memory == 0


def test_a_steady_stream_stays_bounded() -> None:
    n = node()
    peak = 0
    for _ in range(50):
        for _ in range(20):
            finish(n, "complete")
        n.clock.advance(100)
        n.call("TASK.GC", *RETENTION)
        peak = max(peak, len(n.keyspace.tasks.tasks))
    assert peak <= 20 * 12  # about the retention's worth (1000 ms of 100 ms rounds), not 1000
    assert len(n.keyspace.tasks.tasks) < 1000


def test_a_task_retried_after_it_finished_is_not_removed_by_its_old_finish() -> None:
    n = node()
    task_id = finish(n, "cancel")
    n.clock.advance(500)
    n.call("TASK.RETRY", task_id)  # pending again, attempt 2
    n.clock.advance(1000)
    assert n.call("TASK.GC", *RETENTION) == 0
    assert n.call("TASK.GET", task_id)["status"] == "pending"


def test_retention_survives_a_snapshot_round_trip() -> None:
    n = node()
    task_id = finish(n, "complete")
    copy = Keyspace(4)
    copy.tasks.load_wire(n.keyspace.tasks.to_wire())
    assert copy.tasks.memory == n.keyspace.tasks.memory
    removable = copy.tasks.removable(n.clock() + 1001, 1000, 5000, "n1", 10)
    assert [t.id for t in removable] == [task_id]


def test_a_removal_replayed_elsewhere_removes_the_task_there_too() -> None:
    clock = ManualClock()
    a, b = SimNode("n1", clock), SimNode("n2", clock)
    log: list[Any] = []
    log += a.run("TASK.CREATE", "t1", "job", {}, None)[1]
    claimed, events = a.run("TASK.CLAIM", "job", "agent", 1000)
    log += events
    log += a.run("TASK.COMPLETE", "t1", claimed["attempt"], "ok")[1]
    b.deliver(log)
    assert b.call("TASK.GET", "t1")["status"] == "completed"
    a.clock.advance(1001)
    _, removed = a.run("TASK.GC", *RETENTION)
    b.deliver(removed)
    assert b.call("TASK.GET", "t1") is None
    assert b.keyspace.tasks.memory == 0
