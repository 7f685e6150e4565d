"""Which node decides a task, and the takeover rule (the server's side of homes).

Theory of operation
-------------------
A task is decided by its **home** (the node that created it) while that node
is reachable; the pure command layer refuses to transition a task this node
does not decide (``TASK_NOT_HOME``), and :mod:`bolt.server._tasks` forwards
the command to the deciding node over a task link (``bolt.cluster._tasks``).

**The takeover rule.** Node S takes over the tasks of home H when

1. S has heard nothing from H (on any connection) for
   ``BOLT_TASK_FAILOVER_DELAY_MS`` (default 10 s), and
2. S is the node with the smallest id among the nodes S sees healthy,
   itself included and H excluded (so the survivors of a crash agree on one
   successor without talking about it).

Then S claims H's pending tasks, and expires H's claimed tasks once their
lease *plus the failover delay* has passed (a renewal H accepted just
before it died may not have reached S). When H is heard again, it decides
its own tasks again. Between H's last word and the takeover, commands on
H's tasks are refused with ``TASK_HOME_UNAVAILABLE`` (nothing changes; the
agents retry) -- so a claim is never made twice while the cluster is
healthy. A takeover can run a task twice -- H's agent may still be working
on it, or a partition may leave H alive -- and that is documented: the old
holder's completion carries the old attempt and is refused (fencing), and
concurrent transitions converge by the rule of ``bolt.state._tasks``.

:meth:`TaskRouter.refresh` recomputes the taken-over homes from the peers'
health every sweep tick (``limits.task_sweep_interval_ms``); a standalone
node decides every task.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any

import trio

from bolt import limits
from bolt.cluster import HEALTHY
from bolt.config import Config
from bolt.errors import TaskHomeUnavailableError, TaskNotFoundError, TaskNotHomeError

if TYPE_CHECKING:
    from bolt.server._server import Server

logger = logging.getLogger("bolt.tasks")


class TaskRouter:
    """Decides who decides (see the module docstring)."""

    def __init__(self, server: Server, config: Config | None = None) -> None:
        self.server = server
        self.node = server.engine.origin
        self.view = server.engine.keyspace.tasks
        self.failover_ms = (
            config.task_failover_delay_ms
            if config is not None
            else limits.task_failover_delay_ms_default
        )
        self.started = trio.current_time()
        self.takeovers_total = 0

    @property
    def clustered(self) -> bool:
        """Whether this node has peers."""
        return self.server.cluster is not None

    def _silent_ms(self, peer: Any, now: float) -> float:
        heard = peer.last_heard if peer.last_heard is not None else self.started
        return (now - heard) * 1000

    def _successor(self, home: str, now: float) -> str:
        peers = self.server.cluster.peers
        alive = [self.node]
        alive += [node for node, p in peers.items() if node != home and p.state(now) == HEALTHY]
        return min(alive)

    def refresh(self) -> bool:
        """Recompute the homes this node took over; True if one was added."""
        view = self.view
        cluster = self.server.cluster
        if cluster is None:
            view.standalone = True
            return False
        view.standalone = False
        view.takeover_delay_ms = self.failover_ms
        now = trio.current_time()
        peers = cluster.peers
        taken = {
            node
            for node, peer in peers.items()
            if self._silent_ms(peer, now) >= self.failover_ms
            and self._successor(node, now) == self.node
        }
        if self._successor("", now) == self.node:  # homes no longer in the cluster
            taken.update(
                home
                for (_db, _type, home) in view.pending
                if home and home != self.node and home not in peers
            )
        added = taken - view.taken_over
        view.taken_over = frozenset(taken)
        self.takeovers_total += len(added)
        return bool(added)

    def decider(self, home: str) -> str:
        """The node that decides ``home``'s tasks now.

        Raises:
            TaskHomeUnavailableError: the home is silent but not yet taken over.
        """
        view = self.view
        cluster = self.server.cluster
        if cluster is None or not home or home == self.node or home in view.taken_over:
            return self.node
        peer = cluster.peers.get(home)
        now = trio.current_time()
        if peer is not None and peer.state(now) == HEALTHY:
            return home
        if peer is not None and self._silent_ms(peer, now) < self.failover_ms:
            raise TaskHomeUnavailableError(
                f"the home node '{home}' of this task is unreachable; its tasks are taken "
                f"over {self.failover_ms} ms after it went silent (BOLT_TASK_FAILOVER_DELAY_MS)"
            )
        return self._successor(home, now)  # silent long enough, or no longer a peer

    async def forward(self, node: str, command: str, args: list[Any], db: str) -> Any:
        """Run a task command on ``node`` over a task link; its reply.

        Raises:
            TaskHomeUnavailableError: ``node`` cannot be reached.
            BoltError: the command's own error there.
        """
        return await self.server.cluster.task_links.call(node, command, args, db)

    async def run(self, command: str, args: list[Any], db: str, hint: str = "") -> tuple[Any, int]:
        """Run a task command here, or on the node deciding the task (``TASK_NOT_HOME``
        here; ``hint``: the home as the caller knows it, for a task not known here).

        Raises:
            TaskHomeUnavailableError: the deciding node is unreachable (nothing changed).
        """
        engine = self.server.engine
        try:
            result: tuple[Any, int] = engine.submit(command, args, db)
            return result
        except TaskNotHomeError as exc:
            node = self.decider(exc.home)
        except TaskNotFoundError:
            if not hint or not self.clustered:
                raise
            node = self.decider(hint)
        if node == self.node:  # taken over between the view and now: run it here
            result = engine.submit(command, args, db)
            return result
        return await self.forward(node, command, args, db), -1

    def remote_homes(self, db: str, task_type: str) -> list[str]:
        """Other homes with a ready pending task of the type, as this node's view shows."""
        view = self.view
        deciding = view.deciding(self.node) or frozenset()
        now = self.server.engine._now_ms()
        homes = []
        for home in view.homes_pending(db, task_type):
            if home in deciding:
                continue
            for looked, task in enumerate(view.pending_of(db, task_type, (home,))):
                if looked >= limits.task_remote_scan_max:
                    break
                if view.ready(task, now):
                    homes.append(home)
                    break
        return homes

    async def claim_elsewhere(
        self, db: str, task_type: str, rest: list[Any]
    ) -> dict[str, Any] | None:
        """Forward a claim to the nodes deciding other homes' ready tasks; the first claim."""
        for home in self.remote_homes(db, task_type):
            try:
                node = self.decider(home)
                if node == self.node:
                    continue  # taken over since the local claim: the next round claims it here
                reply: dict[str, Any] | None = await self.forward(
                    node, "TASK.CLAIM", [task_type, *rest, home], db
                )
            except (TaskHomeUnavailableError, TaskNotHomeError) as exc:
                logger.debug("claim of a '%s' task of %s not forwarded: %s", task_type, home, exc)
                continue
            if reply is not None:
                return reply
        return None


_ROUTERS: weakref.WeakKeyDictionary[Server, TaskRouter] = weakref.WeakKeyDictionary()


def router_of(server: Server, config: Config | None = None) -> TaskRouter:
    """The server's :class:`TaskRouter` (made on first use)."""
    router = _ROUTERS.get(server)
    if router is None:
        router = _ROUTERS[server] = TaskRouter(server, config)
    return router
