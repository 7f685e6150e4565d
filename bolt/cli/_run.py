"""Running one ``boltctl`` command: connect, call, print, choose the exit status.

Theory of operation
-------------------
A server command of ``boltctl`` is a :class:`Command`: its arguments (as
argparse keyword sets), a function that calls the SDK, the :class:`Shape`
of its reply, and what counts as *missing*. :func:`run` is the one place
that turns outcomes into output and exit statuses, so every command behaves
the same way:

===========  =======================================================  ====
exit status  meaning                                                  out
===========  =======================================================  ====
0            success                                                  stdout
1            missing: no such key / user, empty list (``(nil)``)      stdout
2            bad usage: a flag, variable or argument is invalid       stderr
3            the server refused the request (``WRONGTYPE`` ...)       stderr
4            no answer: connection refused or lost, timeout           stderr
130          interrupted (Ctrl-C)                                     --
===========  =======================================================  ====

Every command waits for its reply: nothing is fire-and-forget, and a write
is reported done only once the server said so.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bolt.cli import _output
from bolt.cli._connect import UsageError, open_client, resolve
from bolt.cli._output import Shape
from bolt.errors import (
    BoltConnectionError,
    BoltError,
    BoltTimeoutError,
    ProtocolError,
)

EXIT_OK = 0
EXIT_MISSING = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_NO_ANSWER = 4
EXIT_INTERRUPTED = 130

Caller = Callable[[Any, argparse.Namespace], Any]
"""Calls the SDK: ``(client, parsed arguments) -> reply``."""


def is_nil(result: Any) -> bool:
    """The default "missing" rule: the reply is ``None``."""
    return result is None


def is_false(result: Any) -> bool:
    """Say "missing" for replies that say whether something existed (``userdel``)."""
    return result is None or result is False


@dataclass(frozen=True)
class Command:
    """One ``boltctl`` subcommand that sends a request to the server.

    Attributes:
        name: the subcommand (``get``).
        summary: one line for ``boltctl --help``.
        arguments: ``(name, argparse keyword arguments)`` pairs, in order.
        call: sends the request and returns the reply.
        shape: how the reply is printed.
        missing: ``None`` (nothing is ever missing) or a predicate on the
            reply; when it holds the exit status is 1. The printed reply
            (``(nil)``, ``(integer) 0``, ``null``) says it all, as in
            redis-cli: nothing goes to stderr.
        prepare: run on the parsed arguments before connecting (e.g. to
            prompt for a password, so no connection idles while the user types).
        description: longer text for ``boltctl NAME --help``.
        examples: command lines shown in ``boltctl NAME --help``.
    """

    name: str
    summary: str
    arguments: tuple[tuple[str, Mapping[str, Any]], ...]
    call: Caller
    shape: Shape
    missing: Callable[[Any], bool] | None = None
    prepare: Callable[[argparse.Namespace], None] | None = None
    description: str = ""
    examples: tuple[str, ...] = field(default_factory=tuple)


def argument(name: str, help: str, **kwargs: Any) -> tuple[str, Mapping[str, Any]]:
    """An argparse positional argument for a :class:`Command`."""
    return name, {"help": help, **kwargs}


def value_arg(text: str) -> str | bytes:
    """A value from the command line: bytes that were not UTF-8 stay bytes.

    ``sys.argv`` decodes such bytes as lone surrogates; encoding them back
    the same way sends the user's exact bytes rather than failing to encode.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")
    return text


def run(command: Command, args: argparse.Namespace) -> int:
    """Connect, run ``command`` with ``args``, print the outcome.

    Returns:
        The exit status (see the module docstring).
    """
    as_json = bool(getattr(args, "json", False))
    try:
        options = resolve(args)
        if command.prepare is not None:
            command.prepare(args)
        client = open_client(options)
        try:
            result = command.call(client, args)
        finally:
            client.close()
    except UsageError as exc:
        return usage_error(str(exc))
    except (BoltError, OSError) as exc:
        return report_failure(exc, as_json)
    return show(command, args, result)


def show(command: Command, args: argparse.Namespace, result: Any) -> int:
    """Print a reply and return the exit status (1 when it means "missing")."""
    as_json = bool(getattr(args, "json", False))
    text = _output.render_json(result) if as_json else _output.render(result, command.shape)
    _output.write_text(text)
    if command.missing is not None and command.missing(result):
        return EXIT_MISSING
    return EXIT_OK


def report_failure(error: BoltError | OSError, as_json: bool) -> int:
    """Report a request that failed on stderr and return its exit status.

    Returns:
        4 (no answer) for a lost, timed-out or garbled connection, or an
        ``OSError`` from below the client (e.g. a TLS handshake failure);
        3 (refused) for every other error the server answered with.
    """
    if not isinstance(error, BoltError):
        error = BoltConnectionError(str(error))
    report_error(error, as_json)
    no_answer = isinstance(error, BoltConnectionError | BoltTimeoutError | ProtocolError)
    return EXIT_NO_ANSWER if no_answer else EXIT_REFUSED


def report_error(error: BoltError, as_json: bool) -> None:
    """Write a typed error to stderr (text or JSON)."""
    name = getattr(error, "name", type(error).__name__)
    if as_json:
        _output.write_error(_output.error_json(error.code, name, error.message))
    else:
        _output.write_error(_output.error_text(name, error.message))


def usage_error(message: str) -> int:
    """Report a bad flag, variable or argument; returns exit status 2."""
    _output.write_error(f"boltctl: error: {message}")
    return EXIT_USAGE
