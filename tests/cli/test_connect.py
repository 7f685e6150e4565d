"""Connection options: flags over environment over defaults, every bad value refused."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bolt.cli._connect import (
    DEFAULT_TIMEOUT_SECONDS,
    UsageError,
    add_connection_options,
    resolve,
)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_connection_options(parser)
    sub = parser.add_subparsers(dest="command")
    child = sub.add_parser("get")
    add_connection_options(child, suppress=True)
    return parser.parse_args(list(argv))


def test_defaults_without_flags_or_environment() -> None:
    options = resolve(parse("get"), {})
    assert (options.host, options.port) == ("127.0.0.1", 8518)
    assert options.user is None and options.password is None and options.database is None
    assert not options.tls and options.tls_verify
    assert options.timeout == DEFAULT_TIMEOUT_SECONDS


def test_environment_is_read() -> None:
    env = {
        "BOLT_HOST": "10.0.0.5",
        "BOLT_PORT": "9000",
        "BOLT_USER": "alice",
        "BOLT_PASSWORD": "s3cret",
        "BOLT_DB": "tenant",
        "BOLT_TLS": "true",
    }
    options = resolve(parse("get"), env)
    assert (options.host, options.port, options.user, options.password) == (
        "10.0.0.5", 9000, "alice", "s3cret"
    )  # fmt: skip
    assert options.database == "tenant" and options.tls
    assert options.address == "10.0.0.5:9000"


def test_flags_win_over_environment_before_or_after_the_subcommand() -> None:
    env = {"BOLT_PORT": "9000", "BOLT_USER": "alice"}
    assert resolve(parse("--port", "9100", "get"), env).port == 9100
    assert resolve(parse("get", "--port", "9200"), env).port == 9200
    assert resolve(parse("--port", "9100", "get", "-p", "9300"), env).port == 9300
    assert resolve(parse("get", "-u", "bob"), env).user == "bob"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (("get",), {"BOLT_PORT": "eighty"}, "BOLT_PORT: expected a port number"),
        (("get", "--port", "70000"), {}, "--port: port must be between"),
        (("get", "--port", "0"), {}, "--port: port must be between"),
        (("get",), {"BOLT_TLS": "maybe"}, "BOLT_TLS: expected true or false"),
        (("get",), {"BOLT_TLS_VERIFY": "perhaps"}, "BOLT_TLS_VERIFY"),
        (("get", "--timeout", "-1"), {}, "--timeout"),
        (("get", "--timeout", "soon"), {}, "--timeout: expected seconds"),
        (("get", "--tls-ca-file", "/nonexistent/ca.pem"), {}, "CA file not found"),
    ],
)
def test_bad_values_are_usage_errors(
    argv: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        resolve(parse(*argv), env)


def test_tls_options(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked here")
    options = resolve(parse("get", "--tls-ca-file", str(ca)), {})
    assert options.tls and options.tls_ca_file == str(ca) and options.tls_verify
    assert not resolve(parse("get", "--tls", "--tls-insecure"), {}).tls_verify
    assert not resolve(parse("get", "--tls"), {"BOLT_TLS_VERIFY": "false"}).tls_verify


def test_timeout_zero_means_none() -> None:
    assert resolve(parse("get", "--timeout", "0"), {}).timeout is None
    assert resolve(parse("get", "--timeout", "2.5"), {}).timeout == 2.5


def test_ipv6_address_is_bracketed() -> None:
    assert resolve(parse("--host", "::1", "get"), {}).address == "[::1]:8518"
