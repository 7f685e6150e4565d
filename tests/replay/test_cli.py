"""The command line as a real process: exit codes, cheap import, registration, progress."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import time
from typing import Any

import pytest

from bolt.cli import replay as cli
from bolt.replay import _render

from .conftest import REPO, run_module


def test_exit_codes_of_the_real_process(fixtures: Any) -> None:
    assert run_module("verify", fixtures.full).returncode == 0
    torn = run_module("replay", "verify", fixtures.torn)
    assert torn.returncode == 1 and "TORN TAIL" in torn.stdout
    missing = run_module("info", fixtures.root / "nope")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
    usage = run_module("dump")
    assert usage.returncode == 2 and "usage:" in usage.stderr


def test_a_closed_pipe_is_quiet(fixtures: Any) -> None:
    command = f"{sys.executable} -m bolt.cli.replay dump {fixtures.full} --json | head -n 1"
    done = subprocess.run(
        command,
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


def test_boltctl_runs_the_replay_group(fixtures: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from bolt.cli import boltctl

    assert boltctl.main(["replay", "verify", str(fixtures.full), "--no-progress"]) == 0
    assert capsys.readouterr().out.strip().endswith("clean")
    assert boltctl.main(["replay", "diff", str(fixtures.node_a), str(fixtures.node_b)]) == 1
    assert "DIFFERENT" in capsys.readouterr().out


def test_importing_the_cli_module_is_cheap() -> None:
    code = (
        "import sys, bolt.cli.replay\n"
        "names = ('rich', 'lmdb', 'trio', 'bolt.replay', 'msgpack')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO)},
        check=True,
    )
    assert done.stdout.strip() == ""


def test_register_adds_the_group_to_boltctl() -> None:
    parser = argparse.ArgumentParser(prog="boltctl")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("get")
    replay = cli.register(commands)
    assert isinstance(replay, argparse.ArgumentParser)
    args = parser.parse_args(["replay", "history", "/d", "k", "--db", "app"])
    assert args.func is cli.run_history and args.key == "k" and args.db == "app"
    args = parser.parse_args(["replay", "diff", "/a", "/b", "--json"])
    assert args.func is cli.run_diff and args.json
    with pytest.raises(SystemExit):
        parser.parse_args(["replay", "explode", "/d"])


def test_progress_bar_appears_only_after_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=100)
    with _render.ProgressBar(console, "replaying", 1000) as bar:
        bar(10)
        assert bar._progress is None  # not yet a second
        monkeypatch.setattr(_render, "PROGRESS_DELAY_SECONDS", 0.0)
        bar(500)
        assert bar._progress is not None
        bar(1000)
        time.sleep(0.05)
    assert "replaying" in stream.getvalue()
    quiet = io.StringIO()
    with _render.ProgressBar(Console(file=quiet), "x", 10) as plain:
        plain(10)  # not a terminal: never shown
    assert quiet.getvalue() == ""


def test_a_relative_time_needs_no_equals_sign(
    fixtures: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # argparse takes "-5m" for an option; "--since -5m" used to be refused.
    from bolt.cli import boltctl

    spelled = ["replay", "dump", str(fixtures.full), "--json", "--no-progress"]
    assert boltctl.main([*spelled, "--since", "-52560000m"]) == 0  # 100 years ago: all
    joined = capsys.readouterr().out
    assert boltctl.main([*spelled, "--since=-52560000m"]) == 0
    assert capsys.readouterr().out == joined and joined.count("\n") > 10
    assert cli.main(["dump", str(fixtures.full), "--json", "--until", "-1m"]) == 0
    assert capsys.readouterr().out == joined  # everything is older than a minute
