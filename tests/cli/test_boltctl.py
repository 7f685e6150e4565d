"""The ``boltctl`` parser and dispatch, without a server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from bolt.cli import _admin, _kv
from bolt.cli.boltctl import EXTENSIONS, build_parser, command_name, main

SEED_COMMANDS = [
    "put", "get", "del", "setex", "ttl", "mset", "mget", "mdel", "incr", "decr", "incrby",
    "cincr", "cdecr", "cget", "rpush", "lpush", "lpop", "rpop", "lrange", "sadd", "srem",
    "smembers", "sismember", "stats", "metrics", "cluster",
]  # fmt: skip
ISSUE_COMMANDS = [
    "exists", "type", "keys", "llen", "scard",
    "useradd", "userdel", "users", "passwd", "role", "whoami",
]  # fmt: skip
ALL_COMMANDS = [command.name for command in (*_kv.COMMANDS, *_admin.COMMANDS)] + ["bench"]


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_every_command_of_the_seed_and_the_issue_exists() -> None:
    names = set(ALL_COMMANDS)
    assert not [name for name in SEED_COMMANDS + ISSUE_COMMANDS if name not in names]


@pytest.mark.parametrize("name", ALL_COMMANDS)
def test_every_command_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: boltctl {name}")
    assert "--port" in out


def test_main_help_lists_commands_and_environment(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in ("get", "setex", "useradd", "bench", "BOLT_PASSWORD", "exit status"):
        assert name in out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "required" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["setex", "k", "soon", "v"], "invalid int value"),
        (["incrby", "k", "1.5"], "invalid int value"),
        (["lrange", "k", "a"], "invalid int value"),
        (["get"], "required"),
        (["get", "a", "b"], "unrecognized arguments"),
        (["role", "bob", "superuser"], "invalid choice"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_before_connecting(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--port", str(closed_port()), *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_odd_mset_is_refused_before_connecting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", str(closed_port()), "mset", "a", "1", "b"]) == 2
    err = capsys.readouterr().err
    assert "even number" in err and "CONNECTION" not in err


def test_bad_environment_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOLT_PORT", "http")
    assert main(["get", "k"]) == 2
    assert "BOLT_PORT" in capsys.readouterr().err


def test_unreachable_server_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", str(closed_port()), "--timeout", "2", "get", "k"]) == 4
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "(error) CONNECTION_ERROR" in captured.err


def test_unreachable_server_with_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "--port", str(closed_port()), "ping"]) == 4
    error = json.loads(capsys.readouterr().err)["error"]
    assert error["name"] == "CONNECTION_ERROR" and error["code"] == 400


@pytest.fixture
def not_bolt_port() -> Iterator[int]:
    """A loopback port whose listener answers every connection with HTTP, not Bolt."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(30)

        def answer() -> None:
            while True:
                try:
                    connection, _ = listener.accept()
                except OSError:
                    return  # closed at the end of the test
                with connection:
                    connection.recv(1024)
                    connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        yield int(listener.getsockname()[1])


def test_a_server_that_does_not_speak_bolt_is_no_answer_for_every_command(
    not_bolt_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--port", str(not_bolt_port), "--timeout", "5"]
    assert main(["get", "k", *options]) == 4
    bench = ["bench", "-c", "1", "--processes", "1", "--requests", "10", "-t", "set"]
    assert main([*bench, *options]) == 4  # the same rule as every other command
    assert capsys.readouterr().err.count("PROTOCOL_ERROR") == 2


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["get", "k"], "get"),
        (["--port", "1", "-u", "x", "put", "k", "v"], "put"),
        (["--tls", "--json", "replay", "info"], "replay"),
        (["--host=h", "top"], "top"),
        (["-a", "get", "bench"], "bench"),  # -a takes a value: "get" is the password
        (["--port", "1"], None),
        (["--", "get"], None),
    ],
)
def test_command_name_skips_options_and_their_values(argv: list[str], expected: str | None) -> None:
    assert command_name(argv) == expected


def test_extensions_are_listed_without_being_imported() -> None:
    code = (
        "import sys\n"
        "from bolt.cli.boltctl import build_parser\n"
        "help = build_parser('get').format_help()\n"
        "heavy = [m for m in ('rich', 'textual', 'lmdb', 'bolt.cli.replay', 'bolt.bench',"
        " 'bolt.client') if m in sys.modules]\n"
        "print(heavy, 'replay' in help, 'bench' in help)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert output.strip() == "[] True True"


def test_importing_boltctl_is_cheap() -> None:
    code = (
        "import sys, bolt.cli.boltctl\n"
        "print(sorted(m for m in ('rich', 'textual', 'lmdb', 'msgpack', 'trio', 'bolt.client')"
        " if m in sys.modules))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert output.strip() == "[]"


def test_the_selected_extension_registers_its_real_parser() -> None:
    parser = build_parser("replay")
    args = parser.parse_args(["replay", "info", "/tmp/nowhere"])
    assert callable(getattr(args, "func", None) or getattr(args, "handler", None))
    assert set(EXTENSIONS) >= {"replay", "top"}


def test_abbreviated_options_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--pass", "secret", "get", "k"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'secret'" in capsys.readouterr().err  # --pass is not --password
