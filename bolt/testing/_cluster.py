"""A local cluster of real ``bolt`` processes, optionally behind fault proxies.

Theory of operation
-------------------
:class:`LocalCluster` starts N daemons on loopback, each with its own data
directory, node id (``n1``, ``n2``, ...), client port 0 and a shared cluster
secret. With ``proxies=True`` every directed link ``i -> j`` goes through its
own :class:`~bolt.testing.FaultProxy`: node i's ``BOLT_CLUSTER_PEERS`` names
the proxy, and the proxy forwards to node j's cluster port once j has
logged it (``cluster port HOST:PORT``), so every port is picked by the OS
and the tests can cut, delay or garble any link in either direction. With
``proxies=False`` the cluster ports are chosen up front (probed free ports),
which is what ``scripts/cluster.py`` uses for a cluster to play with.

:meth:`wait_converged` polls ``DIGEST`` on every live node until they agree
and returns how long that took.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bolt.testing._daemon import BoltDaemon
from bolt.testing._proxy import FaultProxy

CLUSTER_PORT_LINE = r"cluster port \S+:(\d+):"


def free_port() -> int:
    """A TCP port free on loopback right now (for tools; tests use port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


DIGEST_AHEAD_MS = 2_000
"""How far ahead of now :func:`digest_instant` judges expiry."""


def digest_instant() -> int:
    """The ``at_ms`` at which to compare several nodes' digests: a little ahead.

    A node removes a key whose TTL has passed by its own clock, and the
    removal is an event that reaches the others a moment later. Judged at an
    instant no node has reached yet while they are read (``DIGEST_AHEAD_MS``
    ahead), a key with an expiry at or before it is absent on every node,
    removed or not, and one after it is removed on none.
    """
    return int(time.time() * 1000) + DIGEST_AHEAD_MS


class LocalCluster:
    """N real nodes on loopback (see the module docstring).

    Args:
        base_dir: parent of the nodes' data directories.
        size: number of nodes.
        secret: ``BOLT_CLUSTER_SECRET`` of every node.
        proxies: route every directed link through a :class:`FaultProxy`.
        env: extra ``BOLT_*`` variables for every node.
        node_env: extra variables per node index.
        name: node ids are ``name1``, ``name2``, ...
        keep_logs: append each node's stderr to ``base_dir/<id>.stderr`` when it
            stops or is replaced (for a post-mortem; off by default).
    """

    def __init__(
        self,
        base_dir: Path,
        size: int = 3,
        *,
        secret: str = "test-cluster-secret",
        proxies: bool = True,
        env: dict[str, str] | None = None,
        node_env: dict[int, dict[str, str]] | None = None,
        name: str = "n",
        keep_logs: bool = False,
    ) -> None:
        if size < 1:
            raise ValueError("a cluster needs at least one node")
        self.base_dir = Path(base_dir)
        self.size = size
        self.secret = secret
        self.use_proxies = proxies
        self.env = dict(env or {})
        self.node_env = {i: dict(v) for i, v in (node_env or {}).items()}
        self.ids = [f"{name}{i + 1}" for i in range(size)]
        self.keep_logs = keep_logs
        self.nodes: list[BoltDaemon | None] = [None] * size
        self.proxies: dict[tuple[int, int], FaultProxy] = {}
        self.cluster_ports = [0] * size if proxies else [free_port() for _ in range(size)]

    # --- life ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the proxies and every node."""
        if self.use_proxies:
            for i in range(self.size):
                for j in range(self.size):
                    if i != j:
                        self.proxies[(i, j)] = FaultProxy().start()
        for i in range(self.size):
            self.start_node(i)
        return self

    def node_environment(self, i: int) -> dict[str, str]:
        """The ``BOLT_*`` variables node ``i`` is started with."""
        peers = []
        for j in range(self.size):
            if j == i:
                continue
            port = self.proxies[(i, j)].port if self.use_proxies else self.cluster_ports[j]
            peers.append(f"{self.ids[j]}:127.0.0.1:{port}")
        env = {
            "BOLT_NODE_ID": self.ids[i],
            "BOLT_CLUSTER_PORT": str(self.cluster_ports[i] if not self.use_proxies else 0),
            "BOLT_CLUSTER_PEERS": ",".join(peers),
            "BOLT_CLUSTER_SECRET": self.secret,
            **self.env,
            **self.node_env.get(i, {}),
        }
        return env

    def data_dir(self, i: int) -> Path:
        """Node ``i``'s data directory."""
        return self.base_dir / self.ids[i]

    def start_node(self, i: int, env: dict[str, str] | None = None) -> BoltDaemon:
        """Start (or restart, on the same data directory) node ``i``."""
        variables = {**self.node_environment(i), **(env or {})}
        self._keep_log(i)
        daemon = BoltDaemon.start(self.data_dir(i), env=variables)
        self.nodes[i] = daemon
        line = daemon.wait_for_stderr(CLUSTER_PORT_LINE, timeout=10)
        match = re.search(CLUSTER_PORT_LINE, line)
        assert match is not None
        self.cluster_ports[i] = int(match.group(1))
        if self.use_proxies:
            for j in range(self.size):
                if j != i:
                    self.proxies[(j, i)].set_upstream("127.0.0.1", self.cluster_ports[i])
        return daemon

    def kill(self, i: int) -> None:
        """SIGKILL node ``i``."""
        node = self.nodes[i]
        if node is not None:
            node.kill()

    def _keep_log(self, i: int) -> None:
        node = self.nodes[i]
        if self.keep_logs and node is not None:
            with (self.base_dir / f"{self.ids[i]}.stderr").open("a") as out:
                out.write("\n".join(node.stderr_lines()) + "\n")

    def stop(self) -> None:
        """Kill every node and close every proxy."""
        for i, node in enumerate(self.nodes):
            if node is not None:
                node.kill()
                self._keep_log(i)
        for proxy in self.proxies.values():
            proxy.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- faults -----------------------------------------------------------------------

    def node(self, i: int) -> BoltDaemon:
        """The running daemon of node ``i``."""
        node = self.nodes[i]
        if node is None:
            raise RuntimeError(f"node {i} is not started")
        return node

    def isolate(self, i: int) -> None:
        """Cut every link to and from node ``i``."""
        for (a, b), proxy in self.proxies.items():
            if i in (a, b):
                proxy.cut()

    def cut(self, a: int, b: int) -> None:
        """Cut both directions between nodes ``a`` and ``b``."""
        self.proxies[(a, b)].cut()
        self.proxies[(b, a)].cut()

    def heal(self) -> None:
        """Undo every fault on every link."""
        for proxy in self.proxies.values():
            proxy.heal()

    # --- observing --------------------------------------------------------------------

    def live(self) -> list[int]:
        """Indexes of nodes whose process runs."""
        return [i for i, n in enumerate(self.nodes) if n is not None and n.process.poll() is None]

    def clients(self, **kwargs: Any) -> list[Any]:
        """A connected client per live node (close them when done)."""
        return [self.node(i).client(**kwargs) for i in self.live()]

    def digests(self) -> list[str]:
        """Each live node's total digest, all judged at one instant (:func:`digest_instant`)."""
        at_ms = digest_instant()
        result = []
        for i in self.live():
            with self.node(i).client() as client:
                result.append(client.digest(at_ms=at_ms)["digest"])
        return result

    def wait_converged(self, timeout: float = 30.0, interval: float = 0.05) -> float:
        """Poll until every live node has the same digest; the seconds it took.

        Raises:
            TimeoutError: they still differ after ``timeout`` seconds.
        """
        started = time.monotonic()
        clients = self.clients()
        try:
            while True:
                at_ms = digest_instant()
                digests = {client.digest(at_ms=at_ms)["digest"] for client in clients}
                if len(digests) == 1:
                    return time.monotonic() - started
                if time.monotonic() - started > timeout:
                    raise TimeoutError(f"digests still differ after {timeout}s: {digests}")
                time.sleep(interval)
        finally:
            for client in clients:
                client.close()
