"""The task commands against a plain model (hypothesis state machine).

The model is a dict of ``id -> [status, attempt, attempt_limit]`` and a FIFO
of pending ids; every rule runs the real command on a simulated node and the
same step on the model, and the two must agree after each step: the claim
order, each status and attempt, which completions are refused as stale.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bolt.errors import StaleAttemptError, TaskStateError
from bolt.testing._clock import ManualClock
from tests.state._support import SimNode

LEASE_MS = 1000
MAX_ATTEMPTS = 2


class TaskMachine(RuleBasedStateMachine):
    """Drives ``TASK.*`` commands and a model with the same steps."""

    def __init__(self) -> None:
        super().__init__()
        self.node = SimNode("n1", ManualClock())
        self.model: dict[str, list[Any]] = {}  # id -> [status, attempt, attempt_limit]
        self.order: list[str] = []  # creation order (the claim order at equal priority)
        self.leases: dict[str, int] = {}  # claimed id -> lease expiry (ms)

    def _pending(self) -> list[str]:
        return [i for i in self.order if self.model[i][0] == "pending"]

    @rule()
    def create(self) -> None:
        task = self.node.call("TASK.CREATE", "", "t", {}, {"max_attempts": MAX_ATTEMPTS})
        self.model[task["id"]] = ["pending", 1, MAX_ATTEMPTS]
        self.order.append(task["id"])

    @rule()
    def claim(self) -> None:
        got = self.node.call("TASK.CLAIM", "t", "agent", LEASE_MS)
        pending = self._pending()
        if not pending:
            assert got is None
            return
        assert got["id"] == pending[0]
        self.model[got["id"]][0] = "claimed"
        self.leases[got["id"]] = self.node.clock() + LEASE_MS

    @precondition(lambda self: self.model)
    @rule(data=st.data(), stale=st.booleans())
    def complete(self, data: st.DataObject, stale: bool) -> None:
        task_id = data.draw(st.sampled_from(self.order))
        status, attempt, _ = self.model[task_id]
        offered = attempt - 1 if stale else attempt
        if status != "claimed" or stale:
            with pytest.raises(StaleAttemptError):
                self.node.call("TASK.COMPLETE", task_id, offered, "r")
            return
        assert self.node.call("TASK.COMPLETE", task_id, offered, "r") is True
        self.model[task_id][0] = "completed"

    @precondition(lambda self: any(m[0] == "claimed" for m in self.model.values()))
    @rule(data=st.data())
    def fail_with_retry(self, data: st.DataObject) -> None:
        claimed = [i for i in self.order if self.model[i][0] == "claimed"]
        task_id = data.draw(st.sampled_from(claimed))
        entry = self.model[task_id]
        status = self.node.call("TASK.FAIL", task_id, entry[1], "boom", True)
        self._after_attempt(entry)
        assert status == entry[0]

    def _after_attempt(self, entry: list[Any]) -> None:
        if entry[1] >= entry[2]:
            entry[0] = "dead"
        else:
            entry[0], entry[1] = "pending", entry[1] + 1

    @rule(ms=st.integers(0, 2 * LEASE_MS))
    def time_passes_and_the_sweep_runs(self, ms: int) -> None:
        now = self.node.clock.advance(ms)
        handled = self.node.call("TASK.EXPIRE")
        due = [i for i in self.order if self.model[i][0] == "claimed" and self.leases[i] <= now]
        assert handled == len(due)
        for task_id in due:
            self._after_attempt(self.model[task_id])

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def retry_by_hand(self, data: st.DataObject) -> None:
        task_id = data.draw(st.sampled_from(self.order))
        entry = self.model[task_id]
        if entry[0] not in ("dead", "failed", "cancelled"):
            with pytest.raises(TaskStateError):
                self.node.call("TASK.RETRY", task_id)
            return
        self.node.call("TASK.RETRY", task_id)
        entry[2] = entry[1] + MAX_ATTEMPTS
        entry[0], entry[1] = "pending", entry[1] + 1

    @invariant()
    def the_view_matches_the_model(self) -> None:
        for task_id, (status, attempt, limit) in self.model.items():
            task = self.node.keyspace.tasks.get("", task_id)
            assert task is not None
            assert (task.status, task.attempt, task.attempt_limit) == (status, attempt, limit)
        pending_index = self.node.keyspace.tasks.pending_of("", "t")
        assert [task.id for task in pending_index] == self._pending()


TestTaskMachine = TaskMachine.TestCase
TestTaskMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
