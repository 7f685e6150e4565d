"""Node addresses and the order in which a client tries them.

Every Bolt node accepts reads and writes, so a client over several nodes
needs no routing: it talks to one node and, when that connection is lost,
moves on to the next in the list (wrapping around), trying each node at most
once per attempt. Whether a request that was in flight may be re-sent on the
new node is decided by the retry rule in :mod:`bolt.client._commands`, not
here.

:class:`ClusterMembership` is the connect hook of a cluster client: on each
connection it reads the node's ``CLUSTER`` status, learns the client
addresses of its peers (added to the ring), prefers the peers the node sees
as healthy for the next failover, and refuses a node that is not a member
of the cluster the first node described (:class:`ClusterMismatchError`):
nodes that do not replicate to each other would silently hand out
different data. A standalone node in a list of several is warned about
loudly (it may be a cluster being set up), not refused.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from bolt import limits
from bolt.errors import (
    AccessError,
    BadRequestError,
    BoltConnectionError,
    BoltError,
    ClusterError,
    ClusterMismatchError,
)
from bolt.wire import format_address

logger = logging.getLogger("bolt.client")

Address = tuple[str, int]


def parse_node(node: str, default_port: int = limits.port_default) -> Address:
    """Parse ``"host:port"``, ``"[v6 address]:port"`` or a bare ``"host"``.

    Args:
        node: the address text.
        default_port: the port when ``node`` names none.

    Returns:
        ``(host, port)``.

    Raises:
        BadRequestError: the text is not an address.
    """
    if not isinstance(node, str) or not node.strip():
        raise BadRequestError(f"not a node address: {node!r}")
    text = node.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise BadRequestError(f"not a node address: {node!r}")
        if not rest:
            return host, default_port
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:  # no port, or a bare IPv6 address
        return text, default_port
    if not host:
        raise BadRequestError(f"no host in node address {node!r}")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise BadRequestError(f"bad port in node address {node!r}")
    return host, int(port_text)


def parse_nodes(nodes: Iterable[str]) -> list[Address]:
    """Parse a list of node addresses (see :func:`parse_node`).

    Raises:
        BadRequestError: the list is empty, is a single string, or holds a
            bad address.
    """
    if isinstance(nodes, str):
        raise BadRequestError("nodes must be a list of 'host:port' strings, not one string")
    parsed = [parse_node(node) for node in nodes]
    if not parsed:
        raise BadRequestError("a cluster client needs at least one node")
    return parsed


class NodeRing:
    """The nodes of one client, and which one it uses now.

    Args:
        nodes: ``(host, port)`` pairs, in the order given by the user.
    """

    def __init__(self, nodes: Sequence[Address]) -> None:
        if not nodes:
            raise BadRequestError("a client needs at least one node")
        self.nodes: list[Address] = list(nodes)
        self._current = 0
        self.preferred: set[Address] = set()

    @property
    def current(self) -> Address:
        """The node connected to last (or to be tried first)."""
        return self.nodes[self._current]

    def candidates(self, failover: bool) -> list[tuple[int, Address]]:
        """The order in which to try the nodes for a new connection.

        Args:
            failover: the connection to the current node was just lost, so
                start with the next node and try the current one last.

        Returns:
            ``(index, address)`` for every node, each once.
        """
        count = len(self.nodes)
        first = (self._current + 1) % count if failover else self._current
        order = [
            ((first + step) % count, self.nodes[(first + step) % count]) for step in range(count)
        ]
        if self.preferred and failover:
            # Healthy nodes first (stable, so the rotation holds among them).
            order.sort(key=lambda item: item[1] not in self.preferred)
        return order

    def add(self, address: Address) -> bool:
        """Add a node learned from the cluster; False if it was known."""
        if address in self.nodes:
            return False
        self.nodes.append(address)
        return True

    def use(self, index: int) -> None:
        """Record that the node at ``index`` is now the connected one."""
        self._current = index


def can_try_next_node(error: BaseException) -> bool:
    """Whether a failure to connect to one node should move on to the next.

    Refused credentials or permissions would be refused by every node, so
    they end the attempt at once; anything else (refused, unreachable,
    timed out, too many connections, shutting down, garbage) is the node's.
    """
    return not isinstance(error, AccessError)


def unreachable(failures: Sequence[tuple[Address, BaseException]]) -> BoltError:
    """The error to raise when no node could be connected to.

    Args:
        failures: each node tried, with why it failed.

    Returns:
        For a single node, the server's own refusal if it gave one (e.g.
        ``TooManyConnectionsError``) or else :class:`BoltConnectionError`;
        for several, :class:`ClusterError` naming every node's failure.
    """
    if len(failures) == 1:
        failure = failures[0][1]
        if isinstance(failure, BoltError) and not isinstance(failure, BoltConnectionError):
            return failure
    detail = "; ".join(f"{_text(address)}: {failure}" for address, failure in failures)
    if len(failures) == 1:
        return BoltConnectionError(f"cannot connect to {detail}")
    return ClusterError(f"no node of the cluster is reachable ({detail})")


class ClusterMembership:
    """The connect hook of a cluster client (see the module docstring).

    Args:
        ring: the client's node ring, updated in place.
    """

    def __init__(self, ring: NodeRing) -> None:
        self.ring = ring
        self.members: set[str] | None = None
        self.first_node: str | None = None

    def __call__(self, client: Any) -> None:
        """Check and learn from the node a sync ``client`` just connected to.

        Raises:
            ClusterMismatchError: the node is not a member of the cluster.
        """
        if self.wants_status(client.server_info):
            try:
                status = client.cluster_status()
            except BoltError:
                return  # nothing to learn; the connection itself is fine
            self.observe(status)

    async def check_async(self, client: Any) -> None:
        """:meth:`__call__` for the trio client (its connect hooks are awaited)."""
        if self.wants_status(client.server_info):
            try:
                status = await client.cluster_status()
            except BoltError:
                return
            self.observe(status)

    def wants_status(self, info: dict[str, Any]) -> bool:
        """Whether the node's ``HELLO`` reply says it is in a cluster (else warn)."""
        if info.get("mode") == "cluster":
            return True
        if len(self.ring.nodes) > 1:
            logger.warning(
                "node %s at %s runs standalone: the nodes given to this cluster client "
                "do not replicate to each other, so failover may show different data",
                info.get("node_id"),
                _text(self.ring.current),
            )
        return False

    def observe(self, status: Any) -> None:
        """Check a ``CLUSTER`` reply and learn the peers it names.

        Raises:
            ClusterMismatchError: the node is not a member of the cluster.
        """
        if not isinstance(status, dict):
            return
        node_id = status.get("node_id")
        peers = [p for p in status.get("peers", []) if isinstance(p, dict)]
        members = {str(node_id), *(str(p.get("id")) for p in peers)}
        if self.members is None:
            self.members, self.first_node = members, node_id
        elif node_id not in self.members:
            raise ClusterMismatchError(
                f"node {node_id!r} at {_text(self.ring.current)} is not a member of the cluster "
                f"of node {self.first_node!r} ({', '.join(sorted(map(str, self.members)))}); "
                "check the nodes given to BoltClient.cluster"
            )
        preferred = {self.ring.current}
        for peer in peers:
            port = peer.get("client_port")
            host = peer.get("host")
            if type(port) is int and port > 0 and isinstance(host, str):
                address = (host, port)
                if self.ring.add(address):
                    logger.info("learned cluster node %s (%s)", _text(address), peer.get("id"))
                if peer.get("state") == "Healthy":
                    preferred.add(address)
        self.ring.preferred = preferred


def _text(address: Address) -> str:
    return format_address(*address)
