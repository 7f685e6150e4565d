"""Parsing offsets and times as users type them."""

from __future__ import annotations

import pytest

from bolt.crdt import hlc_from_ms, hlc_ms
from bolt.errors import BadRequestError
from bolt.replay import Point, format_ms, parse_point, parse_time, parse_wall_ms

NOW = 1_714_572_000_000  # 2024-05-01T14:00:00Z


def now() -> int:
    return NOW


def test_iso_times_with_zones() -> None:
    assert parse_wall_ms("2024-05-01T14:00:00Z", now_ms=now) == NOW
    assert parse_wall_ms("2024-05-01T16:00:00.250+02:00", now_ms=now) == NOW + 250
    assert parse_wall_ms("2024-05-01 14:00:00+00:00", now_ms=now) == NOW
    assert format_ms(NOW + 5) == "2024-05-01T14:00:00.005Z"


def test_relative_raw_and_hlc_forms() -> None:
    assert parse_wall_ms("-10m", now_ms=now) == NOW - 600_000
    assert parse_wall_ms("-1.5s", now_ms=now) == NOW - 1500
    assert parse_wall_ms(f"ms:{NOW}", now_ms=now) == NOW
    assert parse_time("hlc:12345", now_ms=now) == 12345
    assert parse_wall_ms(f"hlc:{hlc_from_ms(NOW, 7)}", now_ms=now) == NOW


def test_bounds_cover_their_millisecond() -> None:
    lower = parse_time("ms:1000", now_ms=now)
    upper = parse_time("ms:1000", now_ms=now, upper=True)
    assert lower == hlc_from_ms(1000, 0)
    assert hlc_ms(upper) == 1000 and upper > lower
    assert upper + 1 == hlc_from_ms(1001, 0)


def test_time_of_day_is_today_local() -> None:
    ms = parse_wall_ms("14:03", now_ms=now)
    assert abs(ms - NOW) < 86_400_000
    assert parse_wall_ms("14:03:30", now_ms=now) - ms == 30_000


def test_points() -> None:
    assert parse_point("42", now_ms=now) == Point(offset=42)
    point = parse_point("2024-05-01T14:00:00Z", now_ms=now)
    assert point.offset is None and point.hlc is not None and hlc_ms(point.hlc) == NOW
    assert Point(offset=42).describe() == "offset 42"


@pytest.mark.parametrize(
    "bad", ["", "1714572000", "soon", "ms:x", "hlc:-1", "-10y", "1969-01-01T00:00:00Z"]
)
def test_bad_times_are_typed_errors(bad: str) -> None:
    with pytest.raises(BadRequestError):
        parse_time(bad, now_ms=now)


def test_negative_offset_is_refused() -> None:
    with pytest.raises(BadRequestError):
        parse_point("-5", now_ms=now)
