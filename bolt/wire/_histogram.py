"""Quantiles of a fixed-bucket latency histogram, for the server and its readers.

Theory of operation
-------------------
The server counts each command's latencies in fixed buckets
(:mod:`bolt.server._latency`) and sends them in ``STATS`` as cumulative
``[upper_bound_ms | "+Inf", count]`` pairs (:class:`bolt.wire.CommandStats`).
Both the server (its ``p50``/``p99`` fields) and the dashboard (the p99 over
the last refresh interval, from two replies' buckets) estimate quantiles
from such counts; this module is the one estimator both use, so the two
figures can never disagree in method.

The estimate interpolates linearly inside the bucket that holds the rank,
so its error is at most one bucket width; the +Inf bucket reports the last
finite bound (never an invented number). Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def estimate_quantile(
    bounds: Sequence[float], counts: Sequence[int], quantile: float
) -> float | None:
    """Estimate a quantile from per-bucket (not cumulative) counts.

    Args:
        bounds: each bucket's upper bound, increasing; the last may be ``inf``.
        counts: the samples in each bucket (as many as ``bounds``).
        quantile: between 0 and 1.

    Returns:
        The estimate, in the unit of ``bounds``; ``None`` when there are no
        samples (or no finite bound to report).
    """
    total = sum(counts)
    if total <= 0:
        return None
    rank = quantile * total
    seen = 0
    finite = [bound for bound in bounds if math.isfinite(bound)]
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            high = bounds[index]
            if not math.isfinite(high):
                return finite[-1] if finite else None
            low = bounds[index - 1] if index else 0.0
            return low + (high - low) * max(rank - seen, 0.0) / count
        seen += count
    return finite[-1] if finite else None


def bucket_counts(buckets: Any) -> tuple[tuple[float, ...], tuple[int, ...]] | None:
    """Parse a ``STATS`` bucket list ``[[upper_ms | "+Inf", cumulative], ...]``.

    Returns:
        ``(upper bounds, per-bucket counts)``, or ``None`` if malformed
        (not a list of pairs, or cumulative counts that fall).
    """
    if not isinstance(buckets, list | tuple):
        return None
    bounds: list[float] = []
    counts: list[int] = []
    previous = 0
    for item in buckets:
        if not isinstance(item, list | tuple) or len(item) != 2:
            return None
        bound = math.inf if item[0] == "+Inf" else item[0]
        cumulative = item[1]
        if (
            isinstance(bound, bool)
            or not isinstance(bound, int | float)
            or isinstance(cumulative, bool)
            or not isinstance(cumulative, int)
            or cumulative < previous
        ):
            return None
        bounds.append(float(bound))
        counts.append(cumulative - previous)
        previous = cumulative
    return (tuple(bounds), tuple(counts)) if bounds else None
