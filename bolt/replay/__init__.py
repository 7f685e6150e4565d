"""The log-replay debugger: read a data directory's log when something goes wrong.

Everything here is read-only and safe on the directory of a running daemon
(no lock is taken, nothing is written): the log is read with
:class:`bolt.log.LogReader`, the snapshot with a read-only LMDB environment.
State is rebuilt with the engine's own ``apply`` and read back through the
real command handlers, never a second implementation.

* :func:`open_data_dir` — check and open a directory;
* :func:`describe` (``info``), :func:`verify`, :func:`dump` / :class:`Follower`
  (``dump``, ``dump --follow``), :func:`rebuild` (``state``), :func:`history`,
  :func:`diff`.

The command line is ``boltctl replay ...`` (:mod:`bolt.cli.replay`).
"""

from bolt.errors import HistoryUnavailableError, LogTrimmedError, NotADataDirectoryError
from bolt.replay._diff import DiffResult, KeyDifference, LastEvent, ShardDigest, diff, shard_digests
from bolt.replay._dump import DumpedEvent, DumpStream, EventFilter, Follower, dump, parse_types
from bolt.replay._history import HistoryEntry, KeyHistory, history
from bolt.replay._info import DataDirInfo, SegmentSummary, SnapshotSummary, describe
from bolt.replay._points import Point, format_ms, parse_point, parse_time, parse_wall_ms
from bolt.replay._source import Damage, DataDir, RecordStream, open_data_dir
from bolt.replay._state import KeyView, RebuiltState, iter_keys, live_users, read_key, rebuild
from bolt.replay._verify import VerifyResult, verify

__all__ = [
    "Damage",
    "DataDir",
    "DataDirInfo",
    "DiffResult",
    "DumpStream",
    "DumpedEvent",
    "EventFilter",
    "Follower",
    "HistoryEntry",
    "HistoryUnavailableError",
    "KeyDifference",
    "KeyHistory",
    "KeyView",
    "LastEvent",
    "LogTrimmedError",
    "NotADataDirectoryError",
    "Point",
    "RebuiltState",
    "RecordStream",
    "SegmentSummary",
    "ShardDigest",
    "SnapshotSummary",
    "VerifyResult",
    "describe",
    "diff",
    "dump",
    "format_ms",
    "history",
    "iter_keys",
    "live_users",
    "open_data_dir",
    "parse_point",
    "parse_time",
    "parse_types",
    "parse_wall_ms",
    "read_key",
    "rebuild",
    "shard_digests",
    "verify",
]
