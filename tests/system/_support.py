"""Helpers shared by the system tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bolt.testing import clean_environment


def run_bolt(
    tmp_path: Path, env: dict[str, str], args: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bolt`` to its exit (for configurations it must refuse).

    Ports 0 and a data directory under ``tmp_path`` are set as ``BOLT_*``
    variables, so ``env`` and ``args`` override them.
    """
    defaults = {"BOLT_PORT": "0", "BOLT_METRICS_PORT": "0", "BOLT_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "-m", "bolt", *(args or [])],
        env=clean_environment({**defaults, **env}),
        capture_output=True,
        check=False,
        text=True,
        timeout=30,
    )
