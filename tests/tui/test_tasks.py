"""The Tasks panel's model and text (pure; the live panel is in test_live_panels)."""

from __future__ import annotations

import pytest

from bolt.errors import ProtocolError
from bolt.tui._panels import tasks_text
from bolt.tui._tasks import TasksModel, parse_task_metrics, server_now_ms
from bolt.tui._widgets import plain_text

BOUNDS_MS = (1, 2, 5, 10, 25, 50, 100)


def metrics(claims: int, dispatch: tuple[int, ...], dead: int = 0, **depth: int) -> str:
    """A METRICS text with the task families (the shape bolt.server sends)."""
    lines = ["# TYPE bolt_tasks gauge"]
    for key, count in depth.items():
        task_type, status = key.split("__")
        lines.append(f'bolt_tasks{{status="{status}",type="{task_type}"}} {count}')
    lines += [
        "# TYPE bolt_task_leases_active gauge",
        f"bolt_task_leases_active {depth.get('email__claimed', 0)}",
        "# TYPE bolt_task_claims counter",
        f"bolt_task_claims_total {claims}",
        "# TYPE bolt_task_dead_letters counter",
        f"bolt_task_dead_letters_total {dead}",
        "# TYPE bolt_task_dispatch_seconds histogram",
    ]
    running = 0
    for bound, count in zip((*BOUNDS_MS, "+Inf"), dispatch, strict=True):
        running += count
        le = bound if bound == "+Inf" else repr(bound / 1000)
        lines.append(f'bolt_task_dispatch_seconds_bucket{{le="{le}"}} {running}')
    lines.append(f"bolt_task_dispatch_seconds_count {running}")
    lines.append("bolt_task_dispatch_seconds_sum 0.1")
    lines.append("# TYPE bolt_keys gauge\nbolt_keys 12")
    return "\n".join(lines) + "\n"


def test_parse_and_rates_and_the_interval_p99() -> None:
    model = TasksModel()
    first = parse_task_metrics(
        metrics(10, (10, 0, 0, 0, 0, 0, 0, 0), email__pending=5, email__claimed=2, ocr__dead=1)
    )
    assert first.depth == {"email": {"pending": 5, "claimed": 2}, "ocr": {"dead": 1}}
    view = model.update(first, {"next_lease_expiry_ms": 11_500}, server_now_ms=10_000, now=0.0)
    assert view.present and view.claims_per_second is None  # first reading
    assert [row.task_type for row in view.types] == ["email", "ocr"]  # most pending first
    assert view.types[0].pending == 5 and view.types[1].dead == 1
    assert view.leases_active == 2 and view.next_lease_expiry_seconds == 1.5
    assert view.dispatch_p99_since_start and view.dispatch_p99_ms is not None
    assert view.dispatch_p99_ms <= 1.0
    # Two seconds later 20 more claims, all waiting 25-50 ms: the interval's p99.
    second = parse_task_metrics(metrics(30, (10, 0, 0, 0, 0, 20, 0, 0), dead=1, email__pending=1))
    view = model.update(second, None, server_now_ms=None, now=2.0)
    assert view.claims_per_second == 10
    assert not view.dispatch_p99_since_start
    assert view.dispatch_p99_ms is not None and 25 < view.dispatch_p99_ms <= 50
    assert view.next_lease_expiry_seconds is None and view.dead_letters_total == 1
    with pytest.raises(ProtocolError):
        parse_task_metrics(b"not text")


def test_no_tasks_means_no_panel() -> None:
    view = TasksModel().update(parse_task_metrics("bolt_keys 1\n"), None, None, 0.0)
    assert not view.present
    assert "no tasks" in plain_text(tasks_text(view))


def test_panel_text_fits_80_columns() -> None:
    reading = parse_task_metrics(
        metrics(3, (3, 0, 0, 0, 0, 0, 0, 0), dead=2, email__pending=1200, email__dead=2)
    )
    view = TasksModel().update(reading, {"next_lease_expiry_ms": 4200}, 1000, 0.0)
    lines = plain_text(tasks_text(view, width=76)).splitlines()
    assert all(len(line.rstrip()) <= 76 for line in lines)
    assert lines[0].startswith("claims/s") and "p99 create→claim" in lines[0]
    assert "(since start)" in lines[0]
    assert "leases 0" in lines[1] and "in 3.2s" in lines[1] and "dead letters 2" in lines[1]
    assert lines[2].split()[:4] == ["type", "pending", "claimed", "dead"]
    assert lines[3].split()[:4] == ["email", "1,200", "0", "2"]


def test_server_clock_from_stats() -> None:
    assert server_now_ms({"hlc": 1796320059038 << 16}) == 1796320059038
    assert server_now_ms({}) is None
