"""What the coordinators send: task references, ``TASK.CREATE`` arguments,
and the connections that blocking commands wait on."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from bolt.agents._task import Task
from bolt.client import BoltClient

READ_COMMANDS = frozenset({"TASK.GET", "TASK.LIST", "TASK.STATS", "TASK.WAIT"})
HOME_COMMANDS = frozenset(
    {"TASK.CLAIMID", "TASK.RENEW", "TASK.COMPLETE", "TASK.FAIL", "TASK.RELEASE", "TASK.CANCEL"}
    | {"TASK.RETRY"}
)
"""Task commands sent through ``TASK.HOME``: on a cluster, the node the agent is
connected to runs them where the task is decided (its home node)."""
"""Task commands that change nothing: re-sent once after a lost connection."""

Callback = Callable[[Task], Any]
TaskRef = str | Task


def task_id_of(task: TaskRef) -> str:
    return task.id if isinstance(task, Task) else task


def close_all(clients: list[BoltClient]) -> None:
    for client in clients:
        client.close()
    clients.clear()


def clone_client(client: BoltClient, timeout: float | None) -> BoltClient:
    """A new client with ``client``'s nodes, credentials, database and TLS."""
    settings = client._settings
    nodes = settings.ring.nodes
    host, port = nodes[0]
    return BoltClient(
        host=host,
        port=port,
        nodes=[f"{h}:{p}" for h, p in nodes] if len(nodes) > 1 else None,
        username=settings.username,
        password=settings.password,
        database=client.database,
        timeout=timeout,
        ssl_context=settings.ssl_context,
        client_name=(settings.client_name or "bolt-agents") + ":wait",
    )


def create_args(
    task_type: str,
    data: Any,
    *,
    task_id: str | None,
    priority: int,
    max_attempts: int | None,
    run_at: float | None,
    depends_on: Sequence[TaskRef] | None,
) -> list[Any]:
    """The ``TASK.CREATE`` arguments (an id is chosen here: uuid4)."""
    if not isinstance(task_type, str) or not task_type:
        raise TypeError("task_type must be a non-empty str")
    options: dict[str, Any] = {}
    if priority:
        options["priority"] = priority
    if max_attempts is not None:
        options["max_attempts"] = max_attempts
    if run_at is not None:
        options["run_at_ms"] = int(run_at * 1000)
    if depends_on:
        options["parents"] = [task_id_of(t) for t in depends_on]
    return [task_id or uuid.uuid4().hex, task_type, {} if data is None else data, options or None]
