"""The node: the engine that composes log and state, and (later) its daemon.

Use :func:`open_engine` to get a running engine::

    async with open_engine(EngineConfig(data_dir=path)) as engine:
        await engine.execute("PUT", ["k", "v"])
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from bolt.node._config import EngineConfig
from bolt.node._engine import Engine, wall_clock_ms
from bolt.node._feed import Change, ChangeFeed, FeedStatistics, FeedSubscription
from bolt.node._recovery import RecoveryStatistics
from bolt.node._recovery import covering_offset as covering_offset
from bolt.node._recovery import load_snapshot as load_snapshot
from bolt.node._recovery import replay_record as replay_record
from bolt.node._stats import EngineStatistics, ShardStatistics, SnapshotStatistics


@asynccontextmanager
async def open_engine(config: EngineConfig) -> AsyncIterator[Engine]:
    """Open (recover) an engine, run its background jobs, close it cleanly on exit."""
    engine = await Engine.open(config)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(engine.run)
            try:
                yield engine
            finally:
                await engine.close()
                nursery.cancel_scope.cancel()
    finally:
        await engine.close()


__all__ = [
    "Change",
    "ChangeFeed",
    "Engine",
    "EngineConfig",
    "EngineStatistics",
    "FeedStatistics",
    "FeedSubscription",
    "RecoveryStatistics",
    "ShardStatistics",
    "SnapshotStatistics",
    "open_engine",
    "wall_clock_ms",
]
