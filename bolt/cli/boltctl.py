"""``boltctl``: the command-line client of Bolt.

Theory of operation
-------------------
This module only builds the argument parser and dispatches; each group of
subcommands lives in its own module: :mod:`bolt.cli._kv` (data commands),
:mod:`bolt.cli._admin` (server and users), :mod:`bolt.cli.bench` (the
benchmark), with connection options in :mod:`bolt.cli._connect`, output in
:mod:`bolt.cli._output` and the run/exit-status rules in :mod:`bolt.cli._run`.

Importing it is cheap: no SDK, rich, textual or lmdb until a command runs.
Subcommands owned by other packages (``replay``, ``top``) are *extensions*:
their module is imported, and its ``register(subparsers)`` called, only when
that subcommand is the one being run; otherwise ``boltctl --help`` lists
them from :data:`EXTENSIONS` without importing anything.

Extension contract: ``register(subparsers)`` adds one parser named like the
subcommand and sets a default ``handler`` (or ``func``): a callable taking
the parsed :class:`argparse.Namespace` and returning the exit status (``None``
means 0). It may call :func:`bolt.cli._connect.add_connection_options` with
``suppress=True`` to take the shared connection flags.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from functools import partial
from typing import Any

from bolt.cli import _admin, _kv
from bolt.cli._connect import ENVIRONMENT_HELP, add_connection_options
from bolt.cli._run import EXIT_INTERRUPTED, Command, run

EXTENSIONS: dict[str, tuple[str, str]] = {
    # --- registration point of subcommands owned by other modules -----------
    # name: (module exposing register(subparsers), one line for --help).
    # The module is imported only when its subcommand runs.
    "replay": ("bolt.cli.replay", "inspect, verify and replay a data directory's event log"),
    "top": ("bolt.cli.top", "live dashboard of a running server"),
    "watch": ("bolt.cli.watch", "print each committed change of keys matching a pattern"),
    "tasks": ("bolt.cli._tasks", "list, inspect, retry and cancel tasks"),
}

BUILTIN_EXTENSIONS: dict[str, tuple[str, str]] = {
    "bench": ("bolt.cli.bench", "benchmark a running server (the README table)"),
}

EXIT_STATUS_HELP = """\
exit status:
  0 success, 1 missing key/user (prints (nil)), 2 bad usage,
  3 the server refused the request (error on stderr), 4 no answer (connection, timeout)"""

_VALUE_OPTIONS = frozenset(
    {"--host", "-p", "--port", "-u", "--user", "-a", "--password", "-n", "--db",
     "--tls-ca-file", "--timeout"}
)  # fmt: skip


class BoltctlParser(argparse.ArgumentParser):
    """An argument parser whose help is coloured by rich on a terminal.

    Abbreviated long options (``--pass`` for ``--password``) are refused, so
    :func:`command_name` can find the subcommand without parsing.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def print_help(self, file: Any = None) -> None:
        """Print the help text: highlighted on a terminal, plain otherwise."""
        stream = sys.stdout if file is None else file
        text = self.format_help()
        if not getattr(stream, "isatty", lambda: False)():
            stream.write(text)
            return
        from rich.console import Console
        from rich.highlighter import RegexHighlighter
        from rich.theme import Theme

        class HelpHighlighter(RegexHighlighter):
            base_style = "help."
            highlights = [
                r"(?P<heading>^[a-z][a-z ,()]*:$)",
                r"(?P<option>(?<![\w-])--?[a-zA-Z][\w-]*)",
                r"(?P<usage>^usage:)",
            ]

        theme = Theme({"help.heading": "bold yellow", "help.option": "cyan", "help.usage": "bold"})
        console = Console(file=stream, highlighter=HelpHighlighter(), theme=theme)
        console.print(text, markup=False, end="")


def command_name(argv: Sequence[str]) -> str | None:
    """The subcommand in ``argv``: the first word that is not an option or its value."""
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        if token == "--":
            return None
        if token.startswith("-"):
            skip = token in _VALUE_OPTIONS
            continue
        return token
    return None


def _add_command(subparsers: Any, command: Command) -> None:
    epilog = ""
    if command.examples:
        epilog = "examples:\n" + "\n".join(f"  {line}" for line in command.examples) + "\n\n"
    parser = subparsers.add_parser(
        command.name,
        help=command.summary,
        description=command.description or command.summary,
        epilog=epilog + EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for name, options in command.arguments:
        parser.add_argument(name, **options)
    add_connection_options(parser, suppress=True)
    parser.set_defaults(handler=partial(run, command))


def build_parser(selected: str | None = None) -> BoltctlParser:
    """The full ``boltctl`` parser.

    Args:
        selected: the subcommand about to run. Only that extension's module
            is imported (and registers its real parser); the others get a
            one-line placeholder so ``--help`` lists them.
    """
    parser = BoltctlParser(
        prog="boltctl",
        description="Command-line client of Bolt, the state engine for AI-agent swarms.",
        epilog=ENVIRONMENT_HELP + "\n\n" + EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_connection_options(parser)
    subparsers = parser.add_subparsers(
        title="commands", dest="command", metavar="<command>", required=True
    )
    for command in (*_kv.COMMANDS, *_admin.COMMANDS):
        _add_command(subparsers, command)
    for name, (module_name, summary) in {**BUILTIN_EXTENSIONS, **EXTENSIONS}.items():
        if name == selected:
            importlib.import_module(module_name).register(subparsers)
        elif name in BUILTIN_EXTENSIONS or importlib.util.find_spec(module_name) is not None:
            subparsers.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``boltctl`` with ``argv`` (default ``sys.argv[1:]``).

    Returns:
        The exit status (see ``boltctl --help``); also used by the console script.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        selected = command_name(arguments)
        if selected == "replay":
            from bolt.cli.replay import attach_relative_times

            arguments = attach_relative_times(arguments)
        parser = build_parser(selected)
        args = parser.parse_args(arguments)
        handler = getattr(args, "handler", None) or getattr(args, "func", None)
        if handler is None:
            parser.error(f"{args.command}: this subcommand is not available")
        status = handler(args)
        sys.stdout.flush()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return 0
    return int(status or 0)


def _silence_stdout() -> None:
    """After the reader of stdout went away (``| head``), keep exit from failing."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
