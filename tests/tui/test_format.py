"""Number formatting: short, and a dash for what is not known."""

from __future__ import annotations

from bolt.tui._format import (
    DASH,
    fmt_bytes,
    fmt_count,
    fmt_duration,
    fmt_ms,
    fmt_percent,
    fmt_rate,
    fmt_text,
)


def test_unknown_is_a_dash_never_zero() -> None:
    for formatter in (fmt_count, fmt_rate, fmt_ms, fmt_bytes, fmt_duration, fmt_percent):
        assert formatter(None) == DASH
        assert formatter(float("nan")) == DASH
    assert fmt_text(None) == DASH and fmt_text("") == DASH and fmt_text("x") == "x"
    assert fmt_rate(0) == "0" and fmt_count(0) == "0"


def test_rates_fit_in_five_characters() -> None:
    assert fmt_rate(0.5) == "0.5"
    assert fmt_rate(5.99) == "5.99"
    assert fmt_rate(12.34) == "12.3"
    assert fmt_rate(980) == "980"
    assert fmt_rate(12_345) == "12.3k"
    assert fmt_rate(999_999) == "1.0M"
    assert fmt_rate(123_456_789) == "123M"
    assert fmt_rate(-2000) == "-2.0k"
    for value in (0.001, 9.999, 99.99, 999.9, 99_999, 1e13):
        assert len(fmt_rate(value)) <= 5, value


def test_sizes_times_and_percentages() -> None:
    assert fmt_bytes(512) == "512 B"
    assert fmt_bytes(22_190) == "21.7 KiB"
    assert fmt_bytes(18_957_376_512) == "17.7 GiB"
    assert fmt_ms(0.05) == "0.05ms" and fmt_ms(12.34) == "12.3ms" and fmt_ms(2500) == "2.5s"
    assert fmt_duration(42) == "42s" and fmt_duration(185) == "3m05s"
    assert fmt_duration(7380) == "2h03m" and fmt_duration(360_000) == "4d04h"
    assert fmt_duration(-5) == "0s"
    assert fmt_percent(0.973) == "97.3%"
    assert fmt_count(1_234_567) == "1,234,567"
