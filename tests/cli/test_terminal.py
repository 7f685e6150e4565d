"""What changes on a terminal: rich help, red errors, rich tables and progress bars."""

from __future__ import annotations

import io
import re

from bolt.bench import BenchConfig, Target, parse_tests
from bolt.cli._output import write_error, write_table
from bolt.cli.bench import run_with_display
from bolt.cli.boltctl import build_parser

ANSI = re.compile(r"\x1b\[[0-9;]*m")


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_help_is_highlighted_on_a_terminal_and_plain_otherwise() -> None:
    parser = build_parser("get")
    terminal = FakeTerminal()
    parser.print_help(terminal)
    coloured = terminal.getvalue()
    assert "\x1b[" in coloured
    assert ANSI.sub("", coloured).startswith("usage: boltctl")
    plain = io.StringIO()
    parser.print_help(plain)
    assert "\x1b[" not in plain.getvalue()
    assert ANSI.sub("", coloured).split() == plain.getvalue().split()


def test_errors_are_red_on_a_terminal() -> None:
    terminal = FakeTerminal()
    write_error("(error) WRONGTYPE nope", terminal)
    assert "\x1b[" in terminal.getvalue() and "WRONGTYPE nope" in terminal.getvalue()
    plain = io.StringIO()
    write_error("(error) WRONGTYPE nope", plain)
    assert plain.getvalue() == "(error) WRONGTYPE nope\n"


def test_tables_are_boxed_on_a_terminal() -> None:
    terminal = FakeTerminal()
    write_table("title", ("Operation", "Throughput"), [("SET", "5 ops/s")], terminal)
    text = ANSI.sub("", terminal.getvalue())
    assert "┃ Operation ┃" in text and "SET" in text and "5 ops/s" in text


def test_bench_shows_a_progress_bar_on_a_terminal(floor_port: int) -> None:
    config = BenchConfig(
        Target("127.0.0.1", floor_port),
        tests=tuple(parse_tests("set,mget")),
        connections=3,
        requests=600,
        batch_requests=60,
        keyspace=200,
        processes=1,
    )
    terminal = FakeTerminal()
    results = run_with_display(config, terminal)
    assert [result.test for result in results] == ["set", "mget"]
    text = ANSI.sub("", terminal.getvalue())
    assert "SET" in text and "600/600" in text and "60/60" in text
