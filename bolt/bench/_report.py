"""The benchmark's numbers: per-test summaries, the seed's table, ratios.

:func:`summarize` turns what the generators measured into a
:class:`TestResult` (throughput over the whole span, nearest-rank
percentiles over every request). The table helpers return plain strings
(columns and rows) so that the CLI can draw them with rich on a terminal and
as aligned text elsewhere, and :func:`compare_rows` puts two runs side by
side with their ratio.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bolt.bench._worker import DriveResult
    from bolt.bench._workload import Workload

TABLE_COLUMNS = ("Operation", "Throughput", "Latency (p50)", "Latency (p99)", "Errors")


@dataclass(frozen=True)
class TestResult:
    """One row of the benchmark table.

    Attributes:
        test: the ``--tests`` name; label: the row name.
        unit: ``ops/s`` or ``batch/s``.
        requests: replies received; errors: how many were error replies.
        first_error: the text of the first error reply, if any.
        seconds: wall-clock span of the test.
        throughput: requests per second (batches per second for MSET/MGET).
        keys_per_second: throughput times the keys per request.
        p50_ms, p99_ms, p999_ms, max_ms, mean_ms: request latency.
        connections, pipeline: the load shape.
    """

    test: str
    label: str
    unit: str
    requests: int
    errors: int
    first_error: str | None
    seconds: float
    throughput: float
    keys_per_second: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float
    connections: int
    pipeline: int

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict."""
        return asdict(self)


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending sequence (0.0 when empty)."""
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), int(fraction * len(ordered) + 0.999_999)))
    return ordered[rank - 1]


def summarize(
    workload: Workload, results: Sequence[DriveResult], connections: int, pipeline: int
) -> TestResult:
    """Merge the generators' measurements of one test.

    Args:
        workload: the test.
        results: one per generator that ran.
        connections, pipeline: the load shape, recorded in the result.
    """
    merged = array("d")
    for result in results:
        merged.extend(result.latencies)
    ordered = sorted(merged)
    requests = sum(result.requests for result in results)
    started = min((r.started for r in results), default=0.0)
    seconds = max((r.finished for r in results), default=0.0) - started
    throughput = requests / seconds if seconds > 0 else 0.0
    return TestResult(
        test=workload.name,
        label=workload.label,
        unit=workload.unit,
        requests=requests,
        errors=sum(result.errors for result in results),
        first_error=next((r.first_error for r in results if r.first_error), None),
        seconds=seconds,
        throughput=throughput,
        keys_per_second=throughput * workload.keys_per_request,
        p50_ms=percentile(ordered, 0.50) * 1000,
        p99_ms=percentile(ordered, 0.99) * 1000,
        p999_ms=percentile(ordered, 0.999) * 1000,
        max_ms=(ordered[-1] if ordered else 0.0) * 1000,
        mean_ms=(sum(ordered) / len(ordered) if ordered else 0.0) * 1000,
        connections=connections,
        pipeline=pipeline,
    )


def format_rate(value: float, unit: str) -> str:
    """``520,000 ops/s``."""
    return f"{value:,.0f} {unit}"


def format_ms(value: float) -> str:
    """``0.80ms`` (three significant decimals below 1 ms)."""
    return f"{value:.3f}ms" if value < 1 else f"{value:.2f}ms"


def table_rows(results: Sequence[TestResult]) -> list[tuple[str, ...]]:
    """Rows of the seed's table for ``results`` (columns: :data:`TABLE_COLUMNS`)."""
    return [
        (
            result.label,
            format_rate(result.throughput, result.unit),
            format_ms(result.p50_ms),
            format_ms(result.p99_ms),
            str(result.errors),
        )
        for result in results
    ]


COMPARE_COLUMNS = (
    "Operation",
    "Bolt",
    "Floor",
    "Bolt/Floor",
    "Bolt p50",
    "Bolt p99",
    "Floor p50",
    "Floor p99",
)


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, 0.0 when the denominator is 0."""
    return numerator / denominator if denominator else 0.0


def compare_rows(bolt: Sequence[TestResult], floor: Sequence[TestResult]) -> list[tuple[str, ...]]:
    """Side-by-side rows (columns :data:`COMPARE_COLUMNS`) of two runs of the same tests."""
    floor_by_test = {result.test: result for result in floor}
    rows: list[tuple[str, ...]] = []
    for mine in bolt:
        other = floor_by_test.get(mine.test)
        if other is None:
            continue
        rows.append(
            (
                mine.label,
                format_rate(mine.throughput, mine.unit),
                format_rate(other.throughput, other.unit),
                f"{ratio(mine.throughput, other.throughput):.2f}",
                format_ms(mine.p50_ms),
                format_ms(mine.p99_ms),
                format_ms(other.p50_ms),
                format_ms(other.p99_ms),
            )
        )
    return rows
