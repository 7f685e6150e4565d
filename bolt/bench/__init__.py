"""The Bolt benchmark: a load generator for ``boltctl bench`` and ``scripts/bench.py``.

Worker processes drive many raw connections with pre-encoded requests
(:mod:`bolt.bench._worker`), so that the generator costs far less per
request than any server it measures; the tests are the seed's table (SET,
GET, MSET of 100 keys, MGET of 100 keys, INCR; :mod:`bolt.bench._workload`);
:mod:`bolt.bench._runner` runs them and :mod:`bolt.bench._report` turns the
measurements into throughput, p50 and p99.

Typical use::

    config = BenchConfig(Target("127.0.0.1", 8518), connections=50, pipeline=16)
    for result in run_benchmark(config):
        print(result.label, result.throughput, result.p99_ms)
"""

from bolt.bench._report import (
    COMPARE_COLUMNS,
    TABLE_COLUMNS,
    TestResult,
    compare_rows,
    format_ms,
    format_rate,
    percentile,
    ratio,
    table_rows,
)
from bolt.bench._runner import (
    PIPELINE_DEPTH_MAX,
    BenchConfig,
    Benchmark,
    ProgressCallback,
    default_processes,
    run_benchmark,
)
from bolt.bench._worker import DriveResult, Target, connect, drive
from bolt.bench._workload import WORKLOADS, Workload, build_frames, parse_tests, populate_frames

__all__ = [
    "COMPARE_COLUMNS",
    "PIPELINE_DEPTH_MAX",
    "TABLE_COLUMNS",
    "WORKLOADS",
    "BenchConfig",
    "Benchmark",
    "DriveResult",
    "ProgressCallback",
    "Target",
    "TestResult",
    "Workload",
    "build_frames",
    "compare_rows",
    "connect",
    "default_processes",
    "drive",
    "format_ms",
    "format_rate",
    "parse_tests",
    "percentile",
    "populate_frames",
    "ratio",
    "run_benchmark",
    "table_rows",
]
