"""Helpers shared by the log tests: deterministic payloads and quick log writing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import trio

from bolt.log import Log, LogOptions


def payload_for(index: int) -> bytes:
    """A payload that differs in content and length from its neighbours."""
    return f"record-{index}-".encode() + bytes([index % 251]) * (index % 37 + 1)


def write_records(directory: Path, payloads: Sequence[bytes], **options: Any) -> list[int]:
    """Append ``payloads`` to the log in ``directory``, flush and close it."""

    async def main() -> list[int]:
        log = Log.open(LogOptions(directory=directory, **options))
        offsets = [log.append(payload) for payload in payloads]
        await log.close()
        return offsets

    return trio.run(main)


def open_and_close(directory: Path, **options: Any) -> Log:
    """Open the log (running recovery) and close it again; returns the closed log."""
    log = Log.open(LogOptions(directory=directory, **options))
    trio.run(log.close)
    return log


def read_all(directory: Path, **options: Any) -> list[tuple[int, bytes]]:
    """Open the log, read every record, close it."""
    log = Log.open(LogOptions(directory=directory, **options))
    try:
        return list(log.read(log.first_offset))
    finally:
        trio.run(log.close)


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """A log directory that does not exist yet (Log.open creates it)."""
    return tmp_path / "log"


@pytest.fixture
def payloads() -> Callable[[int], list[bytes]]:
    """``payloads(n)``: the first ``n`` deterministic payloads."""
    return lambda count: [payload_for(index) for index in range(count)]
