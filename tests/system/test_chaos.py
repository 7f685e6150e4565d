"""``scripts/chaos.py``: a short soak passes, and its checks do fail on bad outcomes."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "chaos.py"


def _load_chaos() -> Any:
    spec = importlib.util.spec_from_file_location("chaos_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_short_soak_passes_every_check(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--duration", "45", "--nodes", "3", "--seed", "7"]
    command += ["--data-dir", str(tmp_path / "chaos")]
    # Its own process group: if it overruns, it and every daemon it started go together.
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=150)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            raise AssertionError(f"the soak overran 150 s:\n{stdout}\n{stderr}") from None
    run = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    assert run.returncode == 0, run.stdout + run.stderr
    for check in (
        "digests equal",
        "set-full",
        "counters = acked increments",
        "no resurrection",
        "tombstones collected",
    ):
        assert any(
            line.startswith(f"| {check}") and "| PASS |" in line for line in run.stdout.splitlines()
        ), run.stdout
    assert "FAIL" not in run.stdout
    faults = next(line for line in run.stdout.splitlines() if line.startswith("faults:"))
    assert "none" not in faults  # faults were injected


def _views(chaos: Any, **changes: Any) -> list[Any]:
    good = {
        "digest": "ab" * 16,
        "members": {"sadd-1": {"w0-1", "w1-2"}},
        "counters": {"cincr-1": 5},
        "present_deleted": [],
        "tombstones": 0,
    }
    return [chaos.NodeView("n1", **good), chaos.NodeView("n2", **{**good, **changes})]


def _ledger(chaos: Any) -> Any:
    ledger = chaos.Ledger()
    ledger.members = {"sadd-1": {"w0-1", "w1-2"}}
    ledger.increments["cincr-1"] = 4
    ledger.maybe_increments["cincr-1"] = 1
    ledger.deleted = {"doomed-w0-3"}
    return ledger


def test_the_checks_fail_on_bad_outcomes() -> None:
    chaos = _load_chaos()
    ledger = _ledger(chaos)
    assert all(row.passed for row in chaos.evaluate(_views(chaos), ledger, True))

    def failed(views: list[Any], converged: bool = True) -> set[str]:
        return {row.check for row in chaos.evaluate(views, ledger, converged) if not row.passed}

    assert failed(_views(chaos), converged=False) == {"digests equal"}
    assert failed(_views(chaos, digest="cd" * 16)) == {"digests equal"}
    assert failed(_views(chaos, members={"sadd-1": {"w0-1"}})) == {
        "set-full (acked SADD everywhere)"
    }
    assert failed(_views(chaos, members={"sadd-1": {"w0-1", "w1-2", "ghost"}})) == {
        "set-full (acked SADD everywhere)"
    }
    assert failed(_views(chaos, counters={"cincr-1": 3})) == {"counters = acked increments"}
    assert failed(_views(chaos, counters={"cincr-1": 6})) == {"counters = acked increments"}
    assert failed(_views(chaos, present_deleted=["doomed-w0-3"])) == {"no resurrection"}
    assert failed(_views(chaos, tombstones=2)) == {"tombstones collected"}
    assert "| no resurrection | FAIL |" in chaos.table(
        chaos.evaluate(_views(chaos, present_deleted=["doomed-w0-3"]), ledger, True)
    )
