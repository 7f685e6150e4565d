"""``boltctl replay``: the log-replay debugger on the command line.

Subcommands (all read-only, safe on the directory of a running daemon)::

    boltctl replay info DIR                    segments, snapshot, counts, version vector
    boltctl replay verify DIR                  CRC and framing of every record
    boltctl replay dump DIR [filters]          events in order (--json, --follow)
    boltctl replay state DIR [--at OFFSET|TIME] the state as of a point
    boltctl replay history DIR KEY             every event that touched KEY
    boltctl replay diff DIR_A DIR_B            where two nodes disagree

Exit codes: 0 ok; 1 a problem was found (verify not clean, diff found
differences, history found no event, or damage stopped a read after printing
what precedes it); 2 usage error, not a data directory, or unreadable.

This module only builds the argument parser at import time: ``rich``,
``lmdb`` and the replay library are imported inside the handlers, so
``import bolt.cli.boltctl`` stays cheap. :func:`register` adds the ``replay``
group to boltctl's subparsers; every subcommand stores its handler as
``func`` (``args.func(args)`` returns the exit code). ``python -m
bolt.cli.replay ...`` runs the group on its own.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from bolt.replay import Damage, DataDir
    from bolt.replay._render import ProgressBar

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_ERROR = 2

Handler = Callable[[argparse.Namespace], int]


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``replay`` subcommand group to boltctl's argparse ``subparsers``.

    Returns:
        The ``replay`` parser. Each subcommand sets ``func``: call
        ``args.func(args)`` and exit with the integer it returns.
    """
    parser = subparsers.add_parser(
        "replay",
        help="inspect a data directory's log offline (info, verify, dump, state, history, diff)",
        description="Read a Bolt data directory's log and snapshot without changing them "
        "(safe while the daemon runs). Exit codes: 0 ok, 1 problem found, 2 error.",
    )
    commands = parser.add_subparsers(dest="replay_command", metavar="SUBCOMMAND", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    _add_log_commands(commands, common)
    _add_state_commands(commands, common)
    return parser


def _add_log_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """``info``, ``verify`` and ``dump``: what the log holds."""
    info = commands.add_parser("info", parents=[common], help="segments, snapshot, counts")
    info.add_argument("dir", metavar="DIR", help="the data directory")
    info.add_argument("--json", action="store_true", help="one JSON object")
    info.set_defaults(func=run_info)

    verify = commands.add_parser("verify", parents=[common], help="check every record")
    verify.add_argument("dir", metavar="DIR", help="the data directory")
    verify.add_argument("--json", action="store_true", help="one JSON object")
    verify.add_argument(
        "--allow-torn-tail",
        action="store_true",
        help="exit 0 despite a torn tail (e.g. on a directory being written)",
    )
    verify.set_defaults(func=run_verify)

    dump = commands.add_parser("dump", parents=[common], help="events in order, filtered")
    dump.add_argument("dir", metavar="DIR", help="the data directory")
    _add_filters(dump)
    dump.add_argument("--json", action="store_true", help="one JSON object per line")
    dump.add_argument("--follow", "-f", action="store_true", help="keep tailing a live log")
    dump.add_argument("--limit", type=int, metavar="N", help="stop after N events")
    dump.set_defaults(func=run_dump)


def _add_state_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """``state``, ``history`` and ``diff``: what the log's events made."""
    state = commands.add_parser("state", parents=[common], help="the state as of a point")
    state.add_argument("dir", metavar="DIR", help="the data directory")
    state.add_argument(
        "--at",
        metavar="OFFSET|TIME",
        help="an offset (inclusive) or a time (ISO, HH:MM, -10m, ms:N, hlc:N); default: the end",
    )
    state.add_argument("--key", metavar="GLOB", help="only keys matching this glob")
    state.add_argument("--db", metavar="DB", help="only this database")
    state.add_argument("--now", metavar="TIME", help="judge expiry at this time instead")
    state.add_argument(
        "--use-snapshot",
        action="store_true",
        help="start from the snapshot when it can serve the point (faster on long logs)",
    )
    state.add_argument("--json", action="store_true", help="one JSON document on stdout")
    state.add_argument("--output", "-o", metavar="FILE", help="write the JSON document to FILE")
    state.set_defaults(func=run_state)

    history = commands.add_parser("history", parents=[common], help="every event of one key")
    history.add_argument("dir", metavar="DIR", help="the data directory")
    history.add_argument("key", metavar="KEY", help="the key (exact, not a glob)")
    history.add_argument("--db", default="", metavar="DB", help='its database (default: "")')
    history.add_argument("--json", action="store_true", help="one JSON object per line")
    history.set_defaults(func=run_history)

    diff = commands.add_parser("diff", parents=[common], help="compare two nodes' states and logs")
    diff.add_argument("dir_a", metavar="DIR_A", help="the first node's data directory")
    diff.add_argument("dir_b", metavar="DIR_B", help="the second node's data directory")
    diff.add_argument("--json", action="store_true", help="one JSON object")
    diff.add_argument("--limit", type=int, default=100, metavar="N", help="keys shown (100)")
    diff.add_argument("--shards", type=int, default=64, metavar="N", help="digest shards (64)")
    diff.add_argument("--now", metavar="TIME", help="judge expiry at this time (default: now)")
    diff.set_defaults(func=run_diff)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="from_offset", type=int, metavar="OFFSET", default=0)
    parser.add_argument("--to", dest="to_offset", type=int, metavar="OFFSET", help="inclusive")
    parser.add_argument("--since", metavar="TIME", help="ISO, HH:MM, -10m, ms:N or hlc:N")
    parser.add_argument("--until", metavar="TIME", help="inclusive, same forms as --since")
    parser.add_argument("--key", metavar="GLOB", help="keys matching this glob")
    parser.add_argument("--db", metavar="DB", help="only this database")
    parser.add_argument("--type", metavar="TYPE[,TYPE]", help="event types, e.g. KeyDeleted")
    parser.add_argument("--origin", metavar="NODE", action="append", help="only this origin")


# --- plumbing ------------------------------------------------------------------------


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def _guarded(body: Handler) -> Handler:
    """Run a handler; turn typed errors into a message on stderr and an exit code."""

    def run(args: argparse.Namespace) -> int:
        from bolt.errors import BoltError, CorruptionError

        try:
            code = body(args)
            sys.stdout.flush()  # a closed pipe must surface here, not at exit
            return code
        except BrokenPipeError:
            # The reader went away (``| head``): stop quietly, without a traceback.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return EXIT_OK
        except CorruptionError as error:
            _error(str(error))
            return EXIT_PROBLEM
        except BoltError as error:  # bad input, not a data dir, newer format, unreadable
            _error(str(error))
            return EXIT_ERROR
        except OSError as error:
            _error(f"{error.filename or ''}: {error.strerror or error}".lstrip(": "))
            return EXIT_ERROR

    run.__doc__ = body.__doc__
    return run


def _json(obj: Any) -> str:
    from bolt.replay._render import dumps

    return dumps(obj)


def _error(message: str) -> None:
    print(f"boltctl replay: {message}", file=sys.stderr)


def _stderr() -> Console:
    from bolt.replay._render import make_console

    return make_console(stderr=True)


def _progress(
    args: argparse.Namespace, description: str, total: int, *, streaming: bool = False
) -> ProgressBar:
    """A progress bar on stderr; none for a command streaming its output to the terminal."""
    from bolt.replay._render import ProgressBar

    quiet = args.no_progress or (streaming and sys.stdout.isatty())
    return ProgressBar(None if quiet else _stderr(), description, total)


def _report_damage(damage: Damage | None) -> int:
    if damage is None:
        return EXIT_OK
    _error(
        f"stopped at damage before offset {damage.offset}: {damage.message}. "
        "Everything before it was read."
    )
    return EXIT_PROBLEM


def _open(path: str) -> DataDir:
    from bolt.replay import open_data_dir

    return open_data_dir(path)


# --- info and verify -----------------------------------------------------------------


@_guarded
def run_info(args: argparse.Namespace) -> int:
    """``replay info DIR``."""
    from bolt.replay import describe
    from bolt.replay._render import make_console
    from bolt.replay._reports import print_info

    data_dir = _open(args.dir)
    with _progress(args, "reading the log", data_dir.log_bytes()) as bar:
        found = describe(data_dir, bar)
    if args.json:
        print(_json(found.to_json()))
    else:
        print_info(make_console(), found)
    return _report_damage(found.damage)


@_guarded
def run_verify(args: argparse.Namespace) -> int:
    """``replay verify DIR``."""
    from bolt.replay import verify
    from bolt.replay._render import make_console
    from bolt.replay._reports import print_verify

    data_dir = _open(args.dir)
    with _progress(args, "decoding records", data_dir.log_bytes()) as bar:
        result = verify(data_dir, bar)
    if args.json:
        print(_json(result.to_json()))
    else:
        print_verify(make_console(), result, allow_torn_tail=args.allow_torn_tail)
    return EXIT_OK if result.clean(allow_torn_tail=args.allow_torn_tail) else EXIT_PROBLEM


# --- dump --------------------------------------------------------------------------------


def _event_filter(args: argparse.Namespace) -> Any:
    from bolt.replay import EventFilter, parse_time, parse_types

    return EventFilter(
        from_offset=args.from_offset,
        to_offset=args.to_offset,
        since_hlc=parse_time(args.since, now_ms=_wall_clock_ms) if args.since else None,
        until_hlc=parse_time(args.until, now_ms=_wall_clock_ms, upper=True) if args.until else None,
        key_glob=args.key,
        db=args.db,
        types=parse_types(args.type) if args.type else frozenset(),
        origins=frozenset(args.origin or ()),
    )


def _limited(events: Iterator[Any], limit: int | None) -> Iterator[Any]:
    for count, item in enumerate(events):
        if limit is not None and count >= limit:
            return
        yield item


@_guarded
def run_dump(args: argparse.Namespace) -> int:
    """``replay dump DIR [filters]``."""
    from bolt.errors import BadRequestError
    from bolt.replay import dump

    if args.limit is not None and args.limit < 0:
        raise BadRequestError("--limit must not be negative")
    event_filter = _event_filter(args)
    data_dir = _open(args.dir)
    if args.follow:
        return _follow(args, data_dir, event_filter)
    total = data_dir.log_bytes(event_filter.from_offset)
    with _progress(args, "reading the log", total, streaming=True) as bar:
        stream = dump(data_dir, event_filter, bar)
        _write_events(args, _limited(iter(stream), args.limit))
    if stream.clamped_from is not None:
        _error(
            f"note: offsets before {stream.first_offset} were removed from the log (they are "
            "covered by the snapshot); the dump starts there"
        )
    return _report_damage(stream.damage)


def _write_events(args: argparse.Namespace, events: Iterator[Any]) -> None:
    from bolt.replay._render import event_json, make_console, print_event_rows, write_json_line

    if args.json:
        out = sys.stdout
        for found in events:
            write_json_line(out, event_json(found.offset, found.index, found.event))
    else:
        print_event_rows(make_console(), ((found.offset, found.event) for found in events))


def _follow(args: argparse.Namespace, data_dir: DataDir, event_filter: Any) -> int:
    from bolt.replay import Follower
    from bolt.replay._render import (
        EVENT_COLUMNS,
        event_json,
        event_row,
        make_console,
        new_table,
        write_json_line,
    )

    follower = Follower(data_dir, event_filter)
    if follower.clamped_from is not None:
        _error(
            f"note: offsets before {follower.next_offset} were removed from the log; "
            "following from there"
        )
    console = make_console()
    printed = 0
    try:
        for found in _limited(iter(follower), args.limit):
            if args.json:
                write_json_line(sys.stdout, event_json(found.offset, found.index, found.event))
                sys.stdout.flush()
            else:  # one row at a time: a live tail cannot wait to fill a table chunk
                table = new_table(*EVENT_COLUMNS, header=printed == 0)
                table.add_row(*event_row(found.offset, found.event))
                console.print(table)
                sys.stdout.flush()
            printed += 1
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


# --- state ---------------------------------------------------------------------------------


@_guarded
def run_state(args: argparse.Namespace) -> int:
    """``replay state DIR [--at OFFSET|TIME]``."""
    from bolt.replay import iter_keys, parse_point, parse_wall_ms, rebuild
    from bolt.replay._json_out import write_state_json
    from bolt.replay._render import make_console
    from bolt.replay._reports import print_state

    point = parse_point(args.at, now_ms=_wall_clock_ms) if args.at else None
    moment = parse_wall_ms(args.now, now_ms=_wall_clock_ms) if args.now else None
    data_dir = _open(args.dir)
    output = Path(args.output) if args.output else None
    if output is not None and output.resolve().is_relative_to(data_dir.path.resolve()):
        from bolt.errors import BadRequestError

        raise BadRequestError(f"refusing to write {output} inside the data directory it reads")
    with _progress(args, "replaying", data_dir.log_bytes()) as bar:
        state = rebuild(
            data_dir,
            point,
            prefer_snapshot=args.use_snapshot,
            now_ms=_wall_clock_ms,
            progress=bar,
        )
    if moment is not None:
        state.moment_ms = moment
    views = iter_keys(state.keyspace, state.moment_ms, pattern=args.key, db=args.db)
    if output is not None:
        with output.open("w", encoding="utf-8") as file:
            write_state_json(file, data_dir, state, views)
    elif args.json:
        write_state_json(sys.stdout, data_dir, state, views)
    else:
        print_state(make_console(), state, views)
    return _report_damage(state.damage)


# --- history and diff --------------------------------------------------------------------


@_guarded
def run_history(args: argparse.Namespace) -> int:
    """``replay history DIR KEY``."""
    from bolt.replay import history
    from bolt.replay._json_out import write_history_json
    from bolt.replay._render import make_console
    from bolt.replay._reports import print_history

    data_dir = _open(args.dir)
    with _progress(args, "reading the log", data_dir.log_bytes(), streaming=True) as bar:
        found = history(data_dir, args.db, args.key, bar)
        if args.json:
            write_history_json(sys.stdout, found)
        else:
            print_history(make_console(), found, iter(found))
    code = _report_damage(found.damage)
    if found.count == 0 and found.initial is None:
        where = f" in db {args.db!r}" if args.db else ""
        _error(f"no event in the retained log touched key {args.key!r}{where}")
        return EXIT_PROBLEM
    return code


@_guarded
def run_diff(args: argparse.Namespace) -> int:
    """``replay diff DIR_A DIR_B``."""
    from bolt.replay import diff, parse_wall_ms
    from bolt.replay._json_out import diff_json
    from bolt.replay._render import make_console
    from bolt.replay._reports import print_diff

    moment = parse_wall_ms(args.now, now_ms=_wall_clock_ms) if args.now else _wall_clock_ms()
    dir_a, dir_b = _open(args.dir_a), _open(args.dir_b)
    total = dir_a.log_bytes() + dir_b.log_bytes()
    with _progress(args, "replaying both logs", total) as bar:
        result = diff(
            dir_a,
            dir_b,
            now_ms=lambda: moment,
            shard_count=args.shards,
            limit=args.limit,
            progress=bar,
        )
    if args.json:
        print(_json(diff_json(result)))
    else:
        print_diff(make_console(), result)
    code = max(_report_damage(result.state_a.damage), _report_damage(result.state_b.damage))
    return code if result.same else EXIT_PROBLEM


TIME_OPTIONS = frozenset({"--since", "--until", "--at", "--now"})
"""Options whose value may be a relative time that starts with a dash."""


def attach_relative_times(argv: list[str]) -> list[str]:
    """Rewrite ``--since -5m`` as ``--since=-5m`` so argparse takes ``-5m`` as a value.

    argparse reads any word that starts with ``-`` (and is not a plain
    negative number) as an option, so a relative time after a space would be
    refused with "expected one argument". Only a value that *is* a relative
    time is attached; anything else is left for argparse to judge.
    """
    from bolt.replay._points import is_relative_time

    result: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        if token == "--":
            return result + argv[index:]
        following = argv[index + 1] if index + 1 < len(argv) else None
        if token in TIME_OPTIONS and following is not None and is_relative_time(following):
            result.append(f"{token}={following}")
            index += 2
            continue
        result.append(token)
        index += 1
    return result


def main(argv: list[str] | None = None) -> int:
    """Run ``replay`` on its own: ``python -m bolt.cli.replay [replay] SUBCOMMAND ...``."""
    argv = attach_relative_times(list(sys.argv[1:] if argv is None else argv))
    if not argv or argv[0] != "replay":
        argv.insert(0, "replay")
    parser = argparse.ArgumentParser(prog="boltctl", description="Bolt's log-replay debugger")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register(commands)
    args = parser.parse_args(argv)
    handler: Handler = args.func
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
