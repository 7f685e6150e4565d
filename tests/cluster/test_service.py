"""Two engines and their cluster services in one trio run, over loopback sockets.

Checks what the system tests cannot see from outside: a link resumes from
the acknowledged offset it persisted (nothing re-sent needlessly), and a
peer's log is relayed whole, with each event applied once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from bolt import limits
from bolt.cluster import ClusterService, ClusterSettings, PeerAddress
from bolt.errors import NodeJoiningError
from bolt.events import KeyPut
from bolt.node import Engine, open_engine
from tests.node._support import config

SECRET = b"service-test"


async def _wait(predicate, seconds: float = 10) -> None:
    with trio.fail_after(seconds):
        while not predicate():
            await trio.sleep(0.01)


def _settings(peer: str, port: int) -> ClusterSettings:
    return ClusterSettings((PeerAddress(peer, "127.0.0.1", port),), SECRET, 0, 500)


async def _pair(
    nursery: trio.Nursery, a: Engine, b: Engine, a_dir: Path
) -> tuple[ClusterService, ClusterService]:
    receiver = ClusterService(b, _settings("a", 1))  # its own link to "a" just retries
    await nursery.start(receiver.run, "127.0.0.1")
    sender = ClusterService(a, _settings("b", receiver.port), data_dir=a_dir)
    await nursery.start(sender.run, "127.0.0.1")
    return sender, receiver


@pytest.mark.trio
async def test_resumes_from_the_persisted_acknowledgement(tmp_path: Path) -> None:
    async with (
        open_engine(config(tmp_path / "a", node_id="a")) as a,
        open_engine(config(tmp_path / "b", node_id="b")) as b,
    ):
        for n in range(20):
            await a.execute("PUT", [f"k{n}", "v"])
        async with trio.open_nursery() as nursery:
            sender, receiver = await _pair(nursery, a, b, tmp_path / "a")
            await _wait(lambda: sender.peers["b"].acked_offset == a.last_offset)
            sender.stop()
            receiver.stop()
        stored = json.loads((tmp_path / "a" / "cluster" / "acked.json").read_text())
        assert stored == {"b": a.last_offset}
        sent_before = sender.peers["b"].batches_sent
        assert sent_before >= 1
        await a.execute("PUT", ["late", "v"])
        async with trio.open_nursery() as nursery:
            sender, receiver = await _pair(nursery, a, b, tmp_path / "a")
            assert sender.peers["b"].acked_offset == a.last_offset - 1  # loaded from disk
            await _wait(lambda: b.keyspace.get("late") is not None)
            await _wait(lambda: sender.peers["b"].acked_offset == a.last_offset)
            # only the one new record was shipped this time
            assert receiver.peers["a"].events_received == 1
            sender.stop()
            receiver.stop()
        assert b.version_vector()["a"] == 21


@pytest.mark.trio
async def test_relays_third_nodes_events_once(tmp_path: Path) -> None:
    async with (
        open_engine(config(tmp_path / "a", node_id="a")) as a,
        open_engine(config(tmp_path / "b", node_id="b")) as b,
        open_engine(config(tmp_path / "c", node_id="c")) as c,
    ):
        # c's writes reach a first (as if shipped), then a relays them to b
        await c.execute("SADD", ["s", "from-c"])
        a.ingest([event for change in c.read_changes(0) for event in change.events])
        await a.execute("SADD", ["s", "from-a"])
        async with trio.open_nursery() as nursery:
            sender, _receiver = await _pair(nursery, a, b, tmp_path / "a")
            await _wait(lambda: sender.peers["b"].acked_offset == a.last_offset)
            nursery.cancel_scope.cancel()
        assert b.version_vector() == {"a": 1, "c": 1}
        reply, _ = b.submit("SMEMBERS", ["s"])
        assert sorted(reply) == ["from-a", "from-c"]


@pytest.mark.trio
async def test_publishes_go_to_linked_peers_and_overflow_is_dropped(tmp_path: Path) -> None:
    async with (
        open_engine(config(tmp_path / "a", node_id="a")) as a,
        open_engine(config(tmp_path / "b", node_id="b")) as b,
    ):
        async with trio.open_nursery() as nursery:
            sender, receiver = await _pair(nursery, a, b, tmp_path / "a")
            got: list[tuple[bytes, bytes]] = []
            receiver.deliver_publish = lambda channel, message: got.append((channel, message)) or 1
            peer = sender.peers["b"]
            await _wait(lambda: "b" in sender._publish_outboxes)
            for n in range(5):
                sender.publish(b"ch", b"m%d" % n)
            await _wait(lambda: len(got) == 5)
            assert got == [(b"ch", b"m%d" % n) for n in range(5)]
            assert peer.publishes_sent == 5 and receiver.peers["a"].publishes_received == 5
            # Publishing never waits: past the outbox bound a message is dropped, counted.
            flood = limits.peer_publish_queue_max + 50
            for _ in range(flood):
                sender.publish(b"ch", b"x")
            assert 49 <= peer.publishes_dropped <= 50  # one may go straight to the waiting sender
            sender.stop()
            receiver.stop()
        sender.publish(b"ch", b"after")  # no link: nobody to hand it to, nothing raised


@pytest.mark.trio
async def test_a_fresh_node_holds_writes_until_a_peer_says_which_of_its_seqs_exist(
    tmp_path: Path,
) -> None:
    """b's data directory was wiped; a still holds b's old events 1..5. b's
    next write must not reuse seq 1 (a would skip it as a duplicate)."""
    async with (
        open_engine(config(tmp_path / "a", node_id="a")) as a,
        open_engine(config(tmp_path / "b", node_id="b")) as b,
    ):
        old = [KeyPut("b", seq, a.clock.tick(), "", f"old{seq}", "v", 0) for seq in range(1, 6)]
        a.ingest(old)
        async with trio.open_nursery() as nursery:
            receiver = ClusterService(b, _settings("a", 1))  # a is not up yet
            await nursery.start(receiver.run, "127.0.0.1")
            with pytest.raises(NodeJoiningError):
                b.submit("PUT", ["new", "v"])
            assert b.keyspace.get("new") is None  # refused, nothing written
            sender = ClusterService(a, _settings("b", receiver.port), data_dir=tmp_path / "a")
            await nursery.start(sender.run, "127.0.0.1")
            with trio.fail_after(10):
                await b.writes_open()
            await b.execute("PUT", ["new", "v"])
            assert b.keyspace.dots.highest("b") == 6  # after the seqs a holds
            assert ("b", 6) not in a.keyspace.dots  # so a will apply it, not skip it
            sender.stop()
            receiver.stop()
