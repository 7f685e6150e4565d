"""The Tasks panel's figures, from the server's task statistics. Pure.

Theory of operation
-------------------
The task coordinator's figures reach a client through two existing
commands, and the panel reads both (read-only, in the same round trip as
``STATS``):

* ``METRICS`` (the Prometheus text): ``bolt_tasks{type,status}`` (queue
  depth per type and status, every database), ``bolt_task_leases_active``,
  the claim, completion and dead-letter counters, and the histogram
  ``bolt_task_dispatch_seconds`` of how long a task waited from create to
  claim;
* ``TASK.STATS`` (the default database): ``next_lease_expiry_ms``, when the
  earliest lease runs out, judged against the server's own clock (the
  ``hlc`` of the same poll's ``STATS``), not the dashboard's.

:class:`TasksModel` keeps the previous reading to turn counters into rates
and the dispatch histogram into the p99 over the last interval (with
:func:`bolt.wire.estimate_quantile`, the server's estimator); when no task
was claimed in the interval it reports the p99 since start, and says so.
A node that has never seen a task has no panel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bolt.errors import ProtocolError
from bolt.tui._views import TasksView, TaskTypeRow
from bolt.wire import estimate_quantile

STATUSES = ("pending", "claimed", "completed", "failed", "dead", "cancelled")
"""Task statuses, in the panel's column order."""


@dataclass
class TaskMetrics:
    """The task figures read from one ``METRICS`` text."""

    depth: dict[str, dict[str, int]] = field(default_factory=dict)
    leases_active: int | None = None
    claims_total: int | None = None
    completions_total: int | None = None
    dead_letters_total: int | None = None
    dispatch: dict[float, int] = field(default_factory=dict)  # upper bound (ms) -> cumulative


_COUNTERS = {
    "bolt_task_leases_active": "leases_active",
    "bolt_task_claims_total": "claims_total",
    "bolt_task_completions_total": "completions_total",
    "bolt_task_dead_letters_total": "dead_letters_total",
}


def parse_task_metrics(text: object) -> TaskMetrics:
    """Pick the task coordinator's samples out of a ``METRICS`` reply.

    Raises:
        ProtocolError: ``text`` is not Prometheus text.
    """
    if not isinstance(text, str):
        raise ProtocolError(f"METRICS reply is not text: {type(text).__name__}")
    found = TaskMetrics()
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as exc:
        raise ProtocolError(f"METRICS reply is not Prometheus text: {exc}") from None
    for family in families:
        if not family.name.startswith("bolt_task"):
            continue
        for sample in family.samples:
            value = sample.value
            if not math.isfinite(value):
                continue
            if sample.name == "bolt_tasks":
                by_status = found.depth.setdefault(sample.labels.get("type", "?"), {})
                by_status[sample.labels.get("status", "?")] = int(value)
            elif sample.name in _COUNTERS:
                setattr(found, _COUNTERS[sample.name], int(value))
            elif sample.name == "bolt_task_dispatch_seconds_bucket":
                bound = float(sample.labels.get("le", "+Inf").replace("+Inf", "inf"))
                found.dispatch[bound * 1000] = int(value)
    return found


def _rate(new: int | None, old: int | None, seconds: float | None) -> float | None:
    if new is None or old is None or not seconds or seconds <= 0 or new < old:
        return None
    return (new - old) / seconds


def _per_bucket(cumulative: Mapping[float, int]) -> tuple[tuple[float, ...], list[int]]:
    bounds = tuple(sorted(cumulative))
    counts, previous = [], 0
    for bound in bounds:
        counts.append(max(cumulative[bound] - previous, 0))
        previous = cumulative[bound]
    return bounds, counts


def _dispatch_p99(
    new: Mapping[float, int], old: Mapping[float, int] | None
) -> tuple[float | None, bool]:
    """p99 of the interval's claims, else since start: ``(ms, since_start)``."""
    bounds, counts = _per_bucket(new)
    if old is not None and set(old) == set(new):
        _, before = _per_bucket(old)
        interval = [max(now - then, 0) for now, then in zip(counts, before, strict=True)]
        if sum(interval):
            return estimate_quantile(bounds, interval, 0.99), False
    return estimate_quantile(bounds, counts, 0.99), True


def _lease_expiry_seconds(task_stats: object, server_now_ms: int | None) -> float | None:
    if not isinstance(task_stats, Mapping) or server_now_ms is None:
        return None
    expiry = task_stats.get("next_lease_expiry_ms")
    if isinstance(expiry, bool) or not isinstance(expiry, int):
        return None
    return max(expiry - server_now_ms, 0) / 1000


class TasksModel:
    """Turns successive task readings of one node into :class:`TasksView` s."""

    def __init__(self) -> None:
        self._previous: TaskMetrics | None = None
        self._at: float | None = None

    def update(
        self, metrics: TaskMetrics, task_stats: object, server_now_ms: int | None, now: float
    ) -> TasksView:
        """Take the next reading.

        Args:
            metrics: from :func:`parse_task_metrics`.
            task_stats: the ``TASK.STATS`` reply (None or an error: no lease expiry).
            server_now_ms: the server's wall clock (ms) at this poll, if known.
            now: the dashboard's monotonic seconds (for the rates).
        """
        old = self._previous
        old_claims = None if old is None else old.claims_total
        old_completions = None if old is None else old.completions_total
        seconds = None if self._at is None else now - self._at
        rows = [
            TaskTypeRow(task_type, *(by_status.get(status, 0) for status in STATUSES))
            for task_type, by_status in metrics.depth.items()
        ]
        rows.sort(key=lambda row: (-row.pending, -row.claimed, row.task_type))
        p99, since_start = _dispatch_p99(metrics.dispatch, old.dispatch if old else None)
        self._previous, self._at = metrics, now
        return TasksView(
            types=tuple(rows),
            claims_per_second=_rate(metrics.claims_total, old_claims, seconds),
            completions_per_second=_rate(metrics.completions_total, old_completions, seconds),
            dispatch_p99_ms=p99,
            dispatch_p99_since_start=since_start,
            leases_active=metrics.leases_active,
            next_lease_expiry_seconds=_lease_expiry_seconds(task_stats, server_now_ms),
            dead_letters_total=metrics.dead_letters_total,
            claims_total=metrics.claims_total,
        )


def server_now_ms(stats: Mapping[str, Any]) -> int | None:
    """The server's wall clock (ms) from a ``STATS`` reply's ``hlc``, if present."""
    from bolt.crdt import hlc_ms

    hlc = stats.get("hlc")
    if isinstance(hlc, bool) or not isinstance(hlc, int) or hlc <= 0:
        return None
    return hlc_ms(hlc)
