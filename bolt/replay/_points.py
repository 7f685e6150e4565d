"""Points in a log: record offsets and times, as users type them.

Theory of operation
-------------------
Two kinds of point exist. An **offset** is a record index in this node's log;
it is exact and local. A **time** is compared with each event's hybrid logical
clock (HLC), so it means the same on every node: "the events made up to 14:03".
A time is written as one of:

* an ISO 8601 date/time: ``2024-05-01T14:03:00Z``, ``2024-05-01 14:03:00+02:00``,
  ``2024-05-01`` (no zone: the local time zone);
* a time of day ``HH:MM[:SS[.fff]]`` (today, local time);
* a relative time ``-30s``, ``-10m``, ``-2h``, ``-1d`` (before now);
* ``ms:<unix milliseconds>`` or ``hlc:<hybrid clock reading>``.

A bare integer is never a time (it would be ambiguous): for ``--at`` it is an
offset and elsewhere it is refused with the list above. Wall times are
inclusive at millisecond precision: ``--until 14:03:00`` keeps the events of
14:03:00.000 (every logical tick of that millisecond) and none after.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from bolt import limits
from bolt.crdt import hlc_from_ms, hlc_ms
from bolt.errors import BadRequestError

LOGICAL_MASK = (1 << limits.hlc_logical_bits) - 1

TIME_FORMS = (
    "an ISO time (2024-05-01T14:03:00Z), HH:MM[:SS], a relative time (-10m), "
    "ms:<unix ms> or hlc:<n>"
)
_RELATIVE = re.compile(r"^-(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_TIME_OF_DAY = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")


def is_relative_time(text: str) -> bool:
    """Whether ``text`` is a relative time such as ``-5m`` (it starts with a dash)."""
    return _RELATIVE.match(text.strip()) is not None


@dataclass(frozen=True, slots=True)
class Point:
    """A point in a log: exactly one of ``offset`` (inclusive) or ``hlc`` (inclusive)."""

    offset: int | None = None
    hlc: int | None = None

    def describe(self) -> str:
        """How the point reads in messages."""
        if self.offset is not None:
            return f"offset {self.offset}"
        assert self.hlc is not None
        return f"{format_ms(hlc_ms(self.hlc))} (hlc {self.hlc})"


def format_ms(ms: int) -> str:
    """A wall-clock time in milliseconds as ISO 8601 UTC (``...T14:03:00.125Z``)."""
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_time(text: str, *, now_ms: Callable[[], int], upper: bool = False) -> int:
    """Parse a time (see the module docstring) into an inclusive HLC bound.

    Args:
        text: what the user typed.
        now_ms: the wall clock (for relative times and times of day).
        upper: True for an upper bound (``--until``): a wall time then
            includes every logical tick of its millisecond.

    Returns:
        The HLC bound.

    Raises:
        bolt.errors.BadRequestError: not a time in any accepted form.
    """
    value = text.strip()
    if value.startswith("hlc:"):
        return _non_negative(value[4:], text)
    ms = _parse_wall_ms(value, text, now_ms)
    return hlc_from_ms(ms, LOGICAL_MASK if upper else 0)


def parse_wall_ms(text: str, *, now_ms: Callable[[], int]) -> int:
    """Parse a time into wall-clock milliseconds (``hlc:`` gives its physical part).

    Raises:
        bolt.errors.BadRequestError: not a time in any accepted form.
    """
    value = text.strip()
    if value.startswith("hlc:"):
        return hlc_ms(_non_negative(value[4:], text))
    return _parse_wall_ms(value, text, now_ms)


def parse_point(text: str, *, now_ms: Callable[[], int]) -> Point:
    """Parse ``--at``: a bare integer is an offset, anything else a time.

    Raises:
        bolt.errors.BadRequestError: neither an offset nor a time.
    """
    value = text.strip()
    if re.fullmatch(r"\d+", value):
        return Point(offset=int(value))
    if re.fullmatch(r"-\d+", value):
        raise BadRequestError(f"offset {value} is negative; offsets start at 0")
    return Point(hlc=parse_time(value, now_ms=now_ms, upper=True))


def _non_negative(digits: str, text: str) -> int:
    if not re.fullmatch(r"\d+", digits):
        raise BadRequestError(f"invalid time {text!r}: use {TIME_FORMS}")
    return int(digits)


def _parse_wall_ms(value: str, text: str, now_ms: Callable[[], int]) -> int:
    if value.startswith("ms:"):
        return _non_negative(value[3:], text)
    relative = _RELATIVE.match(value)
    if relative:
        amount = float(relative.group(1)) * _UNIT_MS[relative.group(2)]
        return max(0, now_ms() - int(amount))
    if re.fullmatch(r"\d+", value):
        raise BadRequestError(
            f"ambiguous time {text!r}: a bare number is not a time; use {TIME_FORMS}"
        )
    if _TIME_OF_DAY.match(value):
        today = dt.datetime.fromtimestamp(now_ms() / 1000).date()
        value = f"{today.isoformat()}T{value if value.count(':') == 2 else value + ':00'}"
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadRequestError(f"invalid time {text!r}: use {TIME_FORMS}") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # naive means local time
    ms = round(moment.timestamp() * 1000)
    if ms < 0:
        raise BadRequestError(f"time {text!r} is before 1970")
    return ms
