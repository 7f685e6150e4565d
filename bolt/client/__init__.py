"""The Bolt SDK: a blocking client, a trio client, and cluster failover.

``BoltClient`` is the seed's API (``from bolt_client import BoltClient``);
``AsyncBoltClient`` offers the same methods as coroutines for trio programs.
Both drive the sans-IO codec of :mod:`bolt.wire` and raise the classes of
:mod:`bolt.errors`. This package also binds the names the seed promised,
``ConnectionError`` and ``PermissionError``, to Bolt classes that subclass
the builtins of the same name, so ``except ConnectionError`` catches them
whether it means the builtin or this alias.
"""

from bolt.client._async import AsyncBoltClient, connect_async
from bolt.client._cluster import parse_node, parse_nodes
from bolt.client._commands import RETRY_SAFE_COMMANDS, Value
from bolt.client._options import hello_args
from bolt.client._pipeline import AsyncPipeline, Pipeline
from bolt.client._sync import BoltClient
from bolt.errors import (
    AuthenticationError,
    BadRequestError,
    BoltConnectionError,
    BoltError,
    BoltTimeoutError,
    ClusterError,
    IntegerOverflowError,
    KeyNotFoundError,
    NoPermissionError,
    NotIntegerError,
    OutOfMemoryError,
    ProtocolError,
    TooLargeError,
    TooManyConnectionsError,
    UnknownCommandError,
    WriteOutcomeUnknownError,
    WrongTypeError,
)
from bolt.wire import Push

ConnectionError = BoltConnectionError  # the seed's name; subclasses the builtin
PermissionError = NoPermissionError  # the seed's name; subclasses the builtin

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
    "hello_args",
    "parse_node",
    "parse_nodes",
]
