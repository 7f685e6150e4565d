"""Configuration: every BOLT_* variable parsed, validated and named in errors.

``load_config`` reads the environment (and flag overrides); a bad value is a
ConfigError whose message names the variable (or flag). Defaults match
``bolt.limits`` and the seed's table.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bolt import limits
from bolt.config import SETTINGS, Config, load_config, parse_memory, system_memory_bytes
from bolt.errors import ConfigError
from bolt.server._daemon import engine_config


def test_every_setting_is_a_config_field_and_a_bolt_variable() -> None:
    fields = set(Config.__dataclass_fields__)
    assert {s.field for s in SETTINGS} <= fields
    assert len({s.env for s in SETTINGS}) == len(SETTINGS)
    for setting in SETTINGS:
        assert setting.env.startswith("BOLT_")
        assert setting.help


def test_defaults() -> None:
    config = load_config({})
    assert config.port == limits.port_default == 8518
    assert config.cluster_port == 8519
    assert config.metrics_port == 9091
    assert config.persist is True
    assert config.max_connections == 1000
    assert config.shard_count == 64
    assert config.wal_fsync == "batch"
    assert config.wal_batch_size == 1000
    assert config.wal_flush_interval_ms == 10
    assert config.eviction_policy == "allkeys-lru"
    assert config.memory_warning_threshold == 90
    assert config.max_clock_offset_ms == 500
    assert config.metrics_enabled is True
    assert config.log_level == "INFO"
    assert config.cluster_peers == ()
    assert config.host is None and config.node_id is None and config.data_dir is None
    # 75% of *system* RAM, not of 1 GiB.
    assert config.max_memory == int(system_memory_bytes() * 75 / 100)
    assert config.auth is None  # unset: the server decides (protected mode or auth)


def test_values_are_parsed() -> None:
    config = load_config(
        {
            "BOLT_PORT": " 9000 ",
            "BOLT_PERSIST": "no",
            "BOLT_SHARD_COUNT": "8",
            "BOLT_WAL_FSYNC": "ALWAYS",
            "BOLT_MAX_MEMORY": "512mb",
            "BOLT_EVICTION_POLICY": "volatile-ttl",
            "BOLT_CLUSTER_PEERS": "n2:host2:8519, n3:10.0.0.3:9519",
            "BOLT_AUTH": "false",
            "BOLT_DATA_DIR": "/tmp/somewhere",
            "BOLT_LOG_LEVEL": "warn",
            "BOLT_NODE_ID": "node-1",
        }
    )
    assert config.port == 9000
    assert config.persist is False
    assert config.shard_count == 8
    assert config.wal_fsync == "always"
    assert config.max_memory == 512 * limits.MIB
    assert config.eviction_policy == "volatile-ttl"
    assert config.cluster_peers == (("n2", "host2", 8519), ("n3", "10.0.0.3", 9519))
    assert config.auth is False
    assert config.data_dir == Path("/tmp/somewhere")
    assert config.resolved_data_dir() == Path("/tmp/somewhere")
    assert config.log_level == "WARNING"
    assert config.node_id == "node-1"


def test_rust_log_is_the_fallback_for_the_log_level() -> None:
    assert load_config({"RUST_LOG": "debug"}).log_level == "DEBUG"
    assert load_config({"RUST_LOG": "debug", "BOLT_LOG_LEVEL": "error"}).log_level == "ERROR"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1gb", limits.GIB),
        ("1GB", limits.GIB),
        ("512mb", 512 * limits.MIB),
        ("512m", 512 * limits.MIB),
        ("64kb", 64 * limits.KIB),
        ("1.5g", int(1.5 * limits.GIB)),
        ("100", 100),
        ("100b", 100),
        ("0", 0),
        ("50%", 500),
        ("100%", 1000),
    ],
)
def test_parse_memory(text: str, expected: int) -> None:
    assert parse_memory(text, total_bytes=1000) == expected


@pytest.mark.parametrize(
    "text", ["", "abc", "-1", "1 xb", "0%", "101%", "-5%", "nan%", "mb", "1gbb"]
)
def test_parse_memory_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_memory(text, total_bytes=1000)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BOLT_PORT", "http"),
        ("BOLT_PORT", "70000"),
        ("BOLT_PORT", "-1"),
        ("BOLT_PORT", ""),
        ("BOLT_PERSIST", "maybe"),
        ("BOLT_MAX_CONNECTIONS", "0"),
        ("BOLT_SHARD_COUNT", "0"),
        ("BOLT_SHARD_COUNT", str(limits.shard_count_max + 1)),
        ("BOLT_WAL_FSYNC", "sometimes"),
        ("BOLT_WAL_BATCH_SIZE", "0"),
        ("BOLT_WAL_FLUSH_INTERVAL_MS", "1.5"),
        ("BOLT_MAX_MEMORY", "lots"),
        ("BOLT_MAX_MEMORY", "150%"),
        ("BOLT_EVICTION_POLICY", "lru"),
        ("BOLT_MEMORY_WARNING_THRESHOLD", "101"),
        ("BOLT_CLUSTER_PEERS", "n2:host"),
        ("BOLT_CLUSTER_PEERS", "n2:host:99999"),
        ("BOLT_CLUSTER_PEERS", ":host:1"),
        ("BOLT_MAX_CLOCK_OFFSET_MS", "0"),
        ("BOLT_AUTH", "perhaps"),
        ("BOLT_LOG_LEVEL", "loud"),
        ("BOLT_METRICS_ENABLED", "2"),
        ("BOLT_SNAPSHOT_INTERVAL_MS", "5"),
    ],
)
def test_bad_values_raise_config_error_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({variable: value})
    assert variable in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_override_names_the_flag() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({}, overrides={"port": "nope"})
    assert "--port" in str(info.value)


def test_overrides_beat_the_environment_and_none_means_unset() -> None:
    config = load_config({"BOLT_PORT": "9000"}, overrides={"port": "9100", "shard_count": None})
    assert config.port == 9100
    assert config.shard_count == 64


def test_ipv6_peer_address_is_parsed_whole() -> None:
    config = load_config({"BOLT_CLUSTER_PEERS": "n1:[::1]:8519"})
    ((peer_id, host, port),) = config.cluster_peers
    assert peer_id == "n1"
    assert port == 8519
    assert host.strip("[]") == "::1"


@settings(max_examples=100, deadline=None)
@given(st.integers(1, limits.shard_count_max), st.integers(0, 65535))
def test_integers_in_range_round_trip(shards: int, port: int) -> None:
    config = load_config({"BOLT_SHARD_COUNT": str(shards), "BOLT_PORT": str(port)})
    assert (config.shard_count, config.port) == (shards, port)


def test_engine_config_from_config() -> None:
    config = load_config(
        {
            "BOLT_DATA_DIR": "/tmp/x",
            "BOLT_WAL_FSYNC": "always",
            "BOLT_SHARD_COUNT": "4",
            "BOLT_MAX_MEMORY": "1mb",
            "BOLT_CLUSTER_PEERS": "n2:h:1",
        }
    )
    built = engine_config(config)
    assert built.data_dir == Path("/tmp/x")
    assert built.fsync == "always"
    assert built.shard_count == 4
    assert built.max_memory_bytes == limits.MIB
    assert built.keep_tombstones  # a clustered node keeps tombstones
    assert not engine_config(load_config({"BOLT_DATA_DIR": "/tmp/x"})).keep_tombstones
