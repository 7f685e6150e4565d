"""Bad peers on the cluster port: refused and logged, nothing applied, the node serves on."""

from __future__ import annotations

import re
import secrets
import socket
import struct
from pathlib import Path

import pytest

from bolt import limits
from bolt.cluster._handshake import ROLE_DIAL, proof
from bolt.errors import PeerAuthenticationError, PeerProtocolError
from bolt.events import KeyPut, encode_record
from bolt.testing import BoltDaemon, LocalCluster
from bolt.wire._peer import (
    PEER_PROTOCOL_VERSION,
    Batch,
    PeerChallenge,
    PeerCodec,
    PeerHello,
    PeerProof,
    PeerReady,
    PeerRefusal,
    encode_peer,
)

from ._support import run_bolt
from .conftest import DaemonFactory

SECRET = "right-secret"


def _node(factory: DaemonFactory) -> tuple[BoltDaemon, int]:
    daemon = factory(
        env={
            "BOLT_NODE_ID": "n1",
            "BOLT_CLUSTER_PORT": "0",
            "BOLT_CLUSTER_PEERS": "n2:127.0.0.1:1",
            "BOLT_CLUSTER_SECRET": SECRET,
        }
    )
    line = daemon.wait_for_stderr(r"cluster port \S+:(\d+):")
    match = re.search(r"cluster port \S+:(\d+):", line)
    assert match is not None
    return daemon, int(match.group(1))


def _exchange(port: int, payloads: list[bytes]) -> list[object]:
    """Send raw bytes; return every message the node answers until it closes."""
    codec = PeerCodec(limits.peer_frame_bytes_max)
    received: list[object] = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for payload in payloads:
            sock.sendall(payload)
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            codec.receive_data(data)
            while (message := codec.next_peer_message()) is not None:
                received.append(message)
    return received


def _still_serves(daemon: BoltDaemon) -> None:
    with daemon.client() as client:
        assert client.ping() == "PONG"
        assert client.get("injected") is None
        assert client.digest()["keys"] == 0
        assert client.cluster_status()["refused_connections"] >= 1


@pytest.mark.parametrize(
    "payload",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # garbage
        struct.pack("<I", limits.peer_handshake_frame_bytes_max + 1),  # oversized before auth
        struct.pack("<I", 0xFFFF_FFFF) + b"x" * 100,  # absurd length
        encode_peer(PeerRefusal(1, "ERR", "hello?")),  # a peer message out of turn
    ],
)
def test_garbage_and_oversized_frames_are_refused(
    bolt_daemon_factory: DaemonFactory, payload: bytes
) -> None:
    daemon, port = _node(bolt_daemon_factory)
    replies = _exchange(port, [payload])
    assert replies and type(replies[-1]) is PeerRefusal
    assert replies[-1].code == PeerProtocolError.code
    daemon.wait_for_stderr("refused peer connection")
    _still_serves(daemon)


def _hello(
    node_id: str = "n2", version: int = PEER_PROTOCOL_VERSION, expected: str = "n1"
) -> tuple[bytes, bytes]:
    nonce = secrets.token_bytes(limits.peer_nonce_bytes)
    return nonce, encode_peer(PeerHello(version, node_id, expected, nonce))


@pytest.mark.parametrize(
    "node_id, version, expected, code",
    [
        ("n2", PEER_PROTOCOL_VERSION + 1, "n1", PeerProtocolError.code),  # another version
        ("stranger", PEER_PROTOCOL_VERSION, "n1", PeerAuthenticationError.code),  # not a peer
        ("n2", PEER_PROTOCOL_VERSION, "n9", PeerAuthenticationError.code),  # the wrong node
    ],
)
def test_wrong_version_or_id_is_refused(
    bolt_daemon_factory: DaemonFactory, node_id: str, version: int, expected: str, code: int
) -> None:
    daemon, port = _node(bolt_daemon_factory)
    _nonce, hello = _hello(node_id, version, expected)
    replies = _exchange(port, [hello])
    assert [type(r) for r in replies] == [PeerRefusal]
    assert replies[0].code == code  # type: ignore[attr-defined]
    _still_serves(daemon)


def test_wrong_secret_is_refused_and_its_batch_never_applied(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    daemon, port = _node(bolt_daemon_factory)
    nonce, hello = _hello()
    codec = PeerCodec()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(hello)
        challenge = None
        while challenge is None:
            codec.receive_data(sock.recv(65536))
            challenge = codec.next_peer_message()
        assert type(challenge) is PeerChallenge
        wrong = proof(b"wrong-secret", ROLE_DIAL, nonce, challenge.nonce, "n2", "n1")
        status = {"version_vector": {}, "hlc": 0, "last_offset": -1, "client_port": -1}
        event = KeyPut("n2", 1, 1 << 40, "", "injected", "evil", 0)
        sock.sendall(
            encode_peer(PeerProof(wrong, status))
            + encode_peer(Batch(0, 0, [encode_record([event])]))
        )
        replies = []
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            codec.receive_data(data)
            while (message := codec.next_peer_message()) is not None:
                replies.append(message)
    assert [type(r) for r in replies] == [PeerRefusal]
    assert replies[0].code == PeerAuthenticationError.code
    assert "BOLT_CLUSTER_SECRET" in daemon.wait_for_stderr("failed the challenge")
    _still_serves(daemon)


def test_right_secret_handshake_completes(bolt_daemon_factory: DaemonFactory) -> None:
    """The same exchange with the right secret is accepted (the test above can fail)."""
    daemon, port = _node(bolt_daemon_factory)
    nonce, hello = _hello()
    codec = PeerCodec()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(hello)
        messages: list[object] = []
        while not messages:
            codec.receive_data(sock.recv(65536))
            messages += [m for m in iter(codec.next_peer_message, None)]
        challenge = messages[0]
        assert type(challenge) is PeerChallenge
        right = proof(SECRET.encode(), ROLE_DIAL, nonce, challenge.nonce, "n2", "n1")
        status = {"version_vector": {}, "hlc": 0, "last_offset": -1, "client_port": -1}
        sock.sendall(encode_peer(PeerProof(right, status)))
        ready = None
        while ready is None:
            codec.receive_data(sock.recv(65536))
            ready = codec.next_peer_message()
        assert type(ready) is PeerReady
    with daemon.client() as client:
        assert client.ping() == "PONG"


def test_a_node_with_another_secret_never_joins(tmp_path: Path) -> None:
    with LocalCluster(tmp_path, 2, node_env={1: {"BOLT_CLUSTER_SECRET": "other"}}) as cluster:
        with cluster.node(1).client() as intruder:
            intruder.put("injected", "evil")
        cluster.node(0).wait_for_stderr("failed the challenge", timeout=10)
        with cluster.node(0).client() as client:
            assert client.get("injected") is None
            assert all(p["state"] == "Dead" for p in client.cluster_status()["peers"])


def test_peers_beyond_loopback_need_a_secret(tmp_path: Path) -> None:
    result = run_bolt(tmp_path, {"BOLT_NODE_ID": "n1", "BOLT_CLUSTER_PEERS": "n2:10.1.2.3:8519"})
    assert result.returncode != 0
    assert "BOLT_CLUSTER_SECRET" in result.stderr
    assert "10.1.2.3:8519" in result.stderr
