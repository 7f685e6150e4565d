"""State: shards of views, the pure ``apply``, commands, expiry and eviction.

``apply(keyspace, event)`` is the CRDT merge of one event; command handlers in
``COMMANDS`` validate a request against the views and produce events. Nothing
here does I/O; LMDB snapshots live in ``bolt.state.snapshot``.
"""

from bolt.state import _commands_redis  # noqa: F401  (registers the Redis-only commands)
from bolt.state._apply import apply
from bolt.state._commands import COMMANDS, CommandSpec, Stamper
from bolt.state._entry import TYPE_NAMES, Entry
from bolt.state._glob import compile_glob, glob_to_regex
from bolt.state._keyspace import Keyspace, Shard, UserRecord, key_name, split_name

__all__ = [
    "COMMANDS",
    "TYPE_NAMES",
    "CommandSpec",
    "Entry",
    "Keyspace",
    "Shard",
    "Stamper",
    "UserRecord",
    "apply",
    "compile_glob",
    "glob_to_regex",
    "key_name",
    "split_name",
]
