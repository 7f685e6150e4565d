"""The memory limit counts the request's own growth, against the real daemon.

An earlier build accepted one MSET of 50 x 1 MiB under ``BOLT_MAX_MEMORY=5mb``
with ``noeviction`` (ten times over): the check looked only at what was
already stored. Now a write that would pass the limit evicts first or is
refused whole, and nothing of a refused write is stored.
"""

from __future__ import annotations

import pytest

from bolt.errors import OutOfMemoryError
from tests.system.conftest import DaemonFactory

MIB = 1024 * 1024


@pytest.mark.slow
def test_one_mset_cannot_carry_the_node_past_its_limit(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    daemon = bolt_daemon_factory(
        env={"BOLT_MAX_MEMORY": "5mb", "BOLT_EVICTION_POLICY": "noeviction"}
    )
    with daemon.client() as client:
        client.put("small", "kept")
        pairs = {f"big{i}": "x" * MIB for i in range(50)}
        with pytest.raises(OutOfMemoryError):
            client.mset(pairs)
        assert client.mget(list(pairs)[:3]) == [None, None, None]  # nothing of it stored
        with pytest.raises(OutOfMemoryError):
            client.put("one-too-big", "y" * (6 * MIB))
        for i in range(4):  # what fits still goes in
            client.put(f"fits{i}", "z" * MIB)
        with pytest.raises(OutOfMemoryError):
            client.put("fits4", "z" * MIB)
        memory = client.stats()["memory"]
        assert memory["used"] <= memory["limit"] == 5 * MIB
        assert client.get("small") == "kept"


@pytest.mark.slow
def test_with_eviction_a_big_write_evicts_first_and_stays_under_the_limit(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    daemon = bolt_daemon_factory(
        env={"BOLT_MAX_MEMORY": "5mb", "BOLT_EVICTION_POLICY": "allkeys-lru"}
    )
    with daemon.client() as client:
        for i in range(4):
            client.put(f"old{i}", "o" * MIB)
        client.mset({f"new{i}": "n" * MIB for i in range(3)})
        memory = client.stats()["memory"]
        assert memory["used"] <= memory["limit"]
        assert client.mget([f"new{i}" for i in range(3)]) == ["n" * MIB] * 3
        assert client.get("old0") is None  # the least recently used went first
        with pytest.raises(OutOfMemoryError):  # larger than the whole limit: refused
            client.mset({f"huge{i}": "h" * MIB for i in range(50)})
