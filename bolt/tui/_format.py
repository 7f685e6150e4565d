"""Number formatting for the dashboard: short, fixed-width friendly, honest.

Theory of operation
-------------------
Every function here is pure and takes ``None`` for "not known": the first
refresh has no rates yet, a server may not report a counter at all. They
all render ``None`` as :data:`DASH` instead of a made-up ``0``, so a reader
can tell "nothing happened" (``0``) from "we cannot tell" (:data:`DASH`).
"""

from __future__ import annotations

import math

DASH = "\u2013"
"""What an unknown number is shown as (an en dash, never ``0``)."""

_SI_SUFFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def _known(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def fmt_count(value: float | None) -> str:
    """A counter with thousands separators: ``1,234,567`` (:data:`DASH` if unknown)."""
    if value is None or not _known(value):
        return DASH
    return f"{round(value):,}"


def fmt_rate(value: float | None) -> str:
    """A per-second rate in at most 5 characters: ``0``, ``12.5``, ``980``, ``12.3k``, ``1.2M``."""
    if value is None or not _known(value):
        return DASH
    if value < 0:
        return "-" + fmt_rate(-value)
    for scale, suffix in _SI_SUFFIXES:
        if value >= scale * 0.9995:
            scaled = value / scale
            return f"{scaled:.0f}{suffix}" if scaled >= 99.95 else f"{scaled:.1f}{suffix}"
    if value == 0:
        return "0"
    if value < 10:
        return f"{value:.2f}".rstrip("0").rstrip(".") or "0"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:.0f}"


def fmt_ms(value: float | None) -> str:
    """A latency in milliseconds: ``0.05ms``, ``4.19ms``, ``125ms``, ``2.5s``."""
    if value is None or not _known(value):
        return DASH
    if value >= 1000:
        return f"{value / 1000:.1f}s"
    if value >= 100:
        return f"{value:.0f}ms"
    if value >= 10:
        return f"{value:.1f}ms"
    return f"{value:.2f}ms"


def fmt_bytes(value: float | None) -> str:
    """A size in binary units: ``512 B``, ``22.2 KiB``, ``17.7 GiB``."""
    if value is None or not _known(value):
        return DASH
    size = float(value)
    for unit in _BYTE_UNITS:
        if abs(size) < 1024 or unit == _BYTE_UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def fmt_duration(seconds: float | None) -> str:
    """An age or uptime: ``42s``, ``3m05s``, ``2h03m``, ``4d02h``."""
    if seconds is None or not _known(seconds):
        return DASH
    total = max(int(seconds), 0)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def fmt_percent(ratio: float | None) -> str:
    """A ratio between 0 and 1 as a percentage: ``97.3%``."""
    if ratio is None or not _known(ratio):
        return DASH
    return f"{ratio * 100:.1f}%"


def fmt_text(value: object) -> str:
    """Any optional value as text (:data:`DASH` for ``None`` or an empty string)."""
    if value is None or value == "":
        return DASH
    return str(value)
