"""Healthy/Suspect/Dead by named timeouts; acknowledgements and lag."""

from __future__ import annotations

from bolt import limits
from bolt.cluster import DEAD, HEALTHY, SUSPECT, PeerState
from bolt.cluster._dial import jittered_seconds, next_backoff_ms


def test_health_by_timeouts() -> None:
    peer = PeerState("n2", "h", 1)
    assert peer.state(0.0) == DEAD  # never heard from
    peer.heard(10.0)
    assert peer.state(10.0 + limits.peer_suspect_after_ms / 1000) == HEALTHY
    assert peer.state(10.0 + limits.peer_suspect_after_ms / 1000 + 0.01) == SUSPECT
    assert peer.state(10.0 + limits.peer_dead_after_ms / 1000) == SUSPECT
    assert peer.state(10.0 + limits.peer_dead_after_ms / 1000 + 0.01) == DEAD


def test_pending_and_lag() -> None:
    peer = PeerState("n2", "h", 1, acked_offset=4)
    assert peer.pending(10) == 6
    assert peer.lag_seconds(100.0, 10) == 0.0  # starts counting now
    assert peer.lag_seconds(101.5, 10) == 1.5
    peer.acknowledged(10, 102.0, 10)
    assert peer.pending(10) == 0 and peer.lag_seconds(103.0, 10) == 0.0
    peer.acknowledged(3, 104.0, 10)  # an old ack never moves it back
    assert peer.acked_offset == 10
    stats = peer.statistics(104.0, 12)
    assert stats.pending == 2 and stats.full_syncs == 0


def test_back_off_doubles_to_its_limit_with_jitter() -> None:
    import random

    step = limits.peer_reconnect_backoff_initial_ms
    seen = []
    for _ in range(20):
        seen.append(step)
        step = next_backoff_ms(step)
    assert seen[1] == 2 * seen[0] and max(seen) == limits.peer_reconnect_backoff_max_ms
    rng = random.Random(1)
    delays = [jittered_seconds(1000, rng) for _ in range(100)]
    assert all(0.5 <= d <= 1.0 for d in delays) and len(set(delays)) > 50
