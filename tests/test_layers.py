"""The dependency rules of DESIGN §2, checked on the source.

Two rules, read off every ``import`` in ``bolt/`` (function-level ones too):

* **Direction**: each package imports only the packages below it in the
  design's table (the pure cores import no shell; the SDK imports no server).
* **Public surfaces**: a package never imports another package's private
  module (``bolt.state._keyspace`` from ``bolt.node``): what it needs is
  re-exported by that package's ``__init__`` (or a public module of it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "bolt"

# DESIGN §2: what each package may import (besides itself, the stdlib and
# third-party libraries). errors, limits and config are leaves for everyone.
ALLOWED: dict[str, set[str]] = {
    "crdt": {"errors", "limits"},
    "events": {"crdt", "errors", "limits"},
    "log": {"errors", "limits"},
    "state": {"crdt", "events", "errors", "limits"},
    "wire": {"errors", "limits"},
    "client": {"wire", "errors", "limits"},
    "agents": {"client", "wire", "errors", "limits"},
}
LEAVES = {"errors", "limits", "__init__", "__main__"}
# The shells (cli, tui, bench) may reach anything, imported lazily; these may not.
PUBLIC_ONLY = {*ALLOWED, "node", "server", "replay", "cluster"}


def _package_of(path: Path) -> str:
    relative = path.relative_to(ROOT)
    return relative.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
    return [(line, name) for line, name in found if name.split(".")[0] == "bolt"]


SOURCES = sorted(p for p in ROOT.rglob("*.py"))


@pytest.mark.parametrize(
    "path",
    [p for p in SOURCES if _package_of(p) in PUBLIC_ONLY],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_private_module_of_another_package_is_imported(path: Path) -> None:
    own = _package_of(path)
    bad: dict[str, int] = {}
    for line, name in _imports(path):
        parts = name.split(".")
        if len(parts) >= 3 and parts[1] != own and parts[2].startswith("_"):
            bad.setdefault(".".join(parts[:3]), line)
    assert not bad, "private modules of other packages:\n" + "\n".join(
        f"{path.relative_to(ROOT)}:{line} imports {name}" for name, line in bad.items()
    )
    assert not bad, "private modules of other packages:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "path",
    [p for p in SOURCES if _package_of(p) in ALLOWED],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_each_core_package_imports_only_what_is_below_it(path: Path) -> None:
    own = _package_of(path)
    allowed = ALLOWED[own] | LEAVES | {own}
    bad: dict[str, int] = {}
    for line, name in _imports(path):
        parts = name.split(".")
        if len(parts) >= 2 and parts[1] not in allowed and parts[1] != "__version__":
            bad.setdefault(".".join(parts[:2]), line)
    assert not bad, f"{own} may import only {sorted(ALLOWED[own])}:\n" + "\n".join(
        f"{path.relative_to(ROOT)}:{line} imports {name}" for name, line in bad.items()
    )


def test_the_checks_see_a_violation() -> None:
    # The rules above must be able to fail: feed them a module that breaks both.
    sample = ROOT / "crdt" / "_layers_probe.py"
    sample.write_text("from bolt.state._keyspace import Keyspace\n")
    try:
        with pytest.raises(AssertionError):
            test_no_private_module_of_another_package_is_imported(sample)
        with pytest.raises(AssertionError):
            test_each_core_package_imports_only_what_is_below_it(sample)
    finally:
        sample.unlink()
