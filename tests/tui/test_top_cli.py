"""``boltctl top`` on the command line: flags, environment, credential check."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bolt.cli._connect import ConnectionOptions, UsageError
from bolt.cli.boltctl import main
from bolt.cli.top import node_addresses, parse_interval
from bolt.testing import BoltDaemon


def options(host: str = "10.0.0.1", port: int = 8518) -> ConnectionOptions:
    return ConnectionOptions(
        host=host,
        port=port,
        user=None,
        password=None,
        database=None,
        tls=False,
        tls_ca_file=None,
        tls_verify=True,
        timeout=10.0,
    )


def test_wrong_password_exits_non_zero_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with BoltDaemon.start(tmp_path, env={"BOLT_ADMIN_PASSWORD": "right"}) as daemon:
        monkeypatch.delenv("BOLT_CLUSTER_PEERS", raising=False)
        address = ["--host", daemon.host, "--port", str(daemon.port)]
        assert main(["top", *address, "-u", "admin", "-a", "bad"]) == 3
        error = capsys.readouterr().err
        assert "authentication failed" in error and f"{daemon.port}" in error
        monkeypatch.delenv("BOLT_USER", raising=False)
        monkeypatch.delenv("BOLT_PASSWORD", raising=False)
        assert main(["top", *address]) == 3  # no credentials at all
        assert "authentication failed" in capsys.readouterr().err


def test_without_a_terminal_it_refuses_to_start(
    daemon_port: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOLT_CLUSTER_PEERS", raising=False)
    status = main(["top", "--port", str(daemon_port)])
    assert status == 2
    assert "needs a terminal" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["top", "--interval", "0"], "--interval"),
        (["top", "--interval", "soon"], "--interval"),
        (["top", "--interval", "nan"], "--interval"),
        (["top", "--node", "host:99999"], "--node"),
        (["top", "--port", "http"], "--port"),
    ],
)
def test_bad_flags_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_parse_interval() -> None:
    assert parse_interval("0.5") == 0.5
    assert parse_interval("1") == 1.0
    with pytest.raises(UsageError):
        parse_interval("-1")
    with pytest.raises(UsageError):
        parse_interval("inf")


def test_nodes_from_flags_deduplicated_with_the_client_port_as_default() -> None:
    nodes = node_addresses(["a:1", "b", "a:1", "[::1]:7"], options(port=9000), {})
    assert nodes == [("a", 1), ("b", 9000), ("::1", 7)]


def test_nodes_from_cluster_peers_use_the_client_port() -> None:
    environ = {"BOLT_CLUSTER_PEERS": "n2:10.0.0.2:8519, n3:10.0.0.3:8519,n1:10.0.0.1:8519"}
    nodes = node_addresses(None, options(), environ)
    assert nodes == [("10.0.0.1", 8518), ("10.0.0.2", 8518), ("10.0.0.3", 8518)]
    assert node_addresses(["x:1"], options(), environ) == [("x", 1)]  # --node wins


def test_bad_cluster_peers_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="BOLT_CLUSTER_PEERS"):
        node_addresses(None, options(), {"BOLT_CLUSTER_PEERS": "just-a-host"})


def test_registers_with_the_extension_contract() -> None:
    from bolt.cli import top

    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    top.register(subparsers)
    args = parser.parse_args(["top", "--node", "a:1", "--node", "b:2", "--interval", "2"])
    assert args.node == ["a:1", "b:2"] and args.interval == "2"
    assert args.handler is top.run_top
