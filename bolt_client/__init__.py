"""The seed's import name for the Bolt SDK: a re-export of :mod:`bolt.client`.

``from bolt_client import BoltClient, ConnectionError`` keeps working for
code written against the earlier implementation. ``ConnectionError`` and
``PermissionError`` here are Bolt classes that subclass the builtins of the
same name.
"""

from bolt.client import (
    RETRY_SAFE_COMMANDS,
    AsyncBoltClient,
    AsyncPipeline,
    AuthenticationError,
    BadRequestError,
    BoltClient,
    BoltConnectionError,
    BoltError,
    BoltTimeoutError,
    ClusterError,
    ConnectionError,  # the seed's name; subclasses the builtin
    IntegerOverflowError,
    KeyNotFoundError,
    NoPermissionError,
    NotIntegerError,
    OutOfMemoryError,
    PermissionError,  # the seed's name; subclasses the builtin
    Pipeline,
    ProtocolError,
    Push,
    TooLargeError,
    TooManyConnectionsError,
    UnknownCommandError,
    Value,
    WriteOutcomeUnknownError,
    WrongTypeError,
    connect_async,
)

__all__ = [
    "RETRY_SAFE_COMMANDS",
    "AsyncBoltClient",
    "AsyncPipeline",
    "AuthenticationError",
    "BadRequestError",
    "BoltClient",
    "BoltConnectionError",
    "BoltError",
    "BoltTimeoutError",
    "ClusterError",
    "ConnectionError",
    "IntegerOverflowError",
    "KeyNotFoundError",
    "NoPermissionError",
    "NotIntegerError",
    "OutOfMemoryError",
    "PermissionError",
    "Pipeline",
    "ProtocolError",
    "Push",
    "TooLargeError",
    "TooManyConnectionsError",
    "UnknownCommandError",
    "Value",
    "WriteOutcomeUnknownError",
    "WrongTypeError",
    "connect_async",
]
