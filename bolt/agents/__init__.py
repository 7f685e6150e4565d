"""Task coordination for agent swarms: ``TaskCoordinator``, ``Task``, ``TaskStatus``.

Tasks are data in the store (events in the log, a view in the state,
snapshotted and replayed): see :mod:`bolt.state._tasks`. This package is the
client side: the blocking :class:`TaskCoordinator` over
:class:`~bolt.client.BoltClient` (the seed's ``bolt_agents`` API) and the
trio :class:`AsyncTaskCoordinator` over :class:`~bolt.client.AsyncBoltClient`.
"""

from bolt.agents._async import AsyncTaskCoordinator
from bolt.agents._budget import Budget
from bolt.agents._coordinator import TaskCoordinator
from bolt.agents._task import Task, TaskStatus
from bolt.agents._worker import Worker
from bolt.errors import (
    StaleAttemptError,
    TaskExistsError,
    TaskNotFoundError,
    TaskStateError,
    TaskTimeoutError,
)

__all__ = [
    "AsyncTaskCoordinator",
    "Budget",
    "StaleAttemptError",
    "Task",
    "TaskCoordinator",
    "TaskExistsError",
    "TaskNotFoundError",
    "TaskStateError",
    "TaskStatus",
    "TaskTimeoutError",
    "Worker",
]
