"""The ``bolt`` process: configuration, startup, connection limit, logging, shutdown."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bolt import limits
from bolt.config import SETTINGS
from bolt.errors import NotIntegerError, TooManyConnectionsError
from bolt.testing import READY_LINE, BoltDaemon
from bolt.wire import Codec, ErrorReply, Response, encode_request
from tests.system._support import run_bolt

DaemonFactory = Callable[..., BoltDaemon]


def test_help_documents_every_variable(tmp_path: Path) -> None:
    result = run_bolt(tmp_path, {}, ["--help"])
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for setting in SETTINGS:
        assert f"--{setting.field.replace('_', '-')}" in text
        assert setting.env in text
    assert "default: 8518" in text and "protected mode" in text


@pytest.mark.parametrize(
    ("env", "args", "named"),
    [
        ({"BOLT_PORT": "x"}, [], "BOLT_PORT='x'"),
        ({"BOLT_PORT": "70000"}, [], "BOLT_PORT='70000'"),
        ({"BOLT_WAL_FSYNC": "sometimes"}, [], "BOLT_WAL_FSYNC='sometimes'"),
        ({"BOLT_MAX_MEMORY": "lots"}, [], "BOLT_MAX_MEMORY='lots'"),
        ({"BOLT_EVICTION_POLICY": "lru"}, [], "BOLT_EVICTION_POLICY='lru'"),
        ({"BOLT_PERSIST": "maybe"}, [], "BOLT_PERSIST='maybe'"),
        ({"BOLT_LOG_LEVEL": "loud"}, [], "BOLT_LOG_LEVEL='loud'"),
        ({"BOLT_CLUSTER_PEERS": "nohost"}, [], "BOLT_CLUSTER_PEERS='nohost'"),
        ({}, ["--max-connections", "0"], "--max-connections='0'"),
        ({"BOLT_SHARD_COUNT": "8"}, ["--shard-count", "-1"], "--shard-count='-1'"),
    ],
)
def test_bad_value_stops_startup_naming_it(
    tmp_path: Path, env: dict[str, str], args: list[str], named: str
) -> None:
    result = run_bolt(tmp_path, env, args)
    assert result.returncode == 2
    assert result.stderr.startswith(f"bolt: invalid {named}: ")
    assert not (tmp_path / "data").exists()  # nothing was opened


def test_ready_line_and_flags_win_over_variables(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory(env={"BOLT_NODE_ID": "from-env", "BOLT_SHARD_COUNT": "3"})
    assert daemon.node_id == "from-env"
    ready = [line for line in daemon.stderr_lines() if READY_LINE.match(line)]
    assert len(ready) == 1
    assert daemon.port != 0 and daemon.metrics_port not in (None, 0)
    with daemon.client() as client:
        assert len(client.stats()["shards"]) == 3
    other = bolt_daemon_factory(env={"BOLT_SHARD_COUNT": "3"}, args=["--shard-count", "5"])
    with other.client() as client:
        assert len(client.stats()["shards"]) == 5


def test_sigterm_and_sigint_stop_cleanly_and_keep_data(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory()
    with daemon.client() as client:
        client.put("k", "v")
        client.rpush("l", "a", "b")
    assert daemon.terminate() == 0
    lines = daemon.stderr_lines()
    assert any("SIGTERM received" in line for line in lines)
    assert any("stopped cleanly" in line for line in lines)
    again = bolt_daemon_factory(data_dir=daemon.data_dir)
    with again.client() as client:
        assert client.get("k") == "v"
        client.put("k2", "v2")
    again.process.send_signal(signal.SIGINT)
    assert again.process.wait(15) == 0
    third = bolt_daemon_factory(data_dir=daemon.data_dir)
    with third.client() as client:
        assert client.mget(["k", "k2"]) == ["v", "v2"]
        assert client.lrange("l") == ["a", "b"]


def test_sigterm_finishes_in_flight_requests(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory(env={"BOLT_WAL_FSYNC": "always"})
    idle = socket.create_connection((daemon.host, daemon.port), timeout=10)
    busy = socket.create_connection((daemon.host, daemon.port), timeout=10)
    burst = b"".join(
        encode_request(index, "PUT", [f"burst:{index}", str(index)], None)
        for index in range(1, 3001)
    )
    busy.sendall(burst)
    time.sleep(0.02)
    daemon.process.send_signal(signal.SIGTERM)
    acknowledged: list[int] = []
    codec = Codec(limits.reply_bytes_max)
    goodbye = None
    while True:
        data = busy.recv(1 << 20)
        if not data:
            break
        codec.receive_data(data)
        for message in codec.next_messages():
            if isinstance(message, Response):
                acknowledged.append(message.id)
            else:
                goodbye = message
    assert daemon.process.wait(15) == 0
    assert acknowledged == list(range(1, len(acknowledged) + 1))  # in order, no gaps
    assert acknowledged, "no request was in flight"
    if len(acknowledged) < 3000:
        assert isinstance(goodbye, ErrorReply) and goodbye.name == "SHUTTING_DOWN"
    idle_codec = Codec(limits.reply_bytes_max)
    idle_codec.receive_data(idle.recv(4096))
    told = idle_codec.next_message()
    assert isinstance(told, ErrorReply)
    assert (told.id, told.name) == (0, "SHUTTING_DOWN")
    idle.close()
    busy.close()
    restarted = bolt_daemon_factory(data_dir=daemon.data_dir)
    with restarted.client() as client:
        keys = [f"burst:{index}" for index in acknowledged]
        assert client.mget(keys) == [str(index) for index in acknowledged]


def test_connection_limit_gives_a_clear_error(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory(env={"BOLT_MAX_CONNECTIONS": "2"})
    first, second = daemon.client(), daemon.client()
    with pytest.raises(TooManyConnectionsError, match="BOLT_MAX_CONNECTIONS"):
        daemon.client(auto_reconnect=False)
    assert first.ping() == "PONG" and second.ping() == "PONG"
    first.close()
    deadline = time.monotonic() + 5
    while True:  # the server notices the close asynchronously
        try:
            third = daemon.client()
            break
        except TooManyConnectionsError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert third.ping() == "PONG"
    stats = third.stats()
    assert stats["connections"]["refused"] >= 1 and stats["connections"]["active"] == 2
    third.close()
    second.close()


def test_nothing_is_logged_per_request_at_info(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory(env={"BOLT_LOG_LEVEL": "info"})
    with daemon.client() as client:
        client.ping()
        before = len(daemon.stderr_lines())
        for index in range(200):
            client.put(f"k{index}", "v")
            client.get(f"k{index}")
            with pytest.raises(NotIntegerError):  # an error reply is not logged either
                client.incr(f"k{index}")
        client.stats()
    with daemon.client() as again:  # a new connection is not logged either
        again.ping()
    # A protocol error is logged (once per connection): when its line is in,
    # every line logged before it is in too.
    with socket.create_connection((daemon.host, daemon.port), timeout=10) as raw:
        raw.sendall(b"\x00\x00\x00\x00")
        raw.recv(4096)
    daemon.wait_for_stderr("frame of length 0")
    assert len(daemon.stderr_lines()) == before + 1


@pytest.mark.parametrize(
    ("env", "named"),
    [
        pytest.param({}, None, id="none"),
        pytest.param(
            {"BOLT_CLUSTER_PEERS": "n2:127.0.0.1:1", "BOLT_CLUSTER_PORT": "0"}, None, id="peers"
        ),
        pytest.param({"BOLT_CLUSTER_SECRET": "s3cret"}, "BOLT_CLUSTER_SECRET", id="secret"),
        pytest.param({"BOLT_CLUSTER_PORT": "9519"}, None, id="port"),
    ],
)
def test_cluster_settings_warnings(
    bolt_daemon_factory: DaemonFactory, env: dict[str, str], named: str | None
) -> None:
    """Peers start the cluster port; a secret without peers is warned about."""
    daemon = bolt_daemon_factory(env=env)
    warnings = [
        line
        for line in daemon.stderr_lines()
        if " WARNING bolt.daemon: " in line and "BOLT_CLUSTER_" in line
    ]
    if named is None:
        assert warnings == []
    else:
        assert len(warnings) == 1, daemon.stderr_text()
        assert named in warnings[0]
    cluster_lines = [line for line in daemon.stderr_lines() if "bolt.cluster: cluster port" in line]
    assert len(cluster_lines) == (1 if "BOLT_CLUSTER_PEERS" in env else 0)


def test_second_daemon_on_the_same_data_dir_is_refused(
    bolt_daemon_factory: DaemonFactory, tmp_path: Path
) -> None:
    daemon = bolt_daemon_factory()
    result = run_bolt(
        tmp_path, {"BOLT_DATA_DIR": str(daemon.data_dir)}, ["--metrics-enabled", "false"]
    )
    assert result.returncode == 1
    assert "in use by another Bolt process" in result.stderr
    with daemon.client() as client:
        assert client.ping() == "PONG"


def test_port_in_use_is_reported(bolt_daemon_factory: DaemonFactory, tmp_path: Path) -> None:
    daemon = bolt_daemon_factory()
    result = run_bolt(tmp_path, {"BOLT_PORT": str(daemon.port)})
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{daemon.port} (BOLT_PORT)" in result.stderr
