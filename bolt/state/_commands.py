"""The command table: every data command's handler, access and metrics label.

Handlers live by type (:mod:`bolt.state._strings`, ``_counters``, ``_lists``,
``_sets``); the rules they all follow are in :mod:`bolt.state._handlers`.
Another module adds its commands by adding its specs to :data:`COMMANDS`.
"""

from __future__ import annotations

from bolt.state import _counters, _hashes, _lists, _sets, _strings
from bolt.state._handlers import SLOW, CommandSpec, Handler, Reply, Stamper, delete_event
from bolt.state._strings import check_batch, fast_get, fast_put_events, put_events

COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for module in (_strings, _counters, _lists, _sets, _hashes)
    for spec in module.SPECS
}
"""Every data command by name."""

__all__ = [
    "COMMANDS",
    "SLOW",
    "CommandSpec",
    "Handler",
    "Reply",
    "Stamper",
    "check_batch",
    "delete_event",
    "fast_get",
    "fast_put_events",
    "put_events",
]
