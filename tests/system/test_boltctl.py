"""``boltctl`` as a subprocess against a real daemon: output, stderr, exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bolt.testing import BoltDaemon, clean_environment

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_test_certs.py"
PASSWORD = "admin-secret"


@dataclass
class Result:
    code: int
    out: str
    err: str


class Boltctl:
    """Runs ``python -m bolt.cli.boltctl`` with a daemon's BOLT_* variables."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = clean_environment(env)

    def __call__(
        self, *args: str | bytes, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        completed = subprocess.run(
            [sys.executable, "-m", "bolt.cli.boltctl", *args],
            input=(stdin or "").encode(),
            capture_output=True,
            env={**self.env, **(env or {})},
            timeout=60,
            check=False,
        )
        return Result(
            completed.returncode,
            completed.stdout.decode("utf-8", "surrogateescape"),
            completed.stderr.decode("utf-8", "replace"),
        )

    def ok(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run, expect exit 0 and an empty stderr; return stdout without its last newline."""
        result = self(*args, env=env)
        assert (result.code, result.err) == (0, ""), result
        return result.out.removesuffix("\n")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoltDaemon]:
    data_dir = tmp_path_factory.mktemp("boltctl-node")
    with BoltDaemon.start(data_dir, env={"BOLT_ADMIN_PASSWORD": PASSWORD}) as running:
        yield running


@pytest.fixture(scope="module")
def boltctl(daemon: BoltDaemon) -> Boltctl:
    return Boltctl(daemon.env_for_cli())


def test_strings_and_keys(boltctl: Boltctl) -> None:
    assert boltctl.ok("put", "greeting", "hello world") == "OK"
    assert boltctl.ok("get", "greeting") == "hello world"
    assert boltctl.ok("exists", "greeting") == "(integer) 1"
    assert boltctl.ok("type", "greeting") == "string"
    assert boltctl.ok("ttl", "greeting") == "(integer) -1"
    assert boltctl.ok("del", "greeting") == "(integer) 1"
    assert boltctl.ok("exists", "greeting") == "(integer) 0"
    assert boltctl.ok("put", "empty", "") == "OK"
    assert boltctl.ok("get", "empty") == ""  # an empty string is not missing


@pytest.mark.parametrize(
    "argv", [("get", "nope"), ("del", "nope"), ("ttl", "nope"), ("type", "nope")]
)
def test_missing_key_prints_nil_and_exits_1(boltctl: Boltctl, argv: tuple[str, ...]) -> None:
    result = boltctl(*argv)
    assert result.code == 1
    assert result.out in ("(nil)\n", "(integer) 0\n")
    assert result.err == ""  # (nil) says it; redis-cli prints no error line either


def test_setex_takes_the_ttl_before_the_value(boltctl: Boltctl) -> None:
    assert boltctl.ok("setex", "session", "300", "token") == "OK"
    assert boltctl.ok("get", "session") == "token"
    assert boltctl.ok("ttl", "session") in ("(integer) 300", "(integer) 299")
    bad = boltctl("setex", "session", "0", "token")
    assert bad.code == 3 and bad.out == "" and "(error) BAD_REQUEST" in bad.err
    assert boltctl.ok("get", "session") == "token"  # the refused write changed nothing


def test_batches(boltctl: Boltctl) -> None:
    assert boltctl.ok("mset", "b1", "v1", "b2", "v2") == "(integer) 2"
    assert boltctl.ok("mget", "b1", "missing", "b2") == '1) "v1"\n2) (nil)\n3) "v2"'
    assert boltctl.ok("keys", "b?") == '1) "b1"\n2) "b2"'
    assert boltctl.ok("mdel", "b1", "b2", "missing") == "(integer) 2"
    assert boltctl.ok("keys", "b?") == "(empty list)"
    odd = boltctl("mset", "b1", "v1", "b2")
    assert odd.code == 2 and "even number" in odd.err
    assert boltctl.ok("exists", "b1") == "(integer) 0"


def test_counters(boltctl: Boltctl) -> None:
    assert boltctl.ok("incr", "hits") == "(integer) 1"
    assert boltctl.ok("incrby", "hits", "10") == "(integer) 11"
    assert boltctl.ok("incrby", "hits", "-5") == "(integer) 6"
    assert boltctl.ok("decr", "hits") == "(integer) 5"
    assert boltctl.ok("decrby", "hits", "2") == "(integer) 3"
    assert boltctl.ok("get", "hits") == "3"
    assert boltctl.ok("cget", "crdt") == "(integer) 0"
    assert boltctl.ok("cincr", "crdt") == "(integer) 1"
    assert boltctl.ok("cincrby", "crdt", "4") == "(integer) 5"
    assert boltctl.ok("cdecr", "crdt") == "(integer) 4"
    assert boltctl.ok("type", "crdt") == "crdt_counter"


def test_wrong_type_and_not_integer_are_errors_on_stderr(boltctl: Boltctl) -> None:
    boltctl.ok("put", "text", "abc")
    not_integer = boltctl("incr", "text")
    assert not_integer.code == 3 and not_integer.out == ""
    assert not_integer.err.startswith("(error) NOT_INTEGER")
    boltctl.ok("rpush", "alist", "x")
    wrong = boltctl("get", "alist")
    assert wrong.code == 3 and wrong.out == "" and wrong.err.startswith("(error) WRONGTYPE")
    as_json = boltctl("--json", "sadd", "alist", "m")
    assert as_json.code == 3 and as_json.out == ""
    assert json.loads(as_json.err)["error"]["name"] == "WRONGTYPE"
    assert boltctl.ok("get", "text") == "abc"


def test_lists(boltctl: Boltctl) -> None:
    assert boltctl.ok("rpush", "queue", "task1", "task2", "task3") == "(integer) 3"
    assert boltctl.ok("lpush", "queue", "a", "b") == "(integer) 5"
    assert boltctl.ok("lrange", "queue", "0", "-1") == (
        '1) "b"\n2) "a"\n3) "task1"\n4) "task2"\n5) "task3"'
    )
    assert boltctl.ok("lrange", "queue", "-2", "-1") == '1) "task2"\n2) "task3"'
    assert boltctl.ok("llen", "queue") == "(integer) 5"
    assert boltctl.ok("lpop", "queue") == "b"
    assert boltctl.ok("rpop", "queue") == "task3"
    assert boltctl.ok("lrange", "nolist", "0", "-1") == "(empty list)"
    empty = boltctl("lpop", "nolist")
    assert (empty.code, empty.out, empty.err) == (1, "(nil)\n", "")


def test_sets(boltctl: Boltctl) -> None:
    assert boltctl.ok("sadd", "tags", "python", "ai", "agents") == "(integer) 3"
    assert boltctl.ok("sadd", "tags", "ai") == "(integer) 0"
    assert boltctl.ok("scard", "tags") == "(integer) 3"
    assert boltctl.ok("sismember", "tags", "ai") == "(integer) 1"
    assert boltctl.ok("sismember", "tags", "rust") == "(integer) 0"
    members = boltctl.ok("smembers", "tags").splitlines()
    assert sorted(line.split(") ", 1)[1] for line in members) == ['"agents"', '"ai"', '"python"']
    assert boltctl.ok("srem", "tags", "ai", "rust") == "(integer) 1"
    assert boltctl.ok("smembers", "empty-set") == "(empty list)"


def test_awkward_values_round_trip(boltctl: Boltctl) -> None:
    boltctl.ok("put", "multi", "line1\nline2")
    assert boltctl.ok("get", "multi") == "line1\nline2"
    boltctl.ok("rpush", "mixed", "a\nb", 'say "hi"', "héllo")
    assert boltctl.ok("lrange", "mixed") == '1) "a\\nb"\n2) "say \\"hi\\""\n3) "héllo"'
    raw = boltctl("put", "binary", b"\xff\xfe-raw")
    assert raw.code == 0
    completed = subprocess.run(
        [sys.executable, "-m", "bolt.cli.boltctl", "get", "binary"],
        capture_output=True, env=boltctl.env, timeout=60, check=True,
    )  # fmt: skip
    assert completed.stdout == b"\xff\xfe-raw\n"
    dashed = boltctl("put", "--", "dash", "-starts-with-dash")
    assert dashed.code == 0
    assert boltctl.ok("get", "dash") == "-starts-with-dash"


def test_json_output(boltctl: Boltctl) -> None:
    boltctl.ok("put", "j", "v")
    assert json.loads(boltctl.ok("--json", "get", "j")) == "v"
    assert json.loads(boltctl.ok("get", "j", "--json")) == "v"
    assert json.loads(boltctl.ok("--json", "mget", "j", "none")) == ["v", None]
    assert json.loads(boltctl.ok("--json", "incr", "jn")) == 1
    assert json.loads(boltctl.ok("--json", "exists", "j")) is True
    stats = json.loads(boltctl.ok("--json", "stats"))
    assert isinstance(stats, dict) and stats["node_id"]
    missing = boltctl("--json", "get", "none")
    assert (missing.code, missing.err) == (1, "") and json.loads(missing.out) is None


def test_server_commands(boltctl: Boltctl, daemon: BoltDaemon) -> None:
    assert boltctl.ok("ping") == "PONG"
    summary = boltctl.ok("stats").splitlines()
    stats = dict(line.split(":", 1) for line in summary)
    assert stats["node_id"] == daemon.node_id
    assert len(summary) <= 20 and stats["ready"] == "yes"
    assert stats["connections"].startswith("1 of ")
    assert "commands.PING.calls" not in stats and "shards.0.keys" not in stats
    everything = dict(line.split(":", 1) for line in boltctl.ok("stats", "--all").splitlines())
    assert everything["node_id"] == daemon.node_id and "shards.0.keys" in everything
    assert int(everything["commands.PING.calls"]) >= 1
    assert len(everything) > 100
    as_json = json.loads(boltctl.ok("stats", "--json"))
    assert as_json["node_id"] == daemon.node_id and len(as_json["shards"]) == 64
    assert "bolt_active_connections" in boltctl.ok("metrics")
    cluster = boltctl.ok("cluster").splitlines()
    assert "mode:standalone" in cluster and f"node_id:{daemon.node_id}" in cluster
    assert boltctl.ok("whoami") == "user:admin\nrole:admin"


def test_user_management(boltctl: Boltctl, daemon: BoltDaemon) -> None:
    assert boltctl("useradd", "alice", "--role", "readonly", stdin="first-pass\n").out == "OK\n"
    users = boltctl.ok("users")
    assert "alice  readonly" in users and "admin" in users
    alice = {"BOLT_USER": "alice", "BOLT_PASSWORD": "first-pass"}
    assert boltctl("whoami", env=alice).out == "user:alice\nrole:readonly\n"
    refused = boltctl("put", "k", "v", env=alice)
    assert refused.code == 3 and refused.err.startswith("(error) NO_PERMISSION")
    assert boltctl.ok("passwd", "alice", "second-pass") == "OK"
    stale = boltctl("whoami", env=alice)
    assert stale.code == 3 and stale.err.startswith("(error) AUTH_FAILED")
    alice["BOLT_PASSWORD"] = "second-pass"
    assert boltctl.ok("role", "alice", "readwrite") == "OK"
    assert boltctl("put", "k", "v", env=alice).code == 0
    as_alice = boltctl("useradd", "mallory", "pw", env=alice)
    assert as_alice.code == 3 and "NO_PERMISSION" in as_alice.err
    assert boltctl.ok("userdel", "alice") == "OK"
    again = boltctl("userdel", "alice")
    assert (again.code, again.out, again.err) == (1, "(integer) 0\n", "")
    assert "alice" not in boltctl.ok("users")


def test_flags_override_the_environment(boltctl: Boltctl, daemon: BoltDaemon) -> None:
    wrong = boltctl("ping", env={"BOLT_PASSWORD": "wrong"})
    assert wrong.code == 3 and wrong.err.startswith("(error) AUTH_FAILED")
    fixed = boltctl("ping", "-a", PASSWORD, env={"BOLT_PASSWORD": "wrong"})
    assert (fixed.code, fixed.out) == (0, "PONG\n")
    moved = boltctl("--port", str(daemon.port), "ping", env={"BOLT_PORT": "1"})
    assert moved.code == 0
    unreachable = boltctl("ping", env={"BOLT_PORT": "1"})
    assert unreachable.code == 4 and "CONNECTION_ERROR" in unreachable.err


def test_databases_are_separate(boltctl: Boltctl) -> None:
    assert boltctl.ok("-n", "tenant-a", "put", "shared", "in-a") == "OK"
    assert boltctl("get", "shared").code == 1
    assert boltctl.ok("get", "shared", "--db", "tenant-a") == "in-a"
    assert boltctl.ok("get", "shared", env={"BOLT_DB": "tenant-a"}) == "in-a"


def test_help_works_without_a_server(boltctl: Boltctl) -> None:
    result = boltctl("setex", "--help", env={"BOLT_PORT": "1"})
    assert result.code == 0 and "ttl_seconds" in result.out and result.err == ""


def test_tls(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    subprocess.run([sys.executable, str(SCRIPT), str(certs)], check=True, timeout=60)
    env = {
        "BOLT_TLS_CERT": str(certs / "server.pem"),
        "BOLT_TLS_KEY": str(certs / "server.key"),
        "BOLT_ADMIN_PASSWORD": PASSWORD,
    }
    with BoltDaemon.start(tmp_path / "tls-node", env=env) as daemon:
        boltctl = Boltctl(daemon.env_for_cli())
        assert boltctl.ok("--tls-ca-file", str(certs / "ca.pem"), "put", "k", "tls") == "OK"
        assert boltctl.ok("get", "k", env={"BOLT_TLS_CA_FILE": str(certs / "ca.pem")}) == "tls"
        assert boltctl.ok("--tls", "--tls-insecure", "get", "k") == "tls"
        untrusted = boltctl("--tls", "--timeout", "5", "get", "k")
        assert untrusted.code == 4 and untrusted.out == ""
        plain = boltctl("--timeout", "5", "get", "k")
        assert plain.code == 4 and plain.out == ""
