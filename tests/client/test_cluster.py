"""Node addresses and failover between two toy servers (sync client)."""

from __future__ import annotations

import socket
import time

import pytest

from bolt import errors
from bolt.client import BoltClient, parse_node, parse_nodes
from bolt.client._cluster import NodeRing

from .toy_server import ToyServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("10.0.0.1:8518", ("10.0.0.1", 8518)),
        ("db.example:9000", ("db.example", 9000)),
        ("db.example", ("db.example", 8518)),
        ("[::1]:8520", ("::1", 8520)),
        ("[::1]", ("::1", 8518)),
        ("::1", ("::1", 8518)),
        (" host:1 ", ("host", 1)),
    ],
)
def test_parse_node(text: str, address: tuple[str, int]) -> None:
    assert parse_node(text) == address


@pytest.mark.parametrize("text", ["", ":8518", "host:", "host:0", "host:70000", "host:x", "[::1"])
def test_parse_node_rejects_bad_addresses(text: str) -> None:
    with pytest.raises(errors.BadRequestError):
        parse_node(text)


def test_parse_nodes_rejects_a_bare_string_and_empty_lists() -> None:
    with pytest.raises(errors.BadRequestError):
        parse_nodes("a:1")
    with pytest.raises(errors.BadRequestError):
        parse_nodes([])


def test_ring_order() -> None:
    ring = NodeRing([("a", 1), ("b", 2), ("c", 3)])
    assert [index for index, _ in ring.candidates(failover=False)] == [0, 1, 2]
    ring.use(1)
    assert [index for index, _ in ring.candidates(failover=True)] == [2, 0, 1]


def test_connects_to_the_first_reachable_node(server: ToyServer) -> None:
    client = BoltClient.cluster([f"127.0.0.1:{free_port()}", server.address], timeout=2)
    with client:
        assert client.ping() == "PONG"
        assert client.address == ("127.0.0.1", server.port)
        assert client.server_info["node_id"] == "toy-1"


def test_fails_over_when_the_node_goes_away(server: ToyServer, server2: ToyServer) -> None:
    client = BoltClient.cluster([server.address, server2.address], "admin", "secret")
    with client:
        client.put("k", "on-1")
        server.stop()
        time.sleep(0.05)
        client.put("k", "on-2")
        assert client.get("k") == "on-2"
        assert client.address == ("127.0.0.1", server2.port)
    assert server2.requests[0].args[1]["user"] == "admin"
    assert "password" not in server2.requests[0].args[1]  # a challenge login
    assert server2.commands() == ["PUT", "GET"]


def test_retry_safe_request_in_flight_moves_to_the_next_node(
    server: ToyServer, server2: ToyServer
) -> None:
    server.drop_after_reading["GET"] = 1
    with BoltClient.cluster([server.address, server2.address]) as client:
        assert client.get("k") is None
    assert server.commands() == ["GET"]
    assert server2.commands() == ["GET"]


def test_non_idempotent_request_in_flight_is_not_resent_elsewhere(
    server: ToyServer, server2: ToyServer
) -> None:
    server.drop_after_reading["INCR"] = 1
    with BoltClient.cluster([server.address, server2.address]) as client:
        with pytest.raises(errors.WriteOutcomeUnknownError):
            client.incr("n")
        assert client.incr("n") == 1  # the next call runs on the next node
    assert server.commands() == ["INCR"]
    assert server2.commands() == ["INCR"]


def test_failover_wraps_around(server: ToyServer, server2: ToyServer) -> None:
    with BoltClient.cluster([server.address, server2.address]) as client:
        for expected in ("toy-1", "toy-2", "toy-1"):
            assert client.ping() == "PONG"
            assert client.server_info["node_id"] == expected
            (server if expected == "toy-1" else server2).kick()
            time.sleep(0.05)


def test_every_node_down_is_a_cluster_error() -> None:
    client = BoltClient.cluster([f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"])
    with pytest.raises(errors.ClusterError, match="no node"):
        client.connect()


def test_refused_credentials_are_not_tried_on_other_nodes(
    server: ToyServer, server2: ToyServer
) -> None:
    client = BoltClient.cluster([server.address, server2.address], "admin", "wrong")
    with pytest.raises(errors.AuthenticationError):
        client.connect()
    assert server2.connections_accepted == 0


def test_a_full_node_is_skipped(server: ToyServer, server2: ToyServer) -> None:
    server.refuse_with = errors.TooManyConnectionsError("full")
    with BoltClient.cluster([server.address, server2.address]) as client:
        assert client.server_info["node_id"] == "toy-2"
