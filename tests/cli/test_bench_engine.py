"""The load generator (bolt.bench) against the real floor server and raw sockets."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from array import array
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from bolt.bench import (
    WORKLOADS,
    BenchConfig,
    Benchmark,
    DriveResult,
    Target,
    build_frames,
    connect,
    drive,
    parse_tests,
    percentile,
    populate_frames,
    run_benchmark,
)
from bolt.bench._report import summarize
from bolt.bench._runner import pool_size
from bolt.errors import BoltConnectionError, BoltTimeoutError
from bolt.wire import Codec, Request

ROOT = Path(__file__).resolve().parents[2]


def decode_all(frames: list[bytes]) -> list[Request]:
    codec = Codec()
    codec.receive_data(b"".join(frames))
    messages = codec.next_messages()
    assert all(isinstance(message, Request) for message in messages)
    return messages  # type: ignore[return-value]


def test_frames_are_valid_requests_of_each_test() -> None:
    for name, command in (("set", "PUT"), ("get", "GET"), ("incr", "INCR")):
        requests = decode_all(
            build_frames(WORKLOADS[name], keyspace=1000, value_size=10, pool_size=50)
        )
        assert [r.id for r in requests] == list(range(1, 51))
        assert {r.command for r in requests} == {command}
    puts = decode_all(build_frames(WORKLOADS["set"], keyspace=1000, value_size=10, pool_size=5))
    assert all(len(r.args) == 2 and len(r.args[1]) == 10 for r in puts)
    assert all(r.args[0].startswith("bench:") for r in puts)
    incrs = decode_all(build_frames(WORKLOADS["incr"], keyspace=1000, value_size=10, pool_size=5))
    assert all(r.args[0].startswith("bench:counter:") for r in incrs)


def test_batch_frames_hold_100_distinct_keys() -> None:
    (mset,) = decode_all(
        build_frames(WORKLOADS["mset"], keyspace=1000, value_size=3, pool_size=1, database="d")
    )
    assert mset.command == "MSET" and len(mset.args) == 200 and mset.db == "d"
    assert len(set(mset.args[0::2])) == 100
    (mget,) = decode_all(build_frames(WORKLOADS["mget"], keyspace=1000, value_size=3, pool_size=1))
    assert len(set(mget.args)) == 100


def test_frames_are_repeatable_per_seed() -> None:
    first = build_frames(WORKLOADS["get"], keyspace=10_000, value_size=8, pool_size=20, seed=1)
    again = build_frames(WORKLOADS["get"], keyspace=10_000, value_size=8, pool_size=20, seed=1)
    other = build_frames(WORKLOADS["get"], keyspace=10_000, value_size=8, pool_size=20, seed=2)
    assert first == again and first != other


def test_populate_writes_every_key_once() -> None:
    requests = decode_all(populate_frames(keyspace=250, value_size=4))
    keys = [key for r in requests for key in r.args[0::2]]
    assert len(requests) == 3 and sorted(keys) == sorted(f"bench:{n}" for n in range(250))


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "no tests"), ("set,foo", "unknown test foo"), ("get,get", "named twice")],
)
def test_bad_test_lists_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_tests(text)
    assert [w.name for w in parse_tests(" MGET, set ")] == ["mget", "set"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"connections": 0}, "connections"),
        ({"pipeline": 0}, "pipeline"),
        ({"pipeline": 5000}, "pipeline"),
        ({"requests": 0}, "requests"),
        ({"value_size": -1}, "value size"),
        ({"keyspace": 10}, "keyspace"),
        ({"processes": 0}, "processes"),
        ({"tests": ()}, "no tests"),
    ],
)
def test_bad_configurations_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BenchConfig(Target("127.0.0.1", 1), **changes)  # type: ignore[arg-type]


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([3.0], 0.5) == 3.0
    assert percentile([], 0.5) == 0.0


def test_summary_spans_every_generator() -> None:
    one = DriveResult(2, 10.0, 11.0, array("d", [0.001, 0.003]), 0, None)
    two = DriveResult(2, 10.5, 12.0, array("d", [0.002, 0.004]), 1, "WRONGTYPE no")
    result = summarize(WORKLOADS["mset"], [one, two], connections=4, pipeline=2)
    assert result.requests == 4 and result.seconds == pytest.approx(2.0)
    assert result.throughput == pytest.approx(2.0)
    assert result.keys_per_second == pytest.approx(200.0)
    assert result.p50_ms == pytest.approx(2.0) and result.max_ms == pytest.approx(4.0)
    assert result.errors == 1 and result.first_error == "WRONGTYPE no"


def test_pool_is_bounded_and_deeper_than_the_pipeline() -> None:
    assert pool_size(WORKLOADS["set"], 1, 16) == 4096
    assert pool_size(WORKLOADS["set"], 1000, 8_000_000) == 1001
    assert pool_size(WORKLOADS["mset"], 1, 16) == 256


@pytest.fixture
def floor_sockets(floor_port: int) -> Iterator[list[socket.socket]]:
    sockets = [connect(Target("127.0.0.1", floor_port)) for _ in range(3)]
    try:
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.parametrize("depth", [1, 7])
def test_drive_gets_every_reply(floor_sockets: list[socket.socket], depth: int) -> None:
    pool = build_frames(WORKLOADS["get"], keyspace=100, value_size=8, pool_size=64)
    progress = SimpleNamespace(value=0)
    result = drive(floor_sockets, pool, 1001, depth, timeout=10, progress=progress)
    assert result.requests == 1001 == len(result.latencies) == progress.value
    assert result.errors == 0 and result.first_error is None
    assert result.finished > result.started
    assert min(result.latencies) > 0


def test_drive_survives_partial_writes(floor_sockets: list[socket.socket]) -> None:
    pool = build_frames(WORKLOADS["mset"], keyspace=1000, value_size=20_000, pool_size=4)
    result = drive(floor_sockets[:2], pool, 24, 3, timeout=20)  # 2 MB per request
    assert result.requests == 24 and result.errors == 0


def test_drive_counts_error_replies(floor_sockets: list[socket.socket]) -> None:
    from bolt.wire import encode_request

    pool = [encode_request(n + 1, "NOSUCH", [], None) for n in range(8)]
    result = drive(floor_sockets, pool, 30, 2, timeout=10)
    assert result.requests == 30 and result.errors == 30
    assert result.first_error is not None and result.first_error.startswith("UNKNOWN_COMMAND")


def test_drive_refuses_a_pool_not_deeper_than_the_pipeline(
    floor_sockets: list[socket.socket],
) -> None:
    with pytest.raises(ValueError, match="depth"):
        drive(floor_sockets, [b"x", b"y"], 10, 2, timeout=1)


def test_drive_times_out_on_a_silent_server() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        try:
            pool = build_frames(WORKLOADS["get"], keyspace=100, value_size=1, pool_size=4)
            with pytest.raises(BoltTimeoutError, match="no reply"):
                drive([client], pool, 5, 1, timeout=0.3)
        finally:
            client.close()


def test_drive_reports_a_closed_connection() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        accepted.close()
        try:
            pool = build_frames(WORKLOADS["get"], keyspace=100, value_size=1, pool_size=4)
            with pytest.raises(BoltConnectionError):
                drive([client], pool, 5, 1, timeout=5)
        finally:
            client.close()


def test_drive_counts_an_empty_reply_frame_as_an_undecodable_reply() -> None:
    """A zero-length frame (invalid) ending the buffer is a bad reply, not an IndexError."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        codec = Codec()

        def answer_with_empty_frames() -> None:
            answered = 0
            while answered < 3:
                data = accepted.recv(65536)
                if not data:
                    return
                codec.receive_data(data)
                for _ in codec.next_messages():
                    accepted.sendall(b"\x00\x00\x00\x00")
                    answered += 1

        responder = threading.Thread(target=answer_with_empty_frames, daemon=True)
        responder.start()
        try:
            pool = build_frames(WORKLOADS["get"], keyspace=100, value_size=1, pool_size=4)
            result = drive([client], pool, 3, 1, timeout=5)
            assert result.requests == 3 and result.errors == 3
            assert result.first_error is not None
            assert result.first_error.startswith("undecodable reply")
        finally:
            responder.join(timeout=5)
            client.close()
            accepted.close()


def test_run_benchmark_with_two_processes(floor_port: int) -> None:
    config = BenchConfig(
        Target("127.0.0.1", floor_port),
        connections=5,
        pipeline=4,
        requests=2000,
        batch_requests=101,
        keyspace=500,
        processes=2,
    )
    seen: list[str] = []
    results = run_benchmark(config, on_result=lambda result: seen.append(result.test))
    assert seen == ["set", "get", "mset", "mget", "incr"]
    by_test = {result.test: result for result in results}
    assert by_test["set"].requests == 2000 and by_test["mget"].requests == 101
    for result in results:
        assert result.errors == 0 and result.throughput > 0
        assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms


def test_benchmark_reports_an_unreachable_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = BenchConfig(Target("127.0.0.1", port, timeout=2), connections=2, processes=1)
    with pytest.raises(BoltConnectionError, match=str(port)), Benchmark(config):
        pass


def test_bench_script_against_the_floor(floor_port: int) -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--port", str(floor_port),
         "--requests", "500", "-c", "4", "-t", "set,mget"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].startswith(f"127.0.0.1:{floor_port}: 4 connections, pipeline 1")
    assert lines[1].split() == ["Operation", "Throughput", "Latency", "(p50)", "Latency", "(p99)",
                                "Errors"]  # fmt: skip
    assert lines[3].startswith("SET") and lines[4].startswith("MGET (100 keys)")
    assert "SET:" in completed.stderr  # a plain progress line per test when not a TTY
