"""``boltctl watch PATTERN``: print each committed change of matching keys.

One line per change event, as it is committed (and durable), in log order::

    offset=41 KeyPut agent:1 value='busy'

With ``--json`` each record is one JSON object per line. ``--count N``
stops after N records; otherwise it runs until Ctrl-C (exit 0). If the
server drops the watch because this terminal fell behind, the line
``watch dropped: ...; resume from offset N`` goes to stderr and the exit
status is 4 (no answer), like a lost connection.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

_SKIPPED = frozenset({"event", "database", "key", "origin", "seq", "hlc"})


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``watch`` subcommand to boltctl's ``subparsers``."""
    from bolt.cli._connect import add_connection_options

    parser = subparsers.add_parser(
        "watch",
        help="print each committed change of keys matching a glob pattern",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("pattern", help="glob pattern of the keys (agent:*, task:?, *)")
    parser.add_argument("--count", type=int, default=None, metavar="N", help="stop after N")
    add_connection_options(parser, suppress=True)
    parser.set_defaults(handler=run_watch)
    return parser


def format_change(change: dict[str, Any]) -> list[str]:
    """The text lines of one record's changes."""
    lines = []
    for entry in change.get("changes", []):
        fields = " ".join(f"{k}={v!r}" for k, v in entry.items() if k not in _SKIPPED)
        database = f"[{entry['database']}] " if entry.get("database") else ""
        line = f"offset={change['offset']} {entry['event']} {database}{entry['key']}"
        lines.append(f"{line} {fields}".rstrip())
    return lines


def run_watch(args: argparse.Namespace) -> int:
    """Watch until ``--count`` records, Ctrl-C, or a dropped watch."""
    from bolt.cli._connect import UsageError, open_client, resolve
    from bolt.cli._output import write_text
    from bolt.cli._run import EXIT_NO_ANSWER, report_failure, usage_error
    from bolt.errors import BoltError, FeedDroppedError

    try:
        client = open_client(resolve(args))
    except UsageError as exc:
        return usage_error(str(exc))
    except (BoltError, OSError) as exc:
        return report_failure(exc, bool(getattr(args, "json", False)))
    seen = 0
    try:
        for change in client.subscribe_keys(args.pattern):
            if getattr(args, "json", False):
                write_text(json.dumps(change, default=repr))
            else:
                for line in format_change(change):
                    write_text(line)
            sys.stdout.flush()
            seen += 1
            if args.count is not None and seen >= args.count:
                break
    except FeedDroppedError as exc:
        report_failure(exc, bool(getattr(args, "json", False)))
        return EXIT_NO_ANSWER
    except (BoltError, OSError) as exc:
        return report_failure(exc, bool(getattr(args, "json", False)))
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
    return 0
