"""Run ``redis-benchmark`` against Bolt's RESP port and a real ``redis-server``, in one run.

Usage::

    python scripts/vs_redis.py [-n 100000] [-c 50] [--pipelines 1,16] [--fsync batch]
    python scripts/vs_redis.py --serve-floor PORT   # the floor server alone

Starts a ``redis-server`` (persistence off) and a ``bolt`` node (its durable
log on, ``BOLT_WAL_FSYNC`` as given) on free ports in a temporary directory,
runs ``redis-benchmark -t set,get,incr,lpush,rpush,lpop,sadd,mset -n N -c C``
against each -- unpipelined and with ``-P 16`` -- and prints both tables and
Bolt's throughput as a ratio of redis-server's. A third server, the *floor*,
shows how far this stack can go: a trio server that parses RESP with Bolt's
own codec and answers ``+OK`` to every command, doing no other work (the
same idea as ``scripts/floor_server.py`` for the Bolt protocol); Bolt/floor
is what the engine and the command mapping cost. The servers are measured
alternately in the same run, so the ratios hold on a noisy, shared machine
better than the absolute numbers do. Needs ``redis-server`` and
``redis-benchmark`` on PATH (``apt-get install redis-server redis-tools``).
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio

from bolt.errors import ProtocolError
from bolt.testing import BoltDaemon
from bolt.wire._resp import RespCodec

TESTS = "set,get,incr,lpush,rpush,lpop,sadd,mset"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.sendall(b"PING\r\n")
                if probe.recv(16).startswith(b"+PONG"):
                    return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")


def start_bolt(directory: Path, fsync: str) -> tuple[BoltDaemon, int]:
    daemon = BoltDaemon.start(directory, env={"BOLT_WAL_FSYNC": fsync}, args=["--resp-port", "0"])
    line = daemon.wait_for_stderr(r"resp_port=\d+", timeout=10)
    return daemon, int(line.rsplit("resp_port=", 1)[1].split()[0])


async def _floor_connection(stream: trio.SocketStream) -> None:
    codec = RespCodec()
    try:
        while True:
            data = await stream.receive_some(256 * 1024)
            if not data:
                return
            codec.receive_data(data)
            count = len(codec.next_commands())
            if count:
                await stream.send_all(b"+OK\r\n" * count)
    except (trio.BrokenResourceError, ProtocolError):
        return


def serve_floor(port: int) -> None:
    """Run the floor server on ``port`` until killed."""
    trio.run(trio.serve_tcp, _floor_connection, port)


def start_floor() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-floor", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the floor server did not start")


def benchmark(port: int, requests: int, clients: int, pipeline: int) -> dict[str, float]:
    """``redis-benchmark --csv`` → {test name: requests per second}."""
    command = [
        "redis-benchmark",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-t",
        TESTS,
        "-n",
        str(requests),
        "-c",
        str(clients),
        "-P",
        str(pipeline),
        "--csv",
    ]
    output = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=True)
    results: dict[str, float] = {}
    for row in csv.reader(io.StringIO(output.stdout)):
        if len(row) >= 2 and row[0] != "test":
            try:
                results[row[0]] = float(row[1])
            except ValueError:
                continue
    return results


def table(
    title: str, redis_rps: dict[str, float], bolt_rps: dict[str, float], floor: dict[str, float]
) -> str:
    lines = [
        title,
        "| test | redis-server ops/s | floor ops/s | bolt ops/s | bolt / redis | bolt / floor |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    to_redis: list[float] = []
    to_floor: list[float] = []
    for test, theirs in redis_rps.items():
        ours = bolt_rps.get(test, 0.0)
        limit = floor.get(test, 0.0)
        to_redis.append(ours / theirs if theirs else 0.0)
        to_floor.append(ours / limit if limit else 0.0)
        lines.append(
            f"| {test} | {theirs:,.0f} | {limit:,.0f} | {ours:,.0f} | "
            f"{to_redis[-1]:.2f} | {to_floor[-1]:.2f} |"
        )
    if to_redis:
        lines.append(
            f"| mean | | | | {sum(to_redis) / len(to_redis):.2f} | "
            f"{sum(to_floor) / len(to_floor):.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--requests", type=int, default=100_000)
    parser.add_argument("-c", "--clients", type=int, default=50)
    parser.add_argument("--pipelines", default="1,16", help="comma-separated -P values")
    parser.add_argument("--fsync", default="batch", choices=("batch", "always", "off"))
    parser.add_argument("--serve-floor", type=int, metavar="PORT", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.serve_floor:
        serve_floor(options.serve_floor)
        return 0
    for binary in ("redis-server", "redis-benchmark"):
        if shutil.which(binary) is None:
            print(f"vs_redis: {binary} is not installed", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="vs-redis-") as temporary:
        directory = Path(temporary)
        (directory / "redis").mkdir()
        redis_process, redis_port = start_redis(directory / "redis")
        bolt, bolt_port = start_bolt(directory / "bolt", options.fsync)
        floor_process, floor_port = start_floor()
        try:
            for pipeline in (int(p) for p in options.pipelines.split(",")):
                theirs = benchmark(redis_port, options.requests, options.clients, pipeline)
                floor = benchmark(floor_port, options.requests, options.clients, pipeline)
                ours = benchmark(bolt_port, options.requests, options.clients, pipeline)
                title = (
                    f"\nredis-benchmark -t {TESTS} -n {options.requests} -c {options.clients}"
                    f" -P {pipeline}  (bolt BOLT_WAL_FSYNC={options.fsync})"
                )
                print(table(title, theirs, ours, floor), flush=True)
        finally:
            bolt.kill()
            floor_process.kill()
            floor_process.wait(10)
            redis_process.kill()
            redis_process.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
