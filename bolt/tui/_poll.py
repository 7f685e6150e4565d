"""One refresh of one node: which requests to send, and what their replies become.

Theory of operation
-------------------
:class:`NodePoller` makes each refresh one pipelined round trip on its
:class:`~bolt.tui._client.NodeLink`: ``STATS`` always; ``CLUSTER`` every
time on a cluster node (the replication panel is live) and every
``slow_interval`` seconds on a standalone one (it would only ever say
"standalone"); ``METRICS`` and ``TASK.STATS`` every time once the node has
tasks, else every ``slow_interval`` (to notice the first one). Each reply
feeds its pure model (:class:`~bolt.tui._model.StatsModel`,
:class:`~bolt.tui._replication.ReplicationModel`,
:class:`~bolt.tui._tasks.TasksModel`).

Only a failed ``STATS`` fails the refresh: a refused or malformed
``CLUSTER`` or ``METRICS`` leaves its panel as it was (a user without the
right to read them simply has no such panel), except a refused login,
which always propagates.
"""

from __future__ import annotations

from collections.abc import Callable

from bolt.errors import AuthenticationError, BoltError
from bolt.tui._client import NodeLink
from bolt.tui._model import StatsModel
from bolt.tui._replication import ReplicationModel
from bolt.tui._tasks import TasksModel, parse_task_metrics, server_now_ms
from bolt.tui._views import Frame, ReplicationView, TasksView


class NodePoller:
    """The requests of one node's refreshes and the models they feed.

    Args:
        link: the connection to the node.
        model: the ``STATS`` model (its history length is the caller's choice).
        slow_interval: seconds between the requests that rarely change anything.
        clock: monotonic seconds.

    Attributes:
        replication: the last replication view (None before the first ``CLUSTER``).
        tasks: the last tasks view (None before the first task reading).
    """

    def __init__(
        self,
        link: NodeLink,
        model: StatsModel,
        slow_interval: float,
        clock: Callable[[], float],
    ) -> None:
        self.link = link
        self.model = model
        self.slow_interval = slow_interval
        self._clock = clock
        self._cluster_due = 0.0
        self._tasks_due = 0.0
        self._replication_model = ReplicationModel()
        self._tasks_model = TasksModel()
        self.replication: ReplicationView | None = None
        self.tasks: TasksView | None = None

    async def poll(self) -> Frame:
        """One refresh: one round trip, every model updated.

        Raises:
            AuthenticationError: the node refused the credentials.
            BoltError: ``STATS`` failed (the connection, or the server refused it).
        """
        now = self._clock()
        ask_cluster = self.replication is None or self.replication.present
        ask_cluster = ask_cluster or now >= self._cluster_due
        ask_tasks = (self.tasks is not None and self.tasks.present) or now >= self._tasks_due
        calls: list[tuple[str, ...]] = [("STATS",)]
        if ask_cluster:
            self._cluster_due = now + self.slow_interval
            calls.append(("CLUSTER",))
        if ask_tasks:
            self._tasks_due = now + self.slow_interval
            calls += [("METRICS",), ("TASK.STATS",)]
        results = await self.link.request_many(calls)
        if isinstance(results[0], BoltError):
            raise results[0]
        now = self._clock()
        frame = self.model.update(results[0], now)
        rest = iter(results[1:])
        if ask_cluster:
            self._take_cluster(next(rest), now)
        if ask_tasks:
            self._take_tasks(next(rest), next(rest), server_now_ms(results[0]), now)
        return frame

    def _take_cluster(self, reply: object, now: float) -> None:
        if isinstance(reply, AuthenticationError):
            raise reply
        if isinstance(reply, BoltError):
            return  # the panel keeps its last content; STATS shows any trouble
        try:
            self.replication = self._replication_model.update(reply, now)
        except BoltError:
            pass

    def _take_tasks(
        self, metrics: object, task_stats: object, server_ms: int | None, now: float
    ) -> None:
        if isinstance(metrics, AuthenticationError):
            raise metrics
        if isinstance(metrics, BoltError):
            return
        try:
            parsed = parse_task_metrics(metrics)
        except BoltError:
            return
        self.tasks = self._tasks_model.update(parsed, task_stats, server_ms, now)
