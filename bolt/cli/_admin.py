"""The server and user-management commands of ``boltctl``.

``ping``, ``stats``, ``metrics`` and ``cluster`` read the server's state;
``useradd``, ``userdel``, ``users``, ``passwd``, ``role`` and ``whoami`` manage
users (all but ``whoami`` need the ``admin`` role; the server refuses others
with ``NO_PERMISSION``, exit status 3). A password left off the command
line is read from the terminal without echo (asked twice), or as one line
of standard input when it is piped, so it never has to appear in ``ps``.
"""

from __future__ import annotations

import argparse

from bolt.cli import _stats
from bolt.cli._connect import read_secret
from bolt.cli._output import Shape
from bolt.cli._run import Command, argument, is_false

ROLES = ("admin", "readwrite", "readonly")

NAME = argument("name", "the user name")
PASSWORD = argument(
    "new_password",
    "the password (omit it to type it, or pipe it on stdin)",
    nargs="?",
    default=None,
    metavar="password",
)


def _ask_password(args: argparse.Namespace) -> None:
    if args.new_password is None:
        args.new_password = read_secret(f"password for {args.name}: ")


COMMANDS: tuple[Command, ...] = (
    Command("ping", "check the server answers (PONG)", (), lambda c, a: c.ping(), Shape.VALUE),
    Command(
        "stats",
        "a summary of server statistics (--all or --json: every number)",
        (("--all", {"action": "store_true", "help": "print every statistic"}),),
        _stats.call,
        Shape.MAPPING,
        description="A short summary of the server's statistics as name:value lines. "
        "--all prints the whole STATS reply as flattened key:value lines, --json as JSON.",
        examples=("boltctl stats", "boltctl stats --all", "boltctl stats --json"),
    ),
    Command(
        "metrics",
        "the server's metrics in the Prometheus text format",
        (),
        lambda c, a: c.metrics(),
        Shape.TEXT,
    ),
    Command(
        "cluster",
        "cluster status: node id, peers and their state, pending replication",
        (),
        lambda c, a: c.cluster_status(),
        Shape.MAPPING,
    ),
    Command(
        "digest",
        "state digest (total, per database, per shard): equal on converged nodes",
        (),
        lambda c, a: c.digest(),
        Shape.MAPPING,
    ),
    Command(
        "useradd",
        "create a user (admin only)",
        (
            NAME,
            PASSWORD,
            (
                "--role",
                {
                    "choices": ROLES,
                    "default": "readwrite",
                    "help": "the user's role (default readwrite)",
                },
            ),
        ),
        lambda c, a: c.useradd(a.name, a.new_password, a.role),
        Shape.OK,
        prepare=_ask_password,
        examples=("boltctl useradd alice --role readonly", "echo s3cret | boltctl useradd bob"),
    ),
    Command(
        "userdel",
        "delete a user (admin only; exit status 1 if there was none)",
        (NAME,),
        lambda c, a: c.userdel(a.name),
        Shape.OK,
        is_false,
    ),
    Command("users", "list users and their roles", (), lambda c, a: c.users(), Shape.USERS),
    Command(
        "passwd",
        "change a user's password (admin only)",
        (NAME, PASSWORD),
        lambda c, a: c.passwd(a.name, a.new_password),
        Shape.OK,
        prepare=_ask_password,
    ),
    Command(
        "role",
        "change a user's role (admin only)",
        (NAME, argument("role", "the new role", choices=ROLES)),
        lambda c, a: c.set_role(a.name, a.role),
        Shape.OK,
    ),
    Command(
        "whoami",
        "the user and role of this connection",
        (),
        lambda c, a: c.whoami(),
        Shape.MAPPING,
    ),
)
"""The server and user commands, in the order ``boltctl --help`` lists them."""
