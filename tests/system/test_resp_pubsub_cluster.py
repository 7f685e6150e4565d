"""Pub/sub across a cluster: a PUBLISH on one node reaches the RESP subscribers
of every node, in order, once; three real nodes on loopback, with redis-py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bolt.testing import LocalCluster
from tests.system._resp_support import client, resp_port

pytestmark = pytest.mark.slow


def _messages(pubsub: Any, count: int, timeout: float = 15) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.5)
        if message is not None and message["type"] in ("message", "pmessage"):
            got.append(message["data"])
    return got


def test_a_publish_reaches_subscribers_on_every_node(tmp_path: Path) -> None:
    with LocalCluster(tmp_path, 3, env={"BOLT_RESP_PORT": "0"}) as cluster:
        ports = [resp_port(cluster.node(i)) for i in range(3)]
        publisher = client(ports[0])
        subscribers = []
        for port, parser in ((ports[1], "python-resp2"), (ports[2], "hiredis-resp3")):
            pubsub = client(port, parser).pubsub()
            pubsub.psubscribe("agents:*")
            subscribers.append(pubsub)
        # The links come up in the background: publish until both have heard one.
        heard = [False, False]
        deadline = time.monotonic() + 30
        while not all(heard) and time.monotonic() < deadline:
            assert publisher.publish("agents:warmup", "ping") == 0  # no subscriber on node 1
            for i, pubsub in enumerate(subscribers):
                heard[i] = heard[i] or bool(_messages(pubsub, 1, timeout=0.2))
        assert all(heard), "a PUBLISH on node 1 never reached a peer's subscriber"
        time.sleep(0.5)
        for pubsub in subscribers:  # drop the warm-up messages still in flight
            while pubsub.get_message(timeout=0.2) is not None:
                pass
        sent = [f"m{i}".encode() for i in range(50)]
        for data in sent:
            publisher.publish("agents:results", data)
        for pubsub in subscribers:
            assert _messages(pubsub, len(sent)) == sent  # every one, once, in order
        with cluster.node(0).client() as bolt:
            peers = {p["id"]: p for p in bolt.cluster_status()["peers"]}
        assert all(p["publishes_sent"] >= len(sent) for p in peers.values())
        assert all(p["publishes_dropped"] == 0 for p in peers.values())
        with cluster.node(1).client() as bolt:
            received = {p["id"]: p for p in bolt.cluster_status()["peers"]}
        assert received[cluster.node(0).node_id]["publishes_received"] >= len(sent)
        for pubsub in subscribers:
            pubsub.close()
        publisher.close()
