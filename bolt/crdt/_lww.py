"""Last-writer-wins ordering.

A write is identified by its stamp ``(hlc, origin)``. The larger stamp wins;
the origin breaks ties between equal HLC readings, so two nodes never keep
different values forever (the earlier implementation compared raw wall-clock
times and kept both sides on a tie).
"""

from __future__ import annotations

Stamp = tuple[int, str]
ZERO_STAMP: Stamp = (0, "")


def newer(hlc: int, origin: str, than_hlc: int, than_origin: str) -> bool:
    """True if the write ``(hlc, origin)`` beats ``(than_hlc, than_origin)``."""
    return hlc > than_hlc or (hlc == than_hlc and origin > than_origin)


def later(a: Stamp, b: Stamp) -> Stamp:
    """The winning stamp of two writes (the merge of two LWW registers)."""
    return a if newer(a[0], a[1], b[0], b[1]) or a == b else b
