"""``Task``/``TaskStatus`` and the create arguments, without a server."""

from __future__ import annotations

import pytest

from bolt.agents import Task, TaskStatus
from bolt.agents._requests import create_args

REPLY = {
    "id": "t1", "database": "", "type": "research", "data": {"query": "q"},
    "status": "claimed", "agent_id": "a", "attempt": 2, "max_attempts": 3,
    "attempt_limit": 3, "lease_expires_at_ms": 1_700_000_030_000, "result": None,
    "error": None, "priority": 1, "run_at_ms": None, "parents": ["t0"],
    "created_at_ms": 1_700_000_000_000, "updated_at_ms": 1_700_000_001_000,
    "claimed_at_ms": 1_700_000_001_000, "parent_results": {"t0": [1]},
}  # fmt: skip


def test_a_reply_becomes_a_task_whose_status_compares_as_text() -> None:
    task = Task.from_reply(REPLY)
    assert task.status == "claimed" and task.status is TaskStatus.CLAIMED
    assert task.type == task.task_type == "research"
    assert task.attempt == 2 and task.lease_expires_at == 1_700_000_030.0
    assert task.created_at == 1_700_000_000.0 and task.parent_results == {"t0": [1]}
    assert not task.status.finished and TaskStatus("dead").finished


def test_create_args_carry_only_the_options_given() -> None:
    task_id, task_type, data, options = create_args(
        "t", None, task_id=None, priority=0, max_attempts=None, run_at=None, depends_on=None
    )
    assert len(task_id) == 32 and task_type == "t" and data == {} and options is None
    parent = Task.from_reply(REPLY)
    _, _, _, options = create_args(
        "t", {"x": 1}, task_id="mine", priority=2, max_attempts=5, run_at=1.5,
        depends_on=[parent, "t9"],
    )  # fmt: skip
    assert options == {"priority": 2, "max_attempts": 5, "run_at_ms": 1500, "parents": ["t1", "t9"]}
    with pytest.raises(TypeError):
        create_args("", {}, task_id=None, priority=0, max_attempts=None, run_at=None,
                    depends_on=None)  # fmt: skip
