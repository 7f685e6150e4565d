"""The command table: every data command's handler, access and metrics label.

Handlers live by type (:mod:`bolt.state._strings`, ``_counters``, ``_lists``,
``_sets``); the rules they all follow are in :mod:`bolt.state._handlers`.
Another module adds its commands by adding its specs to :data:`COMMANDS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bolt.state import _counters, _hashes, _lists, _sets, _strings
from bolt.state._handlers import SLOW, CommandSpec, Handler, Reply, Stamper, delete_event
from bolt.state._strings import check_batch, fast_get, fast_put_events, put_events

COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for module in (_strings, _counters, _lists, _sets, _hashes)
    for spec in module.SPECS
}
"""Every data command by name."""

READS_NONE = 0
"""A command that reads no key (or whose keys are not counted, like ``KEYS``)."""
READS_ONE = 1
"""A command that reads one key."""
READS_EACH = 2
"""A command that reads every argument as a key (``MGET``)."""


@dataclass(frozen=True)
class Serving:
    """How a server treats a data command around the engine call: table flags,
    so the connection loop never compares command names.

    Attributes:
        key_reads: :data:`READS_NONE`, :data:`READS_ONE` or :data:`READS_EACH`
            (for ``keys_read_total``).
        hits: the reply tells found from missing keys (``None`` is a miss:
            the reply itself for a one-key read, each item for ``READS_EACH``),
            for ``keys_hit_total``/``keys_missed_total``.
        chunked: a request with more arguments than ``limits.batch_chunk_keys``
            goes through ``Engine.submit_large`` (in chunks, other clients
            served between them).
    """

    key_reads: int = READS_NONE
    hits: bool = False
    chunked: bool = False


SERVING: dict[str, Serving] = {
    "GET": Serving(READS_ONE, hits=True),
    "MGET": Serving(READS_EACH, hits=True, chunked=True),
    "KEYS": Serving(READS_NONE),
    "MSET": Serving(chunked=True),
    "MDEL": Serving(chunked=True),
}
"""The data commands whose :class:`Serving` is not their access class's default."""


def serving(name: str) -> Serving:
    """The :class:`Serving` flags of data command ``name`` (reads default to one key)."""
    flags = SERVING.get(name)
    if flags is not None:
        return flags
    spec = COMMANDS.get(name)
    return Serving(READS_ONE if spec is not None and spec.access == "read" else READS_NONE)


__all__ = [
    "COMMANDS",
    "READS_EACH",
    "READS_NONE",
    "READS_ONE",
    "SERVING",
    "SLOW",
    "CommandSpec",
    "Handler",
    "Reply",
    "Serving",
    "Stamper",
    "check_batch",
    "delete_event",
    "fast_get",
    "fast_put_events",
    "put_events",
    "serving",
]
