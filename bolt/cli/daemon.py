"""``bolt``: the daemon's command line (also ``python -m bolt``).

Theory of operation
-------------------
Every ``BOLT_*`` variable of :data:`bolt.config.SETTINGS` has a matching
flag (``BOLT_WAL_FSYNC`` → ``--wal-fsync``) whose help text names the
variable and its default, so ``bolt --help`` documents the whole
configuration. A flag wins over its variable. The raw texts go through
:func:`bolt.config.load_config`, the one place values are validated: a bad
value prints ``bolt: invalid BOLT_PORT='x': ...`` (or ``--port``) and exits
with status 2 before anything is opened.

Exit status: 0 after a clean stop (SIGTERM/SIGINT), 2 for a configuration
error, 1 when the data directory or a port cannot be used, 130 when
interrupted before the signal handlers were installed.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Sequence

from bolt import __version__

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def build_parser() -> argparse.ArgumentParser:
    """The ``bolt`` argument parser: one flag per setting, plus ``--version``."""
    from bolt.config import SETTINGS

    parser = argparse.ArgumentParser(
        prog="bolt",
        description=(
            "Bolt: the state engine for AI-agent swarms. Runs one node: the client port, "
            "the metrics port (/metrics, /health, /ready) and the durable event log."
        ),
        epilog=(
            "Every flag overrides the environment variable named in its help. Without "
            "BOLT_ADMIN_PASSWORD (and without BOLT_AUTH=false, and no users stored in the "
            "data directory) Bolt runs in protected mode: no logins, loopback only. With "
            "BOLT_ADMIN_PASSWORD it listens on 0.0.0.0 (every interface) unless BOLT_HOST "
            "says otherwise; the metrics port stays on BOLT_METRICS_HOST (127.0.0.1). "
            "HELLO carries passwords in plain text: use TLS across a network. SIGTERM or "
            "SIGINT stops it cleanly (exit 0)."
        ),
    )
    for setting in SETTINGS:
        default = setting.default if setting.default not in (None, "") else "unset"
        help_text = f"{setting.help} [env {setting.env}; default: {default}]"
        parser.add_argument(
            "--" + setting.field.replace("_", "-"),
            dest=setting.field,
            metavar="BOOL" if _is_boolean(setting.env, setting.default) else setting.field.upper(),
            default=None,
            help=help_text.replace("%", "%%"),
        )
    parser.add_argument("--version", action="version", version=f"bolt {__version__}")
    return parser


def _is_boolean(env: str, default: str | None) -> bool:
    return default in ("true", "false") or env == "BOLT_AUTH"


def configure_logging(level: str) -> None:
    """Log to stderr at ``level`` with time, level and logger name."""
    logging.basicConfig(level=getattr(logging, level), format=LOG_FORMAT, stream=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the daemon until it is stopped; return the process exit status."""
    import trio

    from bolt.config import SETTINGS, load_config
    from bolt.errors import ConfigError, CorruptionError, StorageError
    from bolt.server import Daemon, ReadyInfo

    args = build_parser().parse_args(argv)
    overrides = {setting.field: getattr(args, setting.field) for setting in SETTINGS}
    try:
        config = load_config(os.environ, overrides)
    except ConfigError as exc:
        print(f"bolt: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_level)
    # The daemon holds millions of small objects and its hot path makes no
    # reference cycles: collect the youngest generation far less often than
    # the default (every 700 allocations). Recovery freezes what it loads.
    gc.set_threshold(50_000, 20, 20)

    def on_ready(info: ReadyInfo) -> None:
        print(info.line(), file=sys.stderr, flush=True)

    try:
        trio.run(Daemon(config).run, on_ready)
    except ConfigError as exc:
        print(f"bolt: {exc}", file=sys.stderr)
        return 2
    except CorruptionError as exc:
        print(
            f"bolt: {exc}\nbolt: the log is damaged before its end; inspect it with "
            "`boltctl replay verify` before starting again",
            file=sys.stderr,
        )
        return 1
    except StorageError as exc:
        print(f"bolt: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"bolt: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bolt: interrupted during startup", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
