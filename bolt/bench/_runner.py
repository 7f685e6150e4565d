"""Running the benchmark: worker processes, one test after another, the numbers.

Theory of operation
-------------------
On a small machine the load generator competes with the server for CPU, so
it must be cheap per request and must not be what limits the result. The
:class:`Benchmark` starts ``processes`` worker processes (``spawn``, so no
state leaks in from the parent) that each own a share of the connections,
greeted once and reused by every test. A test runs in two steps so that no
generator starts early: every worker *prepares* (encodes its pool of
requests, see :mod:`bolt.bench._workload`), and only when all are ready
does each get *go* with its share of the requests. While they run, the
parent only polls their shared progress counters (for the display).

Throughput is all replies divided by the span from the first worker's start
to the last one's finish (``time.monotonic`` is system-wide on Linux, so
the workers' clocks agree). Latency percentiles are nearest-rank over every
request of every worker. The same generator drives the floor server and
Bolt, so their ratio measures the server, not the client.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from types import TracebackType
from typing import Any, Self

from bolt import limits
from bolt.bench._report import TestResult, summarize
from bolt.bench._worker import DriveResult, Target, call_all, connect, worker_main
from bolt.bench._workload import WORKLOADS, Workload, populate_frames
from bolt.errors import BoltConnectionError, BoltError, error_from_code
from bolt.wire import format_address

ProgressCallback = Callable[[Workload, int, int], None]
"""``(workload, replies so far, requests in all)``, called a few times a second."""

POOL_FRAMES_SINGLE = 4096
POOL_FRAMES_BATCH = 256
POOL_BYTES_MAX = 64 * limits.MIB
PROGRESS_INTERVAL_SECONDS = 0.1
PIPELINE_DEPTH_MAX = 1000


def default_processes() -> int:
    """Worker processes by default: half the CPUs (one on a 2-core machine), 1 to 4."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


@dataclass(frozen=True)
class BenchConfig:
    """What to run and against which server.

    Attributes:
        target: the server and credentials.
        tests: the workloads, in order.
        connections: connections in all (shared among the processes).
        pipeline: requests in flight per connection.
        requests: requests per single-key test (SET, GET, INCR).
        batch_requests: requests per batch test (MSET, MGET); default
            ``requests // 10``.
        value_size: bytes per value written.
        keyspace: distinct keys used.
        processes: worker processes.
        seed: makes the key choice repeatable.
    """

    target: Target
    tests: tuple[Workload, ...] = tuple(WORKLOADS.values())
    connections: int = 50
    pipeline: int = 1
    requests: int = 100_000
    batch_requests: int | None = None
    value_size: int = 16
    keyspace: int = 10_000
    processes: int = field(default_factory=default_processes)
    seed: int = 0

    def __post_init__(self) -> None:
        checks = (
            (self.connections >= 1, "connections must be at least 1"),
            (
                1 <= self.pipeline <= PIPELINE_DEPTH_MAX,
                f"pipeline must be between 1 and {PIPELINE_DEPTH_MAX}",
            ),
            (self.requests >= 1, "requests must be at least 1"),
            (self.batch_requests is None or self.batch_requests >= 1,
             "batch requests must be at least 1"),
            (0 <= self.value_size <= limits.value_bytes_max,
             f"value size must be between 0 and {limits.value_bytes_max}"),
            (self.keyspace >= 100, "keyspace must be at least 100 keys"),
            (self.processes >= 1, "processes must be at least 1"),
            (bool(self.tests), "no tests chosen"),
        )  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def requests_for(self, workload: Workload) -> int:
        """How many requests ``workload`` sends."""
        if workload.keys_per_request == 1:
            return self.requests
        if self.batch_requests is not None:
            return self.batch_requests
        return max(1, self.requests // 10)


def _shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal whole shares."""
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def pool_size(workload: Workload, depth: int, value_size: int) -> int:
    """Frames to pre-encode for ``workload``: enough variety, bounded memory, > depth."""
    frame_bytes = workload.keys_per_request * (value_size + 32) + 32
    wanted = POOL_FRAMES_SINGLE if workload.keys_per_request == 1 else POOL_FRAMES_BATCH
    return max(depth + 1, min(wanted, POOL_BYTES_MAX // frame_bytes))


def _raise_reported(kind: str, code: int, message: str, target: Target) -> None:
    if kind == "bolt":
        raise error_from_code(code, message)
    if kind == "os":
        raise BoltConnectionError(f"{format_address(target.host, target.port)}: {message}")
    raise BoltError(message)


class Benchmark:
    """Worker processes connected to one server, ready to run tests.

    Use as a context manager: entering starts the workers and waits until
    every connection is greeted; leaving stops them (killing any that hang).

    Raises (on entering):
        BoltConnectionError: the server is unreachable.
        AuthenticationError: the credentials were refused.
    """

    def __init__(self, config: BenchConfig) -> None:
        self.config = config
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[tuple[Any, Connection, Any]] = []
        self._populated = False

    def __enter__(self) -> Self:
        config = self.config
        processes = min(config.processes, config.connections)
        try:
            for connections in _shares(config.connections, processes):
                parent_end, child_end = self._context.Pipe()
                progress = self._context.Value("q", 0, lock=False)
                process = self._context.Process(
                    target=worker_main,
                    args=(config.target, connections, child_end, progress),
                    name="bolt-bench-worker",
                    daemon=True,
                )
                process.start()
                child_end.close()
                self._workers.append((process, parent_end, progress))
            self._gather("ready", None)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker (politely, then by force)."""
        for _, channel, _ in self._workers:
            try:
                channel.send(("stop",))
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 5
        for process, channel, _ in self._workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
            channel.close()
        self._workers.clear()

    def _gather(
        self,
        expected: str,
        on_tick: Callable[[], None] | None,
        channels: list[Connection] | None = None,
    ) -> list[Any]:
        """Wait for one ``expected`` message from each channel (default: every worker).

        Returns:
            The messages' payloads, in the order of ``channels``.

        Raises:
            BoltError: the error a worker reported (rebuilt with its class),
                or a worker died.
        """
        if channels is None:
            channels = [channel for _, channel, _ in self._workers]
        answers: dict[int, Any] = {}
        while len(answers) < len(channels):
            waiting = [channel for channel in channels if id(channel) not in answers]
            for ready in wait(waiting, timeout=PROGRESS_INTERVAL_SECONDS):
                assert isinstance(ready, Connection)
                try:
                    message = ready.recv()
                except EOFError:
                    raise BoltError("a benchmark worker process died") from None
                if message[0] == "error":
                    _raise_reported(message[1], message[2], message[3], self.config.target)
                if message[0] != expected:
                    raise BoltError(f"benchmark worker sent {message[0]!r}, not {expected!r}")
                answers[id(ready)] = message[1] if len(message) > 1 else None
            if on_tick is not None:
                on_tick()
        return [answers[id(channel)] for channel in channels]

    def populate(self) -> None:
        """Write every key of the keyspace once (so GET and MGET find values)."""
        config = self.config
        frames = populate_frames(
            keyspace=config.keyspace,
            value_size=config.value_size,
            database=config.target.database,
            seed=config.seed,
        )
        sock = connect(config.target, config.target.ssl_context())
        try:
            call_all(sock, frames)
        finally:
            sock.close()
        self._populated = True

    def run(self, workload: Workload, on_progress: ProgressCallback | None = None) -> TestResult:
        """Run one test and return its numbers (populating the keyspace first if needed)."""
        config = self.config
        if workload.reads_data and not self._populated:
            self.populate()
        total = config.requests_for(workload)
        size = pool_size(workload, config.pipeline, config.value_size)
        for index, (_, channel, _) in enumerate(self._workers):
            options = {
                "test": workload.name,
                "keyspace": config.keyspace,
                "value_size": config.value_size,
                "pool_size": size,
                "database": config.target.database,
                "seed": config.seed + index,
            }
            channel.send(("prepare", options))
        self._gather("prepared", None)
        shares = _shares(total, len(self._workers))
        running = []
        for share, (_, channel, _) in zip(shares, self._workers, strict=True):
            if share:
                channel.send(("go", share, config.pipeline))
                running.append(channel)

        def tick() -> None:
            if on_progress is not None:
                done = sum(int(progress.value) for _, _, progress in self._workers)
                on_progress(workload, done, total)

        results: list[DriveResult] = self._gather("done", tick, running)
        tick()
        return summarize(workload, results, config.connections, config.pipeline)


def run_benchmark(
    config: BenchConfig,
    on_progress: ProgressCallback | None = None,
    on_result: Callable[[TestResult], None] | None = None,
) -> list[TestResult]:
    """Run every test of ``config`` in order.

    Args:
        config: what to run.
        on_progress: called a few times a second during each test.
        on_result: called with each test's numbers as soon as it is done.

    Returns:
        One result per test.

    Raises:
        BoltConnectionError: the server is unreachable or a connection broke.
        BoltTimeoutError: the server stopped answering.
        AuthenticationError: the credentials were refused.
    """
    results = []
    with Benchmark(config) as bench:
        for workload in config.tests:
            result = bench.run(workload, on_progress)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results
