"""Cluster settings: the peers of this node, checked before anything starts.

``BOLT_CLUSTER_PEERS`` is parsed by :mod:`bolt.config` (``id:host:port``,
host names, IPv6 in brackets); this module adds the rules that concern the
cluster as a whole: no duplicate or self-referencing peer ids, and no peers
reachable beyond loopback without ``BOLT_CLUSTER_SECRET`` (the secret
authenticates peers; without it anyone who can reach the cluster port could
inject events).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bolt import limits
from bolt.config import Config
from bolt.errors import ConfigError
from bolt.wire import format_address

TESTING_CLOCK_OFFSET_VARIABLE = "BOLT_TESTING_CLOCK_OFFSET_MS"
"""Testing only: milliseconds added to this node's wall clock (clock-skew tests).

Read from the environment by the daemon and nowhere else; it is not a
setting of ``bolt.config`` and must never be set in production."""


@dataclass(frozen=True)
class PeerAddress:
    """One configured peer: its node id and the address of its cluster port."""

    node_id: str
    host: str
    port: int

    def text(self) -> str:
        """``host:port`` (IPv6 hosts in brackets)."""
        return format_address(self.host, self.port)


@dataclass(frozen=True)
class ClusterSettings:
    """What the cluster service needs from the configuration."""

    peers: tuple[PeerAddress, ...]
    secret: bytes
    port: int
    max_clock_offset_ms: int
    full_sync_threshold: int = limits.full_sync_threshold_events_default
    peer_log_retention_bytes: int = limits.peer_log_retention_bytes_default
    peer_log_retention_ms: int = limits.peer_log_retention_ms_default


def _is_loopback(host: str) -> bool:
    from bolt.server import is_loopback

    return is_loopback(host)


def cluster_settings(config: Config, node_id: str | None = None) -> ClusterSettings | None:
    """The cluster settings of ``config``, or None for a standalone node.

    Args:
        config: the daemon's configuration.
        node_id: this node's id once known (the engine's origin), to refuse
            a peer list that names this node itself.

    Raises:
        ConfigError: peers without ``BOLT_CLUSTER_SECRET`` while some address
            is not loopback; a duplicate peer id; this node among its peers.
    """
    if not config.cluster_peers:
        return None
    peers = tuple(PeerAddress(*peer) for peer in config.cluster_peers)
    ids = [peer.node_id for peer in peers]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(
            f"invalid BOLT_CLUSTER_PEERS: peer id {duplicates[0]!r} is listed more than once"
        )
    own = node_id or config.node_id
    if own is not None and own in ids:
        raise ConfigError(
            f"invalid BOLT_CLUSTER_PEERS: it lists this node itself ({own!r}, BOLT_NODE_ID)"
        )
    if not config.cluster_secret:
        remote = [peer.text() for peer in peers if not _is_loopback(peer.host)]
        if remote:
            raise ConfigError(
                "BOLT_CLUSTER_SECRET is required: BOLT_CLUSTER_PEERS names peers beyond "
                f"loopback ({', '.join(remote)}), and without a secret anyone who reaches the "
                "cluster port could join; set BOLT_CLUSTER_SECRET to the same value on every node"
            )
    secret = (config.cluster_secret or "").encode()
    return ClusterSettings(
        peers,
        secret,
        config.cluster_port,
        config.max_clock_offset_ms,
        full_sync_threshold=config.full_sync_threshold,
        peer_log_retention_bytes=config.peer_log_retention_bytes,
        peer_log_retention_ms=config.peer_log_retention_ms,
    )


def testing_clock_offset_ms(environ: Mapping[str, str] | None = None) -> int:
    """The testing-only wall-clock offset (see :data:`TESTING_CLOCK_OFFSET_VARIABLE`).

    Raises:
        ConfigError: the value is not an integer.
    """
    raw = (os.environ if environ is None else environ).get(TESTING_CLOCK_OFFSET_VARIABLE, "")
    if not raw.strip():
        return 0
    try:
        return int(raw.strip())
    except ValueError as exc:
        raise ConfigError(
            f"invalid {TESTING_CLOCK_OFFSET_VARIABLE}={raw!r}: expected an integer (ms)"
        ) from exc
