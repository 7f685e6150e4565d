"""``boltctl bench``: the seed's benchmark table against a running server.

Theory of operation
-------------------
This module is the command-line face of :mod:`bolt.bench`: it declares the
options (:func:`register` for ``boltctl``, :func:`main` for
``scripts/bench.py``), turns them into a :class:`~bolt.bench.BenchConfig`,
shows progress while the tests run (a rich progress bar when stderr is a
terminal, one plain line per finished test otherwise) and prints the table
(SET, GET, MSET 100 keys, MGET 100 keys, INCR: throughput, p50, p99) on
stdout, or JSON with ``--json``. The heavy imports (the load generator,
rich) happen only when a benchmark runs.

Exit status: 0; 2 bad options; 3 the server answered some requests with
errors (the table shows how many; the first is printed); 4 the server could
not be reached, stopped answering or does not speak Bolt (the same rule as
every ``boltctl`` command, :func:`bolt.cli._run.report_failure`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bolt.cli._connect import UsageError, add_connection_options, resolve
from bolt.cli._run import EXIT_OK, EXIT_REFUSED, report_error, report_failure, usage_error
from bolt.errors import BoltError

if TYPE_CHECKING:
    from bolt.bench import BenchConfig, TestResult

DESCRIPTION = """\
Benchmark a running Bolt server: the seed's table (SET, GET, MSET of 100 keys,
MGET of 100 keys, INCR) with throughput, p50 and p99 latency.

Worker processes keep --pipeline requests in flight on each of --connections
connections, sending pre-encoded requests over raw sockets so the generator
costs less per request than the server it measures. Keys are bench:<n> and
bench:counter:<n> (left in place); GET and MGET run after the keyspace was
written once."""


def add_bench_options(parser: argparse.ArgumentParser) -> None:
    """Declare the benchmark's own options on ``parser``."""
    from bolt.bench._runner import PIPELINE_DEPTH_MAX, default_processes

    group = parser.add_argument_group("load")
    group.add_argument(
        "-c", "--connections", type=int, default=50, help="connections in all (default 50)"
    )
    group.add_argument(
        "-P",
        "--pipeline",
        type=int,
        default=1,
        help=f"requests in flight per connection, 1-{PIPELINE_DEPTH_MAX} (default 1)",
    )
    group.add_argument(
        "--requests",
        type=int,
        default=100_000,
        help="requests per SET/GET/INCR test (default 100000)",
    )
    group.add_argument(
        "--batch-requests",
        type=int,
        default=None,
        help="requests per MSET/MGET test (default: --requests / 10)",
    )
    group.add_argument(
        "-d", "--value-size", type=int, default=16, help="bytes per value (default 16)"
    )
    group.add_argument(
        "-t",
        "--tests",
        default="set,get,mset,mget,incr",
        help="comma-separated tests, in order (default set,get,mset,mget,incr)",
    )
    group.add_argument(
        "--processes",
        type=int,
        default=default_processes(),
        help=f"load-generating processes (default {default_processes()}: half the CPUs)",
    )
    group.add_argument(
        "--keyspace", type=int, default=10_000, help="distinct keys used (default 10000)"
    )
    group.add_argument("--seed", type=int, default=0, help="seed of the key choice")


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand to ``boltctl``'s subparsers."""
    parser = subparsers.add_parser(
        "bench",
        help="benchmark a running server (the README table)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  boltctl bench -c 50 -P 16 --requests 200000 -t set,get",
    )
    add_bench_options(parser)
    add_connection_options(parser, suppress=True)
    parser.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """A validated benchmark configuration from parsed options.

    Raises:
        UsageError: an option is out of range or a test name is unknown.
    """
    from bolt.bench import BenchConfig, Target, parse_tests

    options = resolve(args)
    try:
        tests = tuple(parse_tests(args.tests))
        return BenchConfig(
            target=Target(
                host=options.host,
                port=options.port,
                user=options.user,
                password=options.password,
                database=options.database,
                tls=options.tls,
                tls_ca_file=options.tls_ca_file,
                tls_verify=options.tls_verify,
                timeout=options.timeout or 60.0,
            ),
            tests=tests,
            connections=args.connections,
            pipeline=args.pipeline,
            requests=args.requests,
            batch_requests=args.batch_requests,
            value_size=args.value_size,
            keyspace=args.keyspace,
            processes=args.processes,
            seed=args.seed,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def describe(config: BenchConfig) -> str:
    """One line saying what is measured."""
    target = config.target
    processes = min(config.processes, config.connections)
    return (
        f"{target.host}:{target.port}{' (TLS)' if target.tls else ''}: "
        f"{config.connections} connections, pipeline {config.pipeline}, "
        f"{config.value_size}-byte values, {processes} process{'es' if processes > 1 else ''}"
    )


def run_with_display(config: BenchConfig, stream: Any = None) -> list[TestResult]:
    """Run the benchmark, showing progress on ``stream`` (default stderr)."""
    from bolt.bench import format_ms, format_rate, run_benchmark

    stream = sys.stderr if stream is None else stream
    if not stream.isatty():

        def line(result: TestResult) -> None:
            stream.write(
                f"{result.label}: {format_rate(result.throughput, result.unit)}, "
                f"p50 {format_ms(result.p50_ms)}, p99 {format_ms(result.p99_ms)}, "
                f"{result.requests} requests in {result.seconds:.2f} s\n"
            )
            stream.flush()

        return run_benchmark(config, on_result=line)

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bars: dict[str, Any] = {}
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=stream),
        transient=False,
    ) as progress:

        def advance(workload: Any, done: int, total: int) -> None:
            if workload.name not in bars:
                bars[workload.name] = progress.add_task(workload.label, total=total)
            progress.update(bars[workload.name], completed=done)

        return run_benchmark(config, on_progress=advance)


def print_results(config: BenchConfig, results: Sequence[TestResult], as_json: bool) -> None:
    """The table (or JSON) on stdout."""
    from bolt.bench import TABLE_COLUMNS, table_rows
    from bolt.cli._output import write_table

    if as_json:
        document = {
            "target": f"{config.target.host}:{config.target.port}",
            "connections": config.connections,
            "pipeline": config.pipeline,
            "value_size": config.value_size,
            "processes": min(config.processes, config.connections),
            "results": [result.to_dict() for result in results],
        }
        sys.stdout.write(json.dumps(document) + "\n")
        return
    write_table(describe(config), TABLE_COLUMNS, table_rows(results), sys.stdout)


def run(args: argparse.Namespace) -> int:
    """The ``bench`` subcommand: returns the exit status."""
    as_json = bool(getattr(args, "json", False))
    try:
        config = config_from_args(args)
        results = run_with_display(config)
    except UsageError as exc:
        return usage_error(str(exc))
    except BoltError as exc:
        return report_failure(exc, as_json)
    print_results(config, results, as_json)
    failed = [result for result in results if result.errors]
    for result in failed:
        report_error(
            BoltError(
                f"{result.label}: {result.errors} error replies, first: {result.first_error}"
            ),
            as_json,
        )
    return EXIT_REFUSED if failed else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python scripts/bench.py``: the same as ``boltctl bench``."""
    parser = argparse.ArgumentParser(
        prog="bench.py",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_bench_options(parser)
    add_connection_options(parser)
    return run(parser.parse_args(argv))
