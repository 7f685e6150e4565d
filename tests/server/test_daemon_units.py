"""Parts of the daemon without an engine: latency, auth helpers, TLS config, the CLI parser."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import trio
import trio.testing

from bolt.cli.daemon import build_parser, main
from bolt.config import SETTINGS, Config
from bolt.errors import BadRequestError, ConfigError, TooLargeError
from bolt.server import (
    BUCKET_BOUNDS_SECONDS,
    MODE_DISABLED,
    MODE_PROTECTED,
    MODE_REQUIRED,
    BackOff,
    CommandCounters,
    PasswordChecker,
    ReadyInfo,
    Server,
    hash_password,
    is_loopback,
    percentile_seconds,
    resolve_security,
    server_ssl_context,
    verify_password,
)
from bolt.server._auth import check_password, check_role, check_user_name
from bolt.server._latency import BUCKET_COUNT, WINDOW_SECONDS, bucket_index, record_batch

# --- latency -----------------------------------------------------------------------------


def test_bucket_index_uses_le_bounds() -> None:
    assert bucket_index(0.0) == 0
    assert bucket_index(0.0001) == 0
    assert bucket_index(0.00011) == 1
    assert bucket_index(10.0) == len(BUCKET_BOUNDS_SECONDS) - 1
    assert bucket_index(99.0) == len(BUCKET_BOUNDS_SECONDS)  # +Inf


def test_percentiles_from_buckets() -> None:
    counts = [0] * BUCKET_COUNT
    assert percentile_seconds(counts, 0.5) == 0.0
    counts[bucket_index(0.0008)] = 99  # (0.0005, 0.001]
    counts[bucket_index(0.2)] = 1  # (0.1, 0.25]
    p50 = percentile_seconds(counts, 0.5)
    assert 0.0005 < p50 <= 0.001
    assert percentile_seconds(counts, 0.99) <= 0.001
    assert 0.1 < percentile_seconds(counts, 1.0) <= 0.25
    counts[-1] = 1000
    assert percentile_seconds(counts, 0.99) == BUCKET_BOUNDS_SECONDS[-1]


def test_record_batch_counts_each_request_once() -> None:
    get = CommandCounters("GET", "read")
    put = CommandCounters("PUT", "write")
    record_batch([get, put, get], 0.003)
    assert (get.calls, put.calls) == (2, 1)
    assert get.buckets[bucket_index(0.003)] == 2
    assert get.cumulative_buckets()[-1] == (float("inf"), 2)
    assert get.seconds_total == pytest.approx(0.006)
    assert sum(get.recent_counts()) == 2


def test_record_batch_counts_runs_of_one_command_and_mixed_ones_alike() -> None:
    get = CommandCounters("GET", "read")
    put = CommandCounters("PUT", "write")
    record_batch([get, get, put, put, put, get], 0.0004)
    record_batch([], 0.0004)
    assert (get.calls, put.calls) == (3, 3)
    assert put.buckets[bucket_index(0.0004)] == 3
    assert sum(put.window) == 3
    assert put.seconds_total == pytest.approx(0.0012)


@pytest.mark.trio
async def test_a_serving_server_rotates_the_latency_windows(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = Server(None, mode=MODE_PROTECTED)  # type: ignore[arg-type]  # no client comes
    ping = server.table["PING"]
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        record_batch([ping], 0.001)
        await trio.sleep(WINDOW_SECONDS * 1.5)
        assert sum(ping.window) == 0 and sum(ping.recent_counts()) == 1
        await trio.sleep(WINDOW_SECONDS)
        assert sum(ping.recent_counts()) == 0  # p50/p99 forget it after two windows
        assert ping.calls == 1
        server.shutdown()


# --- auth ------------------------------------------------------------------------------


def config(**values: object) -> Config:
    return Config(**values)  # type: ignore[arg-type]


def test_security_modes_and_default_hosts() -> None:
    assert resolve_security(config()) == (MODE_PROTECTED, "127.0.0.1")
    assert resolve_security(config(host="::1")) == (MODE_PROTECTED, "::1")
    assert resolve_security(config(admin_password="pw")) == (MODE_REQUIRED, "0.0.0.0")
    assert resolve_security(config(auth=True)) == (MODE_REQUIRED, "0.0.0.0")
    assert resolve_security(config(auth=False)) == (MODE_DISABLED, "127.0.0.1")
    assert resolve_security(config(auth=False, host="0.0.0.0")) == (MODE_DISABLED, "0.0.0.0")
    assert resolve_security(config(auth=False, admin_password="pw"))[0] == MODE_DISABLED
    with pytest.raises(ConfigError, match=r"BOLT_HOST='10\.0\.0\.1'.*BOLT_ADMIN_PASSWORD"):
        resolve_security(config(host="10.0.0.1"))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("::", False), ("example.com", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_password_hashes() -> None:
    stored = hash_password("correct horse", salt=b"0123456789abcdef")
    assert stored.startswith("scrypt$16384$8$1$30313233343536373839616263646566$")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert hash_password("correct horse") != hash_password("correct horse")  # random salt
    for broken in ("", "md5$x", "scrypt$a$b$c$d$e", stored.replace("$8$", "$999999$")):
        assert not verify_password("correct horse", broken)


@pytest.mark.trio
async def test_checker_remembers_successes_only(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = hash_password("right", salt=b"0123456789abcdef")
    runs: list[str] = []

    def counting_verify(password: str, stored_hash: str) -> bool:
        runs.append(password)
        return verify_password(password, stored_hash)

    monkeypatch.setattr("bolt.server._auth.verify_password", counting_verify)
    checker = PasswordChecker()
    assert await checker.verify("right", stored) and await checker.verify("right", stored)
    assert runs == ["right"]  # the second login did not pay the KDF again
    assert not await checker.verify("wrong", stored)
    assert not await checker.verify("wrong", stored)
    assert runs == ["right", "wrong", "wrong"]  # failures are never cached
    assert not await checker.verify("right", None)  # no such user: still one scrypt run
    assert runs == ["right", "wrong", "wrong", "right"]


def test_backoff_grows_and_resets() -> None:
    now = [100.0]
    backoff = BackOff(threshold=3, maximum_ms=1000, clock=lambda: now[0])
    waits = []
    for _ in range(8):
        wait = backoff.admit("10.0.0.1")
        assert wait is not None
        waits.append(wait)
        now[0] += wait  # the attempt waits its slot, then fails
        backoff.failed("10.0.0.1")
        backoff.finished("10.0.0.1")
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2, 0.4, 0.8, 1.0])
    assert backoff.admit("10.0.0.2") == 0.0  # per address
    backoff.finished("10.0.0.2")
    backoff.succeeded("10.0.0.1")
    assert backoff.failures("10.0.0.1") == 0
    assert backoff.admit("10.0.0.1") == 0.0


def test_backoff_is_shared_by_every_connection_of_an_address() -> None:
    now = [0.0]
    backoff = BackOff(threshold=3, maximum_ms=1000, queue_ms=3000, clock=lambda: now[0])
    for _ in range(10):
        backoff.failed("10.0.0.1")  # the delay is at its maximum, 1 s
    # 50 connections ask at the same moment: their checks are 1 s apart, and
    # those more than 3 s ahead are refused without a check.
    waits = [backoff.admit("10.0.0.1") for _ in range(50)]
    assert waits[:3] == [1.0, 2.0, 3.0]
    assert waits[3:] == [None] * 47
    assert backoff.admit("10.0.0.2") == 0.0


def test_a_burst_of_parallel_attempts_is_spaced_from_its_first() -> None:
    backoff = BackOff(threshold=3, maximum_ms=5000, queue_ms=10_000, clock=lambda: 0.0)
    # Nothing failed yet, but checks in flight count: the 4th waits already.
    waits = [backoff.admit("10.0.0.9") for _ in range(50)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    admitted = [w for w in waits if w is not None]
    assert admitted == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4])
    for _ in admitted:
        backoff.finished("10.0.0.9")
    assert backoff.admit("10.0.0.9") == 0.0  # all finished, none failed


def test_user_argument_checks() -> None:
    assert check_user_name("alice") == "alice"
    assert check_role("readonly") == "readonly"
    assert check_password("pw") == "pw"
    for bad_name in ("", 5, None, "tab\there"):
        with pytest.raises(BadRequestError):
            check_user_name(bad_name)
    with pytest.raises(TooLargeError):
        check_user_name("u" * 300)
    with pytest.raises(BadRequestError):
        check_password("")
    with pytest.raises(TooLargeError):
        check_password("p" * 2000)
    for bad_role in ("root", "ADMIN", None):
        with pytest.raises(BadRequestError):
            check_role(bad_role)


# --- TLS configuration ---------------------------------------------------------------------


def test_tls_is_off_without_files() -> None:
    assert server_ssl_context(config()) is None


def test_tls_configuration_errors_name_the_variable(tmp_path: Path) -> None:
    existing = tmp_path / "cert.pem"
    existing.write_text("not a certificate")
    with pytest.raises(ConfigError, match="BOLT_TLS_CERT is set but BOLT_TLS_KEY is not"):
        server_ssl_context(config(tls_cert=existing))
    with pytest.raises(ConfigError, match="BOLT_TLS_KEY is set but BOLT_TLS_CERT is not"):
        server_ssl_context(config(tls_key=existing))
    with pytest.raises(ConfigError, match=r"invalid BOLT_TLS_KEY=.*no such file"):
        server_ssl_context(config(tls_cert=existing, tls_key=tmp_path / "missing.key"))
    with pytest.raises(ConfigError, match="cannot load the certificate and key"):
        server_ssl_context(config(tls_cert=existing, tls_key=existing))


# --- the command line -------------------------------------------------------------------------


def test_parser_has_a_flag_per_setting() -> None:
    parser = build_parser()
    flags = {
        option: action
        for action in parser._actions
        if isinstance(action, argparse.Action)
        for option in action.option_strings
    }
    for setting in SETTINGS:
        action = flags["--" + setting.field.replace("_", "-")]
        assert action.dest == setting.field
        assert action.help is not None and setting.env in action.help
    args = parser.parse_args(["--wal-fsync", "always", "--port", "0"])
    assert (args.wal_fsync, args.port, args.host) == ("always", "0", None)


def test_main_reports_a_bad_flag_and_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOLT_PORT", raising=False)
    assert main(["--port", "eighty"]) == 2
    assert capsys.readouterr().err.startswith("bolt: invalid --port='eighty': ")
    monkeypatch.setenv("BOLT_METRICS_PORT", "-1")
    assert main([]) == 2
    assert "bolt: invalid BOLT_METRICS_PORT='-1'" in capsys.readouterr().err


def test_ready_line_format() -> None:
    info = ReadyInfo("0.0.0.0", 8518, 9091, "node1", MODE_REQUIRED, False)
    assert info.line() == "bolt ready: host=0.0.0.0 port=8518 metrics_port=9091 node_id=node1"
    off = ReadyInfo("127.0.0.1", 1, None, "n", MODE_PROTECTED, True)
    assert off.line().endswith("metrics_port=off node_id=n")
