"""Cluster settings: secret rules, duplicate and self ids, the testing clock offset."""

from __future__ import annotations

import pytest

from bolt.cluster import cluster_settings
from bolt.cluster import testing_clock_offset_ms as clock_offset_ms
from bolt.config import load_config
from bolt.errors import ConfigError


def _config(**env: str):
    return load_config(environ=env)


def test_standalone_without_peers() -> None:
    assert cluster_settings(_config()) is None


def test_peers_parse_host_names_and_ipv6() -> None:
    settings = cluster_settings(
        _config(
            BOLT_CLUSTER_PEERS="n2:node2.example:8519,n3:[fe80::1]:9000",
            BOLT_CLUSTER_SECRET="s",
        )
    )
    assert settings is not None
    assert [(p.node_id, p.host, p.port) for p in settings.peers] == [
        ("n2", "node2.example", 8519),
        ("n3", "fe80::1", 9000),
    ]
    assert settings.peers[1].text() == "[fe80::1]:9000"
    assert settings.secret == b"s"


def test_loopback_peers_may_go_without_a_secret() -> None:
    settings = cluster_settings(
        _config(BOLT_CLUSTER_PEERS="n2:127.0.0.1:1,n3:[::1]:2,n4:localhost:3")
    )
    assert settings is not None and settings.secret == b""


@pytest.mark.parametrize("peers", ["n2:10.0.0.2:8519", "n2:127.0.0.1:1,n3:node3:8519"])
def test_remote_peers_need_a_secret(peers: str) -> None:
    with pytest.raises(ConfigError, match="BOLT_CLUSTER_SECRET is required"):
        cluster_settings(_config(BOLT_CLUSTER_PEERS=peers))


def test_duplicate_and_self_ids_are_refused() -> None:
    with pytest.raises(ConfigError, match="more than once"):
        cluster_settings(_config(BOLT_CLUSTER_PEERS="n2:127.0.0.1:1,n2:127.0.0.1:2"))
    with pytest.raises(ConfigError, match="this node itself"):
        cluster_settings(_config(BOLT_NODE_ID="n1", BOLT_CLUSTER_PEERS="n1:127.0.0.1:1"))


@pytest.mark.parametrize("bad", ["n2:127.0.0.1", "n2:127.0.0.1:0", "n2:127.0.0.1:x", ":h:1"])
def test_bad_peer_entries_name_the_variable(bad: str) -> None:
    with pytest.raises(ConfigError, match="BOLT_CLUSTER_PEERS"):
        _config(BOLT_CLUSTER_PEERS=bad)


def test_testing_clock_offset() -> None:
    assert clock_offset_ms({}) == 0
    assert clock_offset_ms({"BOLT_TESTING_CLOCK_OFFSET_MS": "-250"}) == -250
    with pytest.raises(ConfigError, match="BOLT_TESTING_CLOCK_OFFSET_MS"):
        clock_offset_ms({"BOLT_TESTING_CLOCK_OFFSET_MS": "soon"})
