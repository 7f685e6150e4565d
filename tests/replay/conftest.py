"""Shared fixtures of the replay tests: data directories made once per session by
``scripts/make_replay_fixtures.py`` (a real Engine), and a way to run the CLI."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_script(name: str) -> ModuleType:
    path = REPO / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"replay_scripts_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


make_replay_fixtures = _load_script("make_replay_fixtures")


@pytest.fixture(scope="session")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Every fixture directory, generated once (see the script's docstring)."""
    return make_replay_fixtures.generate(tmp_path_factory.mktemp("replay-fixtures"))


@dataclass
class CliResult:
    """Exit code and output of one ``boltctl replay`` run."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout as one JSON document."""
        return json.loads(self.out)

    def json_lines(self) -> list[Any]:
        """stdout as JSON lines."""
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


def run_cli(*args: str | Path) -> CliResult:
    """Run ``boltctl replay SUBCOMMAND --no-progress ARGS`` in this process."""
    from bolt.cli.replay import main

    items = [str(a) for a in args]
    argv = [items[0], "--no-progress", *items[1:]] if items else []
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse usage errors
            code = int(exit_.code or 0)
    return CliResult(code, out.getvalue(), err.getvalue())


def run_module(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bolt.cli.replay ARGS`` as a real process."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "bolt.cli.replay", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def tree_fingerprint(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``root`` with its size, mtime and content."""
    found: dict[str, tuple[int, int, bytes]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            stat = path.stat()
            found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns, path.read_bytes())
    return found


def comparable(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keys reduced to what a client can read (no absolute expiry), sorted."""
    fields = ("db", "key", "type", "value", "ttl_seconds")
    return sorted(({f: k[f] for f in fields} for k in keys), key=lambda k: (k["db"], k["key"]))
