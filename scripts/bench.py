#!/usr/bin/env python3
"""Run the Bolt benchmark against a running server (the same as ``boltctl bench``).

Usage: ``python scripts/bench.py --port 8518 -c 50 -P 16``; ``--help`` lists
every option. Connection settings also come from ``BOLT_HOST``,
``BOLT_PORT``, ``BOLT_USER`` and ``BOLT_PASSWORD``.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import bolt  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bolt.cli.bench import main

if __name__ == "__main__":
    sys.exit(main())
