"""``boltctl tasks``: list, inspect, retry and cancel the tasks of a running server.

``boltctl tasks list [--type T] [--status S]``, ``show ID``, ``dead [--type T]``,
``retry ID``, ``cancel ID``, ``stats``; each with ``--json`` for one line of
JSON. A missing task exits 1; a refused request (retrying a pending task)
exits 3, as every boltctl command does (see ``boltctl --help``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from bolt.cli import _output
from bolt.cli._connect import UsageError, add_connection_options, open_client, resolve
from bolt.cli._run import EXIT_MISSING, EXIT_OK, report_error, report_failure, usage_error
from bolt.errors import BoltError, TaskNotFoundError

STATUSES = ("pending", "claimed", "completed", "failed", "dead", "cancelled")
_COLUMNS = ("id", "type", "status", "attempt", "agent", "priority", "updated")


def _when(ms: int | None) -> str:
    if not ms:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


def _rows(tasks: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            t["id"],
            t["type"],
            t["status"],
            str(t["attempt"]),
            t["agent_id"] or "-",
            str(t["priority"]),
            _when(t["updated_at_ms"]),
        ]
        for t in tasks
    ]


def _list(client: Any, args: argparse.Namespace, status: str | None) -> Any:
    return client.execute_command("TASK.LIST", args.type, status, args.limit)


def _print_tasks(tasks: list[dict[str, Any]], title: str) -> None:
    if not tasks:
        _output.write_text("(empty list)")
        return
    _output.write_table(title, _COLUMNS, _rows(tasks), sys.stdout)


def cmd_list(client: Any, args: argparse.Namespace) -> tuple[Any, Callable[[Any], None]]:
    """``tasks list``: tasks oldest first, filtered by type and status."""
    return _list(client, args, args.status), lambda r: _print_tasks(r, "tasks")


def cmd_dead(client: Any, args: argparse.Namespace) -> tuple[Any, Callable[[Any], None]]:
    """``tasks dead``: the dead-letter tasks (out of attempts)."""
    return _list(client, args, "dead"), lambda r: _print_tasks(r, "dead letters")


def _print_task(task: dict[str, Any]) -> None:
    lines = [
        f"{key}: {value}"
        for key, value in _output.flatten(
            {k: v for k, v in _output.to_json(task).items() if v not in (None, [], {})}
        )
    ]
    _output.write_text("\n".join(lines))


def _one(client: Any, command: str, args: argparse.Namespace) -> Any:
    if command == "TASK.GET":
        reply = client.execute_command("TASK.GET", args.id)
        if reply is None:
            raise TaskNotFoundError(f"no task '{args.id}'")
        return reply
    db = getattr(client, "database", "") or ""
    return client.execute_command("TASK.HOME", command, [args.id], db)  # on its deciding node


def cmd_show(client: Any, args: argparse.Namespace) -> tuple[Any, Callable[[Any], None]]:
    """``tasks show ID``: every field of one task."""
    return _one(client, "TASK.GET", args), _print_task


def cmd_retry(client: Any, args: argparse.Namespace) -> tuple[Any, Callable[[Any], None]]:
    """``tasks retry ID``: a dead, failed or cancelled task back to pending."""
    return _one(client, "TASK.RETRY", args), _print_task


def cmd_cancel(client: Any, args: argparse.Namespace) -> tuple[Any, Callable[[Any], None]]:
    """``tasks cancel ID``: cancel a pending or claimed task."""
    _one(client, "TASK.CANCEL", args)
    task = _one(client, "TASK.GET", args)
    return task, _print_task


def _print_stats(stats: dict[str, Any]) -> None:
    rows = [
        [task_type, *(str(counts.get(s, 0)) for s in STATUSES)]
        for task_type, counts in sorted(stats["types"].items())
    ]
    _output.write_table("tasks by type", ("type", *STATUSES), rows, sys.stdout)
    totals = {k: v for k, v in stats.items() if k.endswith("_total")}
    _output.write_text("\n".join(f"{k}: {v}" for k, v in totals.items()))


def cmd_stats(client: Any, args: argparse.Namespace) -> tuple[Any, Callable[[Any], None]]:
    """``tasks stats``: queue depth per type and status, and the totals."""
    return client.execute_command("TASK.STATS"), _print_stats


ACTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "list": (cmd_list, "tasks, oldest first (filter with --type, --status)"),
    "show": (cmd_show, "every field of one task"),
    "dead": (cmd_dead, "the dead letters: tasks out of attempts"),
    "retry": (cmd_retry, "put a dead, failed or cancelled task back to pending"),
    "cancel": (cmd_cancel, "cancel a pending or claimed task"),
    "stats": (cmd_stats, "queue depth per type and status, and totals"),
}


def run_tasks(args: argparse.Namespace) -> int:
    """Connect, run the chosen action, print its outcome; the exit status."""
    action = ACTIONS[args.action][0]
    as_json = bool(getattr(args, "json", False))
    try:
        client = open_client(resolve(args))
        try:
            result, printer = action(client, args)
        finally:
            client.close()
    except UsageError as exc:
        return usage_error(str(exc))
    except TaskNotFoundError as exc:
        report_error(exc, as_json)
        return EXIT_MISSING
    except (BoltError, OSError) as exc:
        return report_failure(exc, as_json)
    if as_json:
        _output.write_text(_output.render_json(result))
    else:
        printer(result)
    return EXIT_OK


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``boltctl tasks`` (the extension contract of :mod:`bolt.cli.boltctl`)."""
    parser = subparsers.add_parser(
        "tasks",
        help="list, inspect, retry and cancel tasks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="<action>", required=True)
    for name, (_, summary) in ACTIONS.items():
        sub = actions.add_parser(name, help=summary, description=summary)
        if name in ("show", "retry", "cancel"):
            sub.add_argument("id", help="the task id")
        if name in ("list", "dead"):
            sub.add_argument("--type", default=None, help="only tasks of this type")
            sub.add_argument("--limit", type=int, default=1000, help="most tasks shown")
        if name == "list":
            sub.add_argument("--status", choices=STATUSES, default=None)
        add_connection_options(sub, suppress=True)  # includes --json
    add_connection_options(parser, suppress=True)
    parser.set_defaults(handler=run_tasks)
    return parser
