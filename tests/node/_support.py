"""Helpers for the engine tests: configs, views through the engine, log replay.

``engine_view`` reads every answer a client could get for some keys through
``Engine.submit`` (errors become their class), so two engines -- or an engine
and a keyspace rebuilt from its log -- can be compared with ``==``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bolt.errors import BoltError
from bolt.events import decode_record
from bolt.log import LogReader
from bolt.node import Engine, EngineConfig
from bolt.state import Keyspace, apply
from bolt.testing._clock import ManualClock
from tests.state._support import view

START = 1_700_000_000_000


def config(
    data_dir: Path | None, clock: ManualClock | None = None, **overrides: Any
) -> EngineConfig:
    """A small, fast engine configuration for tests."""
    options: dict[str, Any] = {
        "data_dir": data_dir,
        "persist": data_dir is not None,
        "fsync": "off",
        "shard_count": 4,
        "now_ms": clock,
    }
    options.update(overrides)
    return EngineConfig(**options)


def ask(engine: Engine, command: str, *args: Any, db: str | None = None) -> Any:
    """A read through the engine; a refusal is returned as its error class."""
    try:
        return engine.submit(command, list(args), db)[0]
    except BoltError as exc:
        return type(exc)


def engine_view(engine: Engine, keys: Iterable[tuple[str, str]]) -> dict[Any, Any]:
    """Everything a client sees about ``keys`` (``(db, key)`` pairs) right now."""
    now = engine._now_ms()
    return view(engine.keyspace, list(keys), now)


def all_names(engine: Engine) -> list[tuple[str, str]]:
    """Every ``(db, key)`` the engine holds an entry for (visible or not)."""
    from bolt.state import split_name

    return sorted(split_name(n) for s in engine.keyspace.shards for n in s.entries)


def replay_log(data_dir: Path, shard_count: int = 4) -> Keyspace:
    """A fresh keyspace built from every record of the log, in order."""
    keyspace = Keyspace(shard_count, keep_tombstones=False)
    for offset, payload in LogReader(data_dir / "log").read(0):
        keyspace.applying_offset = offset
        for event in decode_record(payload):
            apply(keyspace, event)
    return keyspace


def crash_image(data_dir: Path, target: Path) -> Path:
    """Copy the data directory as a crash would leave it (no lock files)."""
    shutil.copytree(data_dir, target, ignore=shutil.ignore_patterns("LOCK", "lock.mdb"))
    return target


def ask_error(engine: Engine, command: str, *args: Any) -> type[BoltError] | None:
    """The error class a write raises, or None when it succeeds."""
    try:
        engine.submit(command, list(args))
    except BoltError as exc:
        return type(exc)
    return None
