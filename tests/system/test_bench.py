"""``boltctl bench`` and ``scripts/compare.py`` against a real daemon."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bolt.testing import BoltDaemon, clean_environment

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "bench-secret"
ROW = re.compile(
    r"^(?P<label>SET|GET|MSET \(100 keys\)|MGET \(100 keys\)|INCR)\s+"
    r"(?P<rate>[\d,]+) (?P<unit>ops/s|batch/s)\s+(?P<p50>[\d.]+)ms\s+(?P<p99>[\d.]+)ms\s+"
    r"(?P<errors>\d+)$"
)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoltDaemon]:
    data_dir = tmp_path_factory.mktemp("bench-node")
    with BoltDaemon.start(data_dir, env={"BOLT_ADMIN_PASSWORD": PASSWORD}) as running:
        yield running


def bench(
    daemon: BoltDaemon, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bolt.cli.boltctl", "bench", *args],
        capture_output=True,
        text=True,
        env=clean_environment({**daemon.env_for_cli(), **(env or {})}),
        timeout=120,
        check=False,
    )


def test_bench_prints_the_seed_table(daemon: BoltDaemon) -> None:
    completed = bench(daemon, "--requests", "3000", "--batch-requests", "200", "-c", "8")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == (
        f"127.0.0.1:{daemon.port}: 8 connections, pipeline 1, 16-byte values, 1 process"
    )
    rows = [match.groupdict() for line in lines if (match := ROW.match(line))]
    assert [row["label"] for row in rows] == [
        "SET", "GET", "MSET (100 keys)", "MGET (100 keys)", "INCR"
    ]  # fmt: skip
    for row in rows:
        assert int(row["rate"].replace(",", "")) > 0
        assert 0 < float(row["p50"]) <= float(row["p99"])
        assert row["errors"] == "0"
    assert completed.stderr.count("requests in") == 5  # a plain progress line per test


def test_bench_json_with_pipelining(daemon: BoltDaemon) -> None:
    completed = bench(
        daemon, "--json", "-P", "8", "-c", "4", "--requests", "2000", "-t", "set,get", "-d", "64"
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert (document["pipeline"], document["connections"], document["value_size"]) == (8, 4, 64)
    results = {result["test"]: result for result in document["results"]}
    assert set(results) == {"set", "get"}
    for result in results.values():
        assert result["requests"] == 2000 and result["errors"] == 0
        assert result["throughput"] > 0
        assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]


def test_bench_reports_refused_writes(daemon: BoltDaemon) -> None:
    with daemon.client() as client:
        client.useradd("reader", "reader-pass", "readonly")
    completed = bench(
        daemon,
        "--requests", "300", "-c", "2", "-t", "set",
        env={"BOLT_USER": "reader", "BOLT_PASSWORD": "reader-pass"},
    )  # fmt: skip
    assert completed.returncode == 3
    assert "300 error replies, first: NO_PERMISSION" in completed.stderr
    wrong = bench(daemon, "--requests", "10", "-t", "get", env={"BOLT_PASSWORD": "nope"})
    assert wrong.returncode == 3 and "AUTH_FAILED" in wrong.stderr


def test_bench_usage_errors(daemon: BoltDaemon) -> None:
    for args in (["-t", "set,nope"], ["-P", "0"], ["-c", "0"]):
        completed = bench(daemon, *args)
        assert completed.returncode == 2 and "error" in completed.stderr
        assert completed.stdout == ""


def test_bench_against_nothing_exits_4(daemon: BoltDaemon) -> None:
    completed = bench(daemon, "--requests", "10", env={"BOLT_PORT": "1"})
    assert completed.returncode == 4 and "CONNECTION_ERROR" in completed.stderr


def test_compare_script_runs_both_servers(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compare.py"), "--json", "--pipelines", "1,4",
         "-t", "set,get", "--requests", "2000", "-c", "10"],
        capture_output=True, text=True, timeout=180, check=False,
        env=clean_environment({}),
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    for depth in ("1", "4"):
        for server in ("bolt", "floor"):
            results = document["depths"][depth][server]
            assert [result["test"] for result in results] == ["set", "get"]
            assert all(r["throughput"] > 0 and r["errors"] == 0 for r in results)
    assert document["targets"] == []  # targets apply at 50 connections only


def _load_compare() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("compare_script", ROOT / "scripts" / "compare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _measured(compare: object, throughput: float, p99_ms: float, test: str = "get") -> object:
    from bolt.bench import WORKLOADS, TestResult

    result = TestResult(
        test, WORKLOADS[test].label, "ops/s", 1, 0, None, 1.0, throughput, throughput,
        1.0, p99_ms, 1.0, 1.0, 1.0, 50, 1,
    )  # fmt: skip
    return compare.Measured(result, None, None)  # type: ignore[attr-defined]


def test_compare_reports_one_round_the_median_ratio_round() -> None:
    """Floor and Bolt figures come from the same round: the one with the median ratio."""
    compare: object = _load_compare()

    def run(throughput: float, p99_ms: float) -> object:
        return _measured(compare, throughput, p99_ms)

    floors = [run(100.0, 1.0), run(200.0, 2.0), run(150.0, 3.0)]
    bolts = [run(90.0, 10.0), run(100.0, 20.0), run(120.0, 30.0)]  # ratios 0.9, 0.5, 0.8
    floor, bolt = compare.median_round(floors, bolts)  # type: ignore[attr-defined]
    assert (floor.result.p99_ms, bolt.result.p99_ms) == (3.0, 30.0)  # round 3: ratio 0.8


def test_compare_checks_the_readme_targets() -> None:
    """SET/GET at 50 connections: >= 0.8 x floor and p99 < 5 ms at depth 1, >= 0.6 x at 16."""
    compare: object = _load_compare()
    check = compare.check_targets  # type: ignore[attr-defined]
    floors = [_measured(compare, 100.0, 1.0, "set"), _measured(compare, 100.0, 1.0, "get"),
              _measured(compare, 100.0, 1.0, "incr")]  # fmt: skip
    bolts = [_measured(compare, 80.0, 4.9, "set"), _measured(compare, 79.0, 5.0, "get"),
             _measured(compare, 1.0, 99.0, "incr")]  # fmt: skip
    assert [met for _, met in check(1, floors, bolts, 50)] == [True, True, False, False]
    assert [met for _, met in check(16, floors, bolts, 50)] == [True, True]
    assert check(4, floors, bolts, 50) == []
    assert check(1, floors, bolts, 49) == []


def test_compare_passes_bolt_env_settings_to_its_daemon() -> None:
    """A limit of 2 connections reaches the daemon: 4 connections are refused."""
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compare.py"), "--pipelines", "1", "-t", "get",
         "--requests", "100", "-c", "4", "--bolt-env", "BOLT_MAX_CONNECTIONS=2"],
        capture_output=True, text=True, timeout=120, check=False,
        env=clean_environment({}),
    )  # fmt: skip
    assert completed.returncode == 1
    assert completed.stderr.startswith("compare.py: TOO_MANY_CONNECTIONS: too many connections")


def test_compare_refuses_a_bolt_env_that_is_not_a_bolt_setting() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compare.py"), "--bolt-env", "PORT=1"],
        capture_output=True, text=True, timeout=60, check=False,
        env=clean_environment({}),
    )  # fmt: skip
    assert completed.returncode == 2
    assert "--bolt-env takes BOLT_NAME=VALUE, not 'PORT=1'" in completed.stderr


def test_loop_server_serves_bolts_loop_with_no_engine_work() -> None:
    """scripts/loop_server.py answers like a server (canned GET value, writes
    acknowledged) and compare.py can measure it against the floor."""
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "loop_server.py"), "--port", "0",
         "--value-size", "8"],
        stderr=subprocess.PIPE, text=True, env=clean_environment({}),
    )  # fmt: skip
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        match = re.search(r"loop ready: host=\S+ port=(\d+)", line)
        assert match, line
        port = match.group(1)
        completed = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "compare.py"), "--json", "--pipelines", "1",
             "-t", "set,get", "--requests", "500", "-c", "4", "--bolt", f"127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=120, check=False,
            env=clean_environment({}),
        )  # fmt: skip
        assert completed.returncode == 0, completed.stderr
        results = json.loads(completed.stdout)["depths"]["1"]["bolt"]
        assert [r["test"] for r in results] == ["set", "get"]
        assert all(r["requests"] == 500 and r["errors"] == 0 for r in results)
        got = subprocess.run(
            [sys.executable, "-m", "bolt.cli.boltctl", "-p", port, "get", "anything"],
            capture_output=True, text=True, timeout=30, check=False, env=clean_environment({}),
        )  # fmt: skip
        assert got.returncode == 0 and len(got.stdout.strip()) == 8, (got.stdout, got.stderr)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stderr is not None:
            server.stderr.close()
