"""The README documents every setting (its table is the generated one), and the
examples of its SDK and ``boltctl`` sections run and print what they say."""

from __future__ import annotations

import argparse
import ast
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bolt.config import SETTINGS
from bolt.testing import BoltDaemon

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in readme]
    assert not missing, f"README lacks {missing}"


def test_the_readme_configuration_table_is_current() -> None:
    table = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "config_table.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert table in (ROOT / "README.md").read_text(), (
        "README's configuration table is stale: paste `python scripts/config_table.py`"
    )


# --- the examples of the "Python SDK" and "`boltctl`" sections, run for real ----------


def _section(title: str) -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(f"\n## {title}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end > 0 else None]


def _blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def _checked(code: str) -> str:
    """The example with each comment that is a Python literal turned into an assertion.

    ``value = client.get("key")  # "value"`` gets ``assert value == "value"``
    after it; ``client.incrby("counter", 10)  # 10`` becomes
    ``assert (client.incrby("counter", 10)) == 10``. Other comments (prose, or
    a figure that depends on timing, such as ``# 300 (seconds left)``) are
    left alone.
    """
    lines = []
    for line in code.splitlines():
        statement, _, comment = line.partition("  # ")
        try:
            expected = ast.literal_eval(comment.strip())
        except (ValueError, SyntaxError):
            lines.append(line)
            continue
        indent = statement[: len(statement) - len(statement.lstrip())]
        tree = ast.parse(statement.strip())
        node = tree.body[0]
        if isinstance(node, ast.Assign):
            lines.append(statement)
            lines.append(f"{indent}assert {ast.unparse(node.targets[0])} == {expected!r}")
        else:
            lines.append(f"{indent}assert ({statement.strip()}) == {expected!r}, {line!r}")
    return "\n".join(lines)


@pytest.fixture
def secret_daemon(tmp_path: Path) -> Iterator[BoltDaemon]:
    """The README's server, empty: ``BOLT_ADMIN_PASSWORD=secret bolt`` (on a free port)."""
    with BoltDaemon.start(tmp_path / "data", env={"BOLT_ADMIN_PASSWORD": "secret"}) as daemon:
        yield daemon


def test_the_sdk_examples_run_and_return_what_they_say(secret_daemon: BoltDaemon) -> None:
    blocks = _blocks(_section("Python SDK"), "python")
    assert blocks, "the SDK section has no example"
    for block in blocks:
        code = _checked(block.replace("port=8518", f"port={secret_daemon.port}"))
        assert "assert" in code  # the example states results, and they are checked
        exec(compile(code, "README.md (Python SDK)", "exec"), {})


def test_database_is_keyword_only_as_the_sdk_section_says(secret_daemon: BoltDaemon) -> None:
    from bolt.client import BoltClient

    assert "keyword-only" in _section("Python SDK")
    with BoltClient(port=secret_daemon.port, username="admin", password="secret") as client:
        with pytest.raises(TypeError):
            client.delete("a", "b")  # type: ignore[misc]
        with pytest.raises(TypeError):
            client.put("x", "1", "2")  # type: ignore[misc]
        assert client.execute_command("SET", "redis-style", "v") in ("OK", None, True)
        assert client.get("redis-style") == "v"


def test_the_boltctl_examples_print_what_they_say(secret_daemon: BoltDaemon) -> None:
    (block,) = _blocks(_section("`boltctl`"), "bash")
    env = dict(
        os.environ,
        BOLT_HOST=secret_daemon.host,
        BOLT_PORT=str(secret_daemon.port),
        BOLT_USER="admin",
        BOLT_PASSWORD="secret",
    )
    checked = 0
    for line in block.splitlines():
        command, _, comment = line.partition("#")
        words = shlex.split(command)
        if words[:1] != ["boltctl"] or words[1:2] in (["bench"], ["replay"]):
            continue  # the export line; the benchmark and replay have their own tests
        done = subprocess.run(
            [sys.executable, "-m", "bolt.cli.boltctl", *words[1:]],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        expected, _, note = comment.strip().partition("   ")
        wanted_code = 1 if "exit code 1" in note else 0
        assert done.returncode == wanted_code, (line, done.stdout, done.stderr)
        output = "  ".join(done.stdout.split("\n")).strip()
        if expected in ("OK", "hello", "(nil)") or expected.startswith(("(integer)", "1)")):
            assert " ".join(output.split()) == " ".join(expected.split()), (line, done.stdout)
        checked += 1
    assert checked >= 10


def test_every_boltctl_line_of_the_readme_parses() -> None:
    # A flag or subcommand the README shows must exist (parsed, not run).
    from bolt.cli.boltctl import build_parser, command_name
    from bolt.cli.replay import attach_relative_times

    readme = (ROOT / "README.md").read_text()
    lines = [
        line.strip().removeprefix("$ ").partition("  #")[0]
        for block in re.findall(r"```bash\n(.*?)```", readme, re.S)
        for line in block.splitlines()
        if line.strip().removeprefix("$ ").startswith("boltctl ")
    ]
    assert len(lines) >= 25
    for line in lines:
        words = shlex.split(line)[1:]
        if words == ["--help"]:
            continue
        selected = command_name(words)
        arguments = attach_relative_times(words) if selected == "replay" else words
        try:
            build_parser(selected).parse_args(arguments)
        except SystemExit as exit_:
            raise AssertionError(f"README: {line!r} does not parse ({exit_.code})") from None


def test_the_boltctl_command_list_is_complete() -> None:
    from bolt.cli.boltctl import build_parser

    section = _section("`boltctl`")
    listed = set(section.split("Commands: `", 1)[1].split("`", 1)[0].split())
    subparsers = next(
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    real = set(subparsers.choices)
    assert listed <= real, f"README lists commands boltctl lacks: {sorted(listed - real)}"
    missing = real - listed
    assert not missing, f"boltctl commands the README's list omits: {sorted(missing)}"
