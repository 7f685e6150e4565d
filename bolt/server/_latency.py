"""Per-command counters and fixed-bucket latency histograms for the server.

Theory of operation
-------------------
The hot path must not build dicts or take locks per request, so every
command the server knows owns one :class:`CommandCounters` object, reached
from its dispatch route (one dict lookup on the command name) and kept in a
per-batch list. When a batch's replies have been sent, the batch's latency
(receive → send done, which is what each client in the batch waited) is
placed in a bucket *once* (one ``bisect``) and each run of one command in
the batch bumps four numbers.

Latency is measured per batch, not sampled: every request of a batch is
counted, with the batch's latency, which is exactly what each of its
clients waited (the replies of one receive are sent together). So the
histogram's count equals ``calls`` and no request goes unrecorded, at the
cost of two clock reads per batch rather than per request.

Each command keeps two histograms over the same fixed bucket bounds:

* a cumulative one (``buckets``, ``seconds_total``) for the Prometheus
  histogram and the ``STATS`` bucket list, and
* a recent window (``window`` + ``window_previous``): the server rotates it
  every :data:`WINDOW_SECONDS`, so ``p50``/``p99`` in ``STATS`` describe the
  last 10 to 20 seconds rather than the whole uptime.

Percentiles are estimated from the buckets by :func:`bolt.wire.estimate_quantile`
(linear interpolation inside the bucket that holds the rank, the estimator
the dashboard uses too); with these bounds the error is at most one bucket
width (never an invented number: an empty window reports 0).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from bolt.wire import estimate_quantile

BUCKET_BOUNDS_SECONDS: tuple[float, ...] = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Upper bounds of the latency buckets; one more bucket (+Inf) follows them."""

BUCKET_COUNT = len(BUCKET_BOUNDS_SECONDS) + 1
_BOUNDS_WITH_INF = (*BUCKET_BOUNDS_SECONDS, float("inf"))
WINDOW_SECONDS = 10.0
"""How often the recent-latency window is rotated."""


def bucket_index(seconds: float) -> int:
    """The bucket a latency of ``seconds`` falls in (``le`` semantics)."""
    return bisect_left(BUCKET_BOUNDS_SECONDS, seconds)


def percentile_seconds(counts: list[int], quantile: float) -> float:
    """Estimate a quantile from per-bucket (non-cumulative) ``counts``.

    The estimator is :func:`bolt.wire.estimate_quantile` (the one the
    dashboard uses on the ``STATS`` buckets too).

    Args:
        counts: ``BUCKET_COUNT`` integers.
        quantile: between 0 and 1.

    Returns:
        Seconds, interpolated inside the bucket holding the rank; 0.0 when
        there are no samples; the last finite bound for the +Inf bucket.
    """
    estimate = estimate_quantile(_BOUNDS_WITH_INF, counts, quantile)
    return 0.0 if estimate is None else estimate


class CommandCounters:
    """Calls, errors and latency of one command: metrics only (updated by the server).

    How a command is dispatched (handler, level, table flags) is its
    :class:`bolt.server._dispatch.Route`, which points here.

    Attributes:
        name: the command name (``"UNKNOWN"`` collects every unknown name).
        access: ``"read"``, ``"write"`` or ``"server"`` (for the ops totals).
    """

    __slots__ = (
        "access",
        "buckets",
        "calls",
        "errors",
        "name",
        "seconds_total",
        "window",
        "window_previous",
    )

    def __init__(self, name: str, access: str = "server") -> None:
        self.name = name
        self.access = access
        self.calls = 0
        self.errors = 0
        self.seconds_total = 0.0
        self.buckets = [0] * BUCKET_COUNT
        self.window = [0] * BUCKET_COUNT
        self.window_previous = [0] * BUCKET_COUNT

    def rotate(self) -> None:
        """Start a new recent-latency window (the server calls this periodically)."""
        self.window_previous = self.window
        self.window = [0] * BUCKET_COUNT

    def recent_counts(self) -> list[int]:
        """Per-bucket counts of the current and the previous window together."""
        return [a + b for a, b in zip(self.window, self.window_previous, strict=True)]

    def cumulative_buckets(self) -> list[tuple[float, int]]:
        """``(upper_bound_seconds, cumulative_count)`` pairs, ending with +Inf."""
        pairs: list[tuple[float, int]] = []
        running = 0
        bounds = (*BUCKET_BOUNDS_SECONDS, float("inf"))
        for bound, count in zip(bounds, self.buckets, strict=True):
            running += count
            pairs.append((bound, running))
        return pairs


def record_batch(batch: Iterable[CommandCounters], seconds: float) -> None:
    """Count one answered request per item of ``batch``, each taking ``seconds``."""
    index = bucket_index(seconds)
    # A batch is mostly runs of one command: count each run once.
    run: CommandCounters | None = None
    length = 0
    for counters in batch:
        if counters is run:
            length += 1
            continue
        if run is not None:
            _count(run, length, seconds, index)
        run, length = counters, 1
    if run is not None:
        _count(run, length, seconds, index)


def _count(counters: CommandCounters, calls: int, seconds: float, index: int) -> None:
    counters.calls += calls
    counters.seconds_total += seconds * calls
    counters.buckets[index] += calls
    counters.window[index] += calls
