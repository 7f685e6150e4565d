"""``Task`` and ``TaskStatus``: a task as the SDK hands it to callers."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class TaskStatus(enum.StrEnum):
    """Where a task is in its life. A ``str``: ``task.status == "completed"`` works."""

    PENDING = "pending"
    CLAIMED = "claimed"
    COMPLETED = "completed"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True for the statuses ``wait_for_task`` returns on."""
        return self in (
            TaskStatus.COMPLETED,
            TaskStatus.FAILED,
            TaskStatus.DEAD,
            TaskStatus.CANCELLED,
        )


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


@dataclass
class Task:
    """One task (a copy: re-read it with ``get_task`` to see later changes).

    ``attempt`` is the fencing token of the current claim; ``lease_expires_at``,
    ``created_at`` and ``updated_at`` are Unix times in seconds; ``home`` is
    the node that created the task (on a cluster, it decides the claims).
    """

    id: str
    task_type: str
    data: Any = field(default_factory=dict)
    status: TaskStatus = TaskStatus.PENDING
    agent_id: str | None = None
    result: Any = None
    error: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    attempt: int = 1
    lease_expires_at: float | None = None
    max_attempts: int = 3
    priority: int = 0
    run_at: float | None = None
    parents: list[str] = field(default_factory=list)
    parent_results: dict[str, Any] = field(default_factory=dict)
    database: str = ""
    home: str | None = None  # the node that created it (it decides its claims)

    @property
    def type(self) -> str:
        """The task type (same as ``task_type``)."""
        return self.task_type

    @classmethod
    def from_reply(cls, reply: dict[str, Any]) -> Task:
        """Build a task from a server reply (``TASK.GET`` and friends)."""
        return cls(
            id=reply["id"],
            task_type=reply["type"],
            data=reply["data"],
            status=TaskStatus(reply["status"]),
            agent_id=reply.get("agent_id"),
            result=reply.get("result"),
            error=reply.get("error"),
            created_at=reply["created_at_ms"] / 1000,
            updated_at=reply["updated_at_ms"] / 1000,
            attempt=reply["attempt"],
            lease_expires_at=_seconds(reply.get("lease_expires_at_ms")),
            max_attempts=reply["max_attempts"],
            priority=reply.get("priority", 0),
            run_at=_seconds(reply.get("run_at_ms")),
            parents=list(reply.get("parents") or []),
            parent_results=dict(reply.get("parent_results") or {}),
            database=reply.get("database", ""),
            home=reply.get("home"),
        )
