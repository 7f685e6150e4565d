"""State: shards of views, the pure ``apply``, commands, expiry and eviction.

``apply(keyspace, event)`` is the CRDT merge of one event; command handlers in
``COMMANDS`` validate a request against the views and produce events. Nothing
here does I/O; LMDB snapshots live in ``bolt.state.snapshot``.
"""

from bolt.state import _commands_redis  # noqa: F401  (registers the Redis-only commands)
from bolt.state._apply import apply
from bolt.state._commands import (
    COMMANDS,
    READS_EACH,
    READS_NONE,
    READS_ONE,
    SLOW,
    CommandSpec,
    Stamper,
    check_batch,
    delete_event,
    fast_get,
    fast_put_events,
    put_events,
)
from bolt.state._commands import Serving as Serving
from bolt.state._commands import serving as serving
from bolt.state._digest import state_digest as state_digest
from bolt.state._entry import TYPE_NAMES, Entry
from bolt.state._gc import NEVER as NO_TOMBSTONE_LEFT
from bolt.state._gc import Collected, tombstone_count
from bolt.state._gc import collect as collect_tombstones
from bolt.state._gc import collect_candidates as collect_tombstones_of
from bolt.state._gc import collect_names as collect_tombstones_in
from bolt.state._glob import compile_glob, glob_to_regex
from bolt.state._keyspace import Keyspace, Shard, UserRecord, key_name, split_name
from bolt.state._merge import (
    BODY_MERGES,
    copy_entry,
    forget_bodies,
    forget_seen,
    forget_unsent,
    merge_dots,
    merge_entries,
    merge_entry,
    merge_tasks,
    merge_users,
    task_from_wire,
    task_rank,
    user_from_wire,
    user_to_wire,
)
from bolt.state._task_apply import TASK_HANDLERS
from bolt.state._task_commands import TASK_COMMANDS
from bolt.state._tasks import (
    DISPATCH_BOUNDS_MS,
    TASK_FINISHED,
    TASK_PENDING,
    TaskRecord,
    TaskStatistics,
    TaskView,
)
from bolt.state._upkeep import after_eviction, eviction_events, reclaim_expired, write_growth
from bolt.state._validate import database as validate_database

COMMANDS.update(TASK_COMMANDS)  # the task commands (bolt.state._task_commands)

__all__ = [
    "BODY_MERGES",
    "COMMANDS",
    "DISPATCH_BOUNDS_MS",
    "NO_TOMBSTONE_LEFT",
    "READS_EACH",
    "READS_NONE",
    "READS_ONE",
    "SLOW",
    "TASK_FINISHED",
    "TASK_HANDLERS",
    "TASK_PENDING",
    "TYPE_NAMES",
    "Collected",
    "CommandSpec",
    "Entry",
    "Keyspace",
    "Shard",
    "Stamper",
    "TaskRecord",
    "TaskStatistics",
    "TaskView",
    "UserRecord",
    "after_eviction",
    "apply",
    "check_batch",
    "collect_tombstones",
    "collect_tombstones_in",
    "collect_tombstones_of",
    "compile_glob",
    "copy_entry",
    "delete_event",
    "eviction_events",
    "fast_get",
    "fast_put_events",
    "forget_bodies",
    "forget_seen",
    "forget_unsent",
    "glob_to_regex",
    "key_name",
    "merge_dots",
    "merge_entries",
    "merge_entry",
    "merge_tasks",
    "merge_users",
    "put_events",
    "reclaim_expired",
    "split_name",
    "task_from_wire",
    "task_rank",
    "tombstone_count",
    "user_from_wire",
    "user_to_wire",
    "validate_database",
    "write_growth",
]
