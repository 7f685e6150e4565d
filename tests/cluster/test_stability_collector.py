"""The tombstone collector's rounds (``bolt.cluster._tombstones``), without a network.

The first round looks at every key; later ones only at the keys ``apply``
noted and, once the stable HLC passes the oldest stamp still waiting, at
the waiting ones. A quiet node does nothing.
"""

from __future__ import annotations

from types import SimpleNamespace

import trio

from bolt.cluster._tombstones import TombstoneCollector
from bolt.events import KeyDeleted, KeyPut, SetAdded, SetRemoved
from bolt.state import Keyspace, apply


def test_rounds_look_only_where_tombstones_are() -> None:
    keyspace = Keyspace(4)
    for event in (
        KeyPut("n2", 1, 100, "", "k", "v", 0),
        SetAdded("n2", 2, 110, "", "s", ("a", "b")),
        SetRemoved("n1", 1, 130, "", "s", (("a", ((110, "n2"),)),)),
        KeyDeleted("n1", 2, 150, "", "k", {}, ""),
        KeyPut("n1", 3, 160, "", "plain", "x", 0),
    ):
        apply(keyspace, event)
    assert keyspace.tombstoned == {"s", "k"}
    stable = [0]
    collector = TombstoneCollector(SimpleNamespace(keyspace=keyspace), lambda: stable[0])  # type: ignore[arg-type]

    async def main() -> None:
        assert await collector.collect_round()  # the first: every key
        assert keyspace.tombstoned == set()
        assert collector.statistics().live == 2 and collector.collected_total == 0
        assert not await collector.collect_round()  # nothing new, nothing stable
        stable[0] = 140  # the removed member is stable, the delete not yet
        assert await collector.collect_round()
        assert collector.statistics().live == 1 and collector.collected_total == 1
        assert keyspace.get("k") is not None
        assert not await collector.collect_round()  # 150 still waits for stability
        apply(keyspace, SetRemoved("n1", 4, 170, "", "s", (("b", ((110, "n2"),)),)))
        assert await collector.collect_round()  # the new removal is looked at...
        assert collector.collected_total == 2  # ...and already stable: its add's HLC is 110
        assert collector.statistics().live == 1
        stable[0] = 200
        assert await collector.collect_round()
        assert collector.statistics().live == 0 and collector.collected_total == 3
        assert keyspace.get("k") is None and keyspace.get("s") is None
        assert keyspace.get("plain") is not None
        assert collector.bytes_collected_total > 0

    trio.run(main)


def test_a_standalone_keyspace_notes_nothing() -> None:
    keyspace = Keyspace(4, keep_tombstones=False)
    apply(keyspace, KeyPut("n1", 1, 100, "", "k", "v", 0))
    apply(keyspace, KeyDeleted("n1", 2, 150, "", "k", {}, ""))
    assert keyspace.tombstoned == set()
