"""The error tree: stable codes and names, builtin bases, rebuilt from codes.

Errors travel as ``(code, name, message)``; the client rebuilds the class with
``error_from_code``. Codes and names are a public contract, so the table is
pinned here: changing one breaks old clients.
"""

from __future__ import annotations

import builtins

import pytest

from bolt import errors
from bolt.errors import BoltError, CorruptionError, KeyNotFoundError, error_from_code

EXPECTED: dict[str, tuple[int, str, tuple[type, ...]]] = {
    "BoltError": (1, "ERR", ()),
    "RequestError": (100, "BAD_REQUEST", ()),
    "BadRequestError": (101, "BAD_REQUEST", (builtins.ValueError,)),
    "WrongTypeError": (102, "WRONGTYPE", (builtins.TypeError,)),
    "NotIntegerError": (103, "NOT_INTEGER", (builtins.ValueError,)),
    "IntegerOverflowError": (104, "OVERFLOW", (builtins.OverflowError,)),
    "TooLargeError": (105, "TOO_LARGE", (builtins.ValueError,)),
    "UnknownCommandError": (106, "UNKNOWN_COMMAND", (builtins.ValueError,)),
    "KeyNotFoundError": (107, "NOT_FOUND", (builtins.KeyError,)),
    "AccessError": (200, "ACCESS_DENIED", ()),
    "AuthenticationError": (201, "AUTH_FAILED", (builtins.PermissionError,)),
    "NoPermissionError": (202, "NO_PERMISSION", (builtins.PermissionError,)),
    "ServerError": (300, "SERVER_ERROR", ()),
    "OutOfMemoryError": (301, "OUT_OF_MEMORY", ()),
    "TooManyConnectionsError": (302, "TOO_MANY_CONNECTIONS", (builtins.ConnectionRefusedError,)),
    "DiskError": (303, "DISK_ERROR", (builtins.OSError,)),
    "ShuttingDownError": (304, "SHUTTING_DOWN", ()),
    "ClockSkewError": (305, "CLOCK_SKEW", ()),
    "NodeJoiningError": (307, "NODE_JOINING", ()),
    "ClusterError": (306, "CLUSTER_ERROR", ()),
    "FeedDroppedError": (350, "FEED_DROPPED", ()),
    "BoltConnectionError": (400, "CONNECTION_ERROR", (builtins.ConnectionError,)),
    "ProtocolError": (401, "PROTOCOL_ERROR", ()),
    "BoltTimeoutError": (402, "TIMEOUT", (builtins.TimeoutError,)),
    "WriteOutcomeUnknownError": (403, "OUTCOME_UNKNOWN", (builtins.ConnectionError,)),
    "StorageError": (500, "STORAGE_ERROR", ()),
    "CorruptionError": (501, "CORRUPTION", ()),
    "FormatVersionError": (502, "FORMAT_VERSION", ()),
    "NotADataDirectoryError": (503, "NOT_A_DATA_DIR", ()),
    "HistoryUnavailableError": (504, "HISTORY_UNAVAILABLE", ()),
    "LogTrimmedError": (505, "LOG_TRIMMED", ()),
    "SnapshotCorruptionError": (510, "SNAPSHOT_CORRUPTION", ()),
    "ConfigError": (600, "CONFIG_ERROR", (builtins.ValueError,)),
    "ClusterMismatchError": (330, "CLUSTER_MISMATCH", ()),
    "PeerAuthenticationError": (220, "PEER_AUTH_FAILED", (builtins.PermissionError,)),
    "PeerProtocolError": (420, "PEER_PROTOCOL", ()),
    "PeerRefusedError": (421, "PEER_REFUSED", (builtins.ConnectionError,)),
    "LoginTimeoutError": (210, "LOGIN_TIMEOUT", (builtins.TimeoutError,)),
    "OutputLimitError": (310, "OUTPUT_LIMIT", ()),
    "InputBudgetError": (311, "INPUT_BUDGET", ()),
    "IdleTimeoutError": (410, "IDLE_TIMEOUT", (builtins.ConnectionError,)),
    # tasks (bolt.agents)
    "TaskNotFoundError": (140, "TASK_NOT_FOUND", (builtins.KeyError,)),
    "StaleAttemptError": (141, "STALE_ATTEMPT", ()),
    "TaskStateError": (142, "TASK_STATE", ()),
    "TaskExistsError": (143, "TASK_EXISTS", ()),
    "TaskTimeoutError": (340, "TASK_TIMEOUT", (builtins.TimeoutError,)),
    "NotFloatError": (120, "NOT_FLOAT", (builtins.ValueError,)),
    "WrongProtocolError": (121, "WRONG_PROTOCOL", ()),
    "TaskNotHomeError": (144, "TASK_NOT_HOME", ()),
    "TaskHomeUnavailableError": (145, "TASK_HOME_UNAVAILABLE", ()),
    "FullSyncError": (360, "FULL_SYNC_FAILED", ()),
    "HashValueNotIntegerError": (122, "HASH_NOT_INTEGER", (builtins.ValueError,)),
}


def _classes() -> dict[str, type[BoltError]]:
    return {
        name: cls
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, BoltError)
    }


def test_the_table_is_complete() -> None:
    assert set(_classes()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_code_name_and_bases(name: str) -> None:
    cls = _classes()[name]
    code, wire_name, builtin_bases = EXPECTED[name]
    assert cls.code == code
    assert cls.name == wire_name
    for base in builtin_bases:
        assert issubclass(cls, base)
    error = cls("boom") if cls is not CorruptionError else cls("boom", path="p", position=3)
    assert isinstance(error, BoltError)
    assert str(error) == "boom"
    assert error.message == "boom"


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in _classes().values()]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_error_from_code_rebuilds_the_same_class(name: str) -> None:
    cls = _classes()[name]
    rebuilt = error_from_code(cls.code, "the message")
    assert type(rebuilt) is cls
    assert rebuilt.code == cls.code
    assert str(rebuilt) == "the message"


def test_unknown_code_gives_a_plain_bolt_error_keeping_the_code() -> None:
    rebuilt = error_from_code(9999, "from a newer server")
    assert type(rebuilt) is BoltError
    assert rebuilt.code == 9999
    assert BoltError.code == 1  # the class attribute is untouched
    assert str(rebuilt) == "from a newer server"


def test_empty_message_falls_back_to_the_name() -> None:
    assert str(errors.WrongTypeError()) == "WRONGTYPE"


def test_key_not_found_prints_plainly() -> None:
    error = KeyNotFoundError("no such task")
    assert str(error) == "no such task"
    with pytest.raises(KeyError):
        raise error


def test_corruption_carries_path_and_position() -> None:
    error = CorruptionError("bad record", path="/d/0.log", position=42)
    assert (error.path, error.position) == ("/d/0.log", 42)
    assert isinstance(error, errors.StorageError)


def test_builtin_except_clauses_catch_bolt_errors() -> None:
    with pytest.raises(ConnectionError):
        raise errors.BoltConnectionError("down")
    with pytest.raises(TypeError):
        raise errors.WrongTypeError("list")
    with pytest.raises(OverflowError):
        raise errors.IntegerOverflowError("big")
    with pytest.raises(PermissionError):
        raise errors.NoPermissionError("readonly")
