"""The seed's import names and exception aliases."""

from __future__ import annotations

import builtins

import bolt_client
from bolt import client, errors


def test_seed_names_are_exported() -> None:
    for name in (
        "BoltClient",
        "AsyncBoltClient",
        "BoltError",
        "ConnectionError",
        "AuthenticationError",
        "PermissionError",
        "ClusterError",
        "KeyNotFoundError",
        "WrongTypeError",
        "NotIntegerError",
        "IntegerOverflowError",
        "TooLargeError",
        "OutOfMemoryError",
        "UnknownCommandError",
        "BadRequestError",
        "BoltTimeoutError",
        "WriteOutcomeUnknownError",
    ):
        assert getattr(bolt_client, name) is getattr(client, name)
    assert set(bolt_client.__all__) <= set(client.__all__)


def test_aliases_subclass_the_builtins_they_shadow() -> None:
    assert bolt_client.ConnectionError is errors.BoltConnectionError
    assert bolt_client.PermissionError is errors.NoPermissionError
    assert issubclass(bolt_client.ConnectionError, builtins.ConnectionError)
    assert issubclass(bolt_client.PermissionError, builtins.PermissionError)
    assert issubclass(bolt_client.AuthenticationError, builtins.PermissionError)
    assert issubclass(bolt_client.KeyNotFoundError, builtins.KeyError)
    assert issubclass(bolt_client.BoltTimeoutError, builtins.TimeoutError)
    assert issubclass(bolt_client.WriteOutcomeUnknownError, builtins.ConnectionError)
    for name in ("ConnectionError", "PermissionError"):
        assert issubclass(getattr(bolt_client, name), bolt_client.BoltError)


def test_seed_example_names_resolve() -> None:
    from bolt_client import BoltClient

    client_object = BoltClient(host="127.0.0.1", port=8518, username="admin", password="secret")
    assert client_object.address == ("127.0.0.1", 8518)
    assert not client_object.connected
