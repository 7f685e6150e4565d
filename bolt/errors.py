"""The Bolt error tree.

Every error has a stable integer ``code`` and a stable ``name`` (``WRONGTYPE``,
``NOT_INTEGER`` ...). Both travel on the wire; the client rebuilds the same
class from the code with :func:`error_from_code`, so callers never classify
errors by message text.

Classes are grouped by who is at fault:

* :class:`RequestError` -- the request itself is wrong (type, number, size).
* :class:`AccessError` -- who is asking is not allowed.
* :class:`ServerError` -- the server cannot do it right now (memory, disk).
* :class:`BoltConnectionError` / :class:`ProtocolError` -- the network or
  the bytes on it.
* :class:`StorageError` -- the data on disk (corruption, a newer format).

Where a builtin exception means the same thing, the Bolt class inherits it
too, so ``except ValueError`` or ``except ConnectionError`` keep working. Bolt
never shadows a builtin name inside this module: the alias names the seed
promised (``bolt_client.ConnectionError``) are made in the client package.
"""

from __future__ import annotations

import builtins


class BoltError(Exception):
    """Root of every error Bolt raises on purpose."""

    code: int = 1
    name: str = "ERR"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.name)
        self.message = message or self.name

    def __str__(self) -> str:
        return self.message


# --- the request is wrong -------------------------------------------------


class RequestError(BoltError):
    """The request is malformed or does not fit the data it touches."""

    code = 100
    name = "BAD_REQUEST"


class BadRequestError(RequestError, builtins.ValueError):
    """Arguments of the wrong shape or type."""

    code = 101
    name = "BAD_REQUEST"


class WrongTypeError(RequestError, builtins.TypeError):
    """The operation does not apply to the type of value the key holds."""

    code = 102
    name = "WRONGTYPE"


class NotIntegerError(RequestError, builtins.ValueError):
    """A value that must be a 64-bit signed integer is not one."""

    code = 103
    name = "NOT_INTEGER"


class IntegerOverflowError(RequestError, builtins.OverflowError):
    """The result would not fit in a 64-bit signed integer."""

    code = 104
    name = "OVERFLOW"


class TooLargeError(RequestError, builtins.ValueError):
    """A key, value, batch or frame is over its limit (see ``bolt.limits``)."""

    code = 105
    name = "TOO_LARGE"


class UnknownCommandError(RequestError, builtins.ValueError):
    """The server does not know the command."""

    code = 106
    name = "UNKNOWN_COMMAND"


class KeyNotFoundError(RequestError, builtins.KeyError):
    """The key (or user, or task) does not exist where it must."""

    code = 107
    name = "NOT_FOUND"

    def __str__(self) -> str:  # KeyError quotes its argument; keep the plain text
        return self.message


class NotFloatError(RequestError, builtins.ValueError):
    """An argument or stored value is not a valid float (INCRBYFLOAT)."""

    code = 120
    name = "NOT_FLOAT"


# --- who is asking is not allowed -------------------------------------------


class AccessError(BoltError):
    """Authentication or authorisation refused the request."""

    code = 200
    name = "ACCESS_DENIED"


class AuthenticationError(AccessError, builtins.PermissionError):
    """Wrong user name or password, or authentication is required."""

    code = 201
    name = "AUTH_FAILED"


class NoPermissionError(AccessError, builtins.PermissionError):
    """The user's role does not allow the command."""

    code = 202
    name = "NO_PERMISSION"


class LoginTimeoutError(AccessError, builtins.TimeoutError):
    """A connection did not log in (or send its HELLO) within the login timeout."""

    code = 210
    name = "LOGIN_TIMEOUT"


# --- the server cannot do it now ----------------------------------------------


class ServerError(BoltError):
    """The server could not carry out a valid request."""

    code = 300
    name = "SERVER_ERROR"


class OutOfMemoryError(ServerError):
    """The memory limit is reached and the eviction policy frees nothing."""

    code = 301
    name = "OUT_OF_MEMORY"


class TooManyConnectionsError(ServerError, builtins.ConnectionRefusedError):
    """The server is at ``BOLT_MAX_CONNECTIONS``."""

    code = 302
    name = "TOO_MANY_CONNECTIONS"


class DiskError(ServerError, builtins.OSError):
    """Writing or syncing the log failed; the server stops taking writes."""

    code = 303
    name = "DISK_ERROR"


class ShuttingDownError(ServerError):
    """The server is stopping and takes no new requests."""

    code = 304
    name = "SHUTTING_DOWN"


class ClockSkewError(ServerError):
    """A remote hybrid-clock reading is too far ahead of the local wall clock."""

    code = 305
    name = "CLOCK_SKEW"


class ClusterError(ServerError):
    """No node of the cluster could serve the request."""

    code = 306
    name = "CLUSTER_ERROR"


class NodeJoiningError(ClusterError):
    """A node whose data directory is new is learning its own past writes from
    its peers (a wiped node reusing an old seq would have its writes skipped
    as duplicates); retry in a moment."""

    code = 307
    name = "NODE_JOINING"


class OutputLimitError(ServerError):
    """A connection left its replies or pushes unread past the server's hard limit."""

    code = 310
    name = "OUTPUT_LIMIT"


class InputBudgetError(ServerError):
    """The server-wide budget for bytes of partially received requests is used up."""

    code = 311
    name = "INPUT_BUDGET"


class FullSyncError(ClusterError):
    """A full sync could not be completed (cut, inconsistent, or not persisted).

    The receiver's state is untouched or only joined with what it received
    (a join never loses data); nothing is acknowledged, so the sender starts
    the full sync again on the next connection.
    """

    code = 360
    name = "FULL_SYNC_FAILED"


class FeedDroppedError(ServerError):
    """A change-feed subscriber fell too far behind and was dropped.

    ``resume_offset`` is the first offset it did not receive: read the log
    from there (``Engine.read_changes``) and subscribe again.
    """

    code = 350
    name = "FEED_DROPPED"

    def __init__(self, message: str = "", resume_offset: int = -1) -> None:
        super().__init__(message)
        self.resume_offset = resume_offset


class ClusterMismatchError(ClusterError):
    """The nodes a cluster client was given do not form one cluster."""

    code = 330
    name = "CLUSTER_MISMATCH"


class PeerAuthenticationError(AccessError, builtins.PermissionError):
    """A peer gave a wrong node id or failed the cluster-secret challenge."""

    code = 220
    name = "PEER_AUTH_FAILED"


# --- the network or the bytes on it -----------------------------------------------


class BoltConnectionError(BoltError, builtins.ConnectionError):
    """The connection failed, closed, or could not be made."""

    code = 400
    name = "CONNECTION_ERROR"


class ProtocolError(BoltError):
    """Bytes on the wire that do not form a valid Bolt message."""

    code = 401
    name = "PROTOCOL_ERROR"


class BoltTimeoutError(BoltError, builtins.TimeoutError):
    """No reply arrived within the client's timeout."""

    code = 402
    name = "TIMEOUT"


class WriteOutcomeUnknownError(BoltConnectionError):
    """The connection broke after a non-idempotent write was sent.

    The write may or may not have been applied; the client did not re-send it.
    """

    code = 403
    name = "OUTCOME_UNKNOWN"


class WrongProtocolError(ProtocolError):
    """The client speaks another protocol on this port (a Redis client on the Bolt port).

    ``reply`` holds one line in the client's own protocol that says where to go.
    """

    code = 121
    name = "WRONG_PROTOCOL"

    def __init__(self, message: str, reply: bytes = b"") -> None:
        super().__init__(message)
        self.reply = reply


class PeerProtocolError(ProtocolError):
    """A peer speaks another cluster protocol version, or broke the peer protocol."""

    code = 420
    name = "PEER_PROTOCOL"


class PeerRefusedError(BoltConnectionError):
    """The peer refused this node's link (it names why)."""

    code = 421
    name = "PEER_REFUSED"


class IdleTimeoutError(BoltConnectionError):
    """A logged-in connection sent nothing for ``BOLT_IDLE_TIMEOUT_MS`` and was closed."""

    code = 410
    name = "IDLE_TIMEOUT"


# --- the data on disk ------------------------------------------------------------


class StorageError(BoltError):
    """The data directory is damaged or unreadable."""

    code = 500
    name = "STORAGE_ERROR"


class CorruptionError(StorageError):
    """A record before the end of the log is damaged.

    Carries the segment ``path`` and byte ``position`` of the damage.
    """

    code = 501
    name = "CORRUPTION"

    def __init__(self, message: str = "", path: str = "", position: int = -1) -> None:
        super().__init__(message)
        self.path = path
        self.position = position


class FormatVersionError(StorageError):
    """The data was written by a newer Bolt format than this one reads."""

    code = 502
    name = "FORMAT_VERSION"


class NotADataDirectoryError(StorageError):
    """The path given is not a Bolt data directory (or does not exist)."""

    code = 503
    name = "NOT_A_DATA_DIR"


class HistoryUnavailableError(StorageError):
    """The requested point is older than what the log and snapshot still hold."""

    code = 504
    name = "HISTORY_UNAVAILABLE"


class LogTrimmedError(StorageError):
    """Records needed were removed (by a live daemon's retention) while reading."""

    code = 505
    name = "LOG_TRIMMED"


class SnapshotCorruptionError(CorruptionError):
    """A snapshot entry (or a shard's metadata, or the LMDB file) fails its check.

    Carries the ``shard`` index and the ``key`` name ("" when the damage is
    not in one entry) besides the file ``path``.
    """

    code = 510
    name = "SNAPSHOT_CORRUPTION"

    def __init__(self, message: str = "", path: str = "", shard: int = -1, key: str = "") -> None:
        super().__init__(message, path)
        self.shard = shard
        self.key = key


class ConfigError(BoltError, builtins.ValueError):
    """A configuration value (environment variable or flag) is invalid."""

    code = 600
    name = "CONFIG_ERROR"


# --- tasks (bolt.agents) -----------------------------------------------------


class TaskNotFoundError(KeyNotFoundError):
    """No task has this id (in this database)."""

    code = 140
    name = "TASK_NOT_FOUND"


class StaleAttemptError(RequestError):
    """The attempt (fencing token) is not the task's current claim.

    The lease expired and the task went back to pending (and may be claimed by
    another agent): the old holder's completion, failure or renewal is refused.
    """

    code = 141
    name = "STALE_ATTEMPT"


class TaskStateError(RequestError):
    """The task's status does not allow this (complete a cancelled task, retry a pending one)."""

    code = 142
    name = "TASK_STATE"


class TaskExistsError(RequestError):
    """A task with this id already exists."""

    code = 143
    name = "TASK_EXISTS"


class TaskTimeoutError(BoltError, builtins.TimeoutError):
    """``wait_for_task`` (or a blocking claim) ran out of time; the task is unchanged."""

    code = 340
    name = "TASK_TIMEOUT"


class TaskNotHomeError(ClusterError):
    """This node does not decide the task: its home node does (see DESIGN: tasks on
    several nodes). ``TASK.HOME`` forwards it there; ``home`` names the node."""

    code = 144
    name = "TASK_NOT_HOME"

    def __init__(self, message: str = "", home: str = "") -> None:
        super().__init__(message)
        self.home = home


class TaskHomeUnavailableError(ClusterError):
    """The task's home node cannot be reached and its tasks are not taken over yet
    (``BOLT_TASK_FAILOVER_DELAY_MS``): nothing changed; try again later."""

    code = 145
    name = "TASK_HOME_UNAVAILABLE"


# --- hashes (resp2) ----------------------------------------------------------


class HashValueNotIntegerError(NotIntegerError):
    """HINCRBY met a hash field whose value is not a 64-bit integer."""

    code = 122
    name = "HASH_NOT_INTEGER"


def _all_classes() -> list[type[BoltError]]:
    found: list[type[BoltError]] = []
    pending: list[type[BoltError]] = [BoltError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


_BY_CODE: dict[int, type[BoltError]] = {}


def _index() -> dict[int, type[BoltError]]:
    if not _BY_CODE:
        for cls in _all_classes():
            if cls.__module__ == __name__:
                _BY_CODE[cls.code] = cls
    return _BY_CODE


def error_from_code(code: int, message: str) -> BoltError:
    """Rebuild the exception for a wire ``code``; unknown codes give ``BoltError``.

    Args:
        code: the integer code sent by the server.
        message: the human-readable text sent with it.

    Returns:
        An instance of the class registered for ``code``.
    """
    cls = _index().get(code, BoltError)
    error = cls(message)
    if cls is BoltError:
        error.code = code
    return error
