"""Hashes against the real daemon: the Bolt SDK, ``boltctl``, redis-py over RESP2
and RESP3 (with and without hiredis), a restart, and a two-node cluster."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from bolt.errors import HashValueNotIntegerError, WrongTypeError
from bolt.testing import LocalCluster, clean_environment
from tests.system._resp_support import PARSERS, client, start_resp_daemon
from tests.system.conftest import DaemonFactory

pytestmark = pytest.mark.slow


def test_sdk_hashes_and_a_restart(bolt_daemon_factory: DaemonFactory, tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    daemon = bolt_daemon_factory(data_dir=data_dir)
    with daemon.client() as bolt:
        assert bolt.hset("user:1", {"name": "ada", "lang": "python"}) == 2
        assert bolt.hset("user:1", age="36") == 1
        assert bolt.hget("user:1", "name") == "ada"
        assert bolt.hmget("user:1", ["name", "nope"]) == ["ada", None]
        assert bolt.hincrby("user:1", "age", 1) == 37
        assert bolt.hgetall("user:1") == {"name": "ada", "lang": "python", "age": "37"}
        assert bolt.hkeys("user:1") == ["name", "lang", "age"]
        assert bolt.hvals("user:1") == ["ada", "python", "37"]
        assert bolt.hexists("user:1", "lang") is True
        assert bolt.hdel("user:1", "lang", "nope") == 1
        assert bolt.hlen("user:1") == 2
        assert bolt.key_type("user:1") == "hash"
        assert bolt.hset("bin", {b"\xff": b"\x00"}) == 1
        with pytest.raises(HashValueNotIntegerError):
            bolt.hincrby("user:1", "name", 1)
        bolt.put("plain", "v")
        with pytest.raises(WrongTypeError):
            bolt.hset("plain", f="1")
        with bolt.pipeline() as pipe:
            pipe.hset("p", {"a": "1"}).hincrby("p", "a", 2).hgetall("p")
            assert pipe.execute() == [1, 3, {"a": "3"}]
        assert bolt.ping() == "PONG"  # the connection carried on
    daemon.kill()
    again = bolt_daemon_factory(data_dir=data_dir)
    with again.client() as bolt:
        assert bolt.hgetall("user:1") == {"name": "ada", "age": "37"}
        assert bolt.hgetall("bin") == {b"\xff": b"\x00"}


@pytest.mark.parametrize("parser", list(PARSERS))
def test_redis_py_reply_shapes(bolt_daemon_factory: DaemonFactory, parser: str) -> None:
    _, port = start_resp_daemon(bolt_daemon_factory)
    redis_client = client(port, parser)
    try:
        assert redis_client.hset("h", mapping={"f": "1", "g": "2"}) == 2
        assert redis_client.hget("h", "f") == b"1"
        assert redis_client.hgetall("h") == {b"f": b"1", b"g": b"2"}
        assert redis_client.hmget("h", ["f", "x"]) == [b"1", None]
        assert redis_client.hexists("h", "g") in (True, 1)
        assert redis_client.hincrby("h", "f", 41) == 42
        assert redis_client.hkeys("h") == [b"f", b"g"]
        assert redis_client.hvals("h") == [b"42", b"2"]
        assert redis_client.hlen("h") == 2
        assert redis_client.hdel("h", "f", "g", "x") == 2
        assert redis_client.exists("h") == 0
        assert redis_client.hgetall("h") == {}
        redis_client.set("s", "v")
        with pytest.raises(Exception, match="WRONGTYPE"):
            redis_client.hset("s", "f", "v")
        redis_client.hset("h", "t", "text")
        with pytest.raises(Exception, match="hash value is not an integer"):
            redis_client.hincrby("h", "t", 1)
        assert redis_client.ping() is True
    finally:
        redis_client.close()


def test_boltctl_hash_verbs(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory()
    env = clean_environment(daemon.env_for_cli())

    def boltctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bolt.cli.boltctl", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    assert boltctl("hset", "user:1", "name", "ada", "lang", "py").stdout == "(integer) 2\n"
    assert boltctl("hget", "user:1", "name").stdout == "ada\n"
    assert boltctl("hgetall", "user:1").stdout == '1) "name"\n2) "ada"\n3) "lang"\n4) "py"\n'
    assert boltctl("hincrby", "user:1", "visits", "5").stdout == "(integer) 5\n"
    assert boltctl("hlen", "user:1").stdout == "(integer) 3\n"
    assert boltctl("hexists", "user:1", "lang").stdout == "(integer) 1\n"
    assert boltctl("hdel", "user:1", "lang").stdout == "(integer) 1\n"
    missing = boltctl("hget", "user:1", "lang")
    assert (missing.returncode, missing.stdout) == (1, "(nil)\n")
    odd = boltctl("hset", "user:1", "lonely")
    assert odd.returncode != 0 and "pairs" in odd.stderr


def test_hset_on_one_node_is_visible_on_the_other(tmp_path: Path) -> None:
    with LocalCluster(tmp_path, 2) as cluster:
        a, b = cluster.clients()
        try:
            a.hset("h", {"from_a": "1", "shared": "a"})
            deadline = time.monotonic() + 30
            while b.hget("h", "from_a") != "1":
                assert time.monotonic() < deadline, "HSET never reached node 2"
                time.sleep(0.05)
            # Concurrent writes during a partition: different fields both survive,
            # a concurrent field write beats a field delete.
            cluster.cut(0, 1)
            a.hset("h", only_a="x")
            b.hset("h", only_b="y")
            b.hdel("h", "shared")
            a.hset("h", shared="rewritten")
            cluster.heal()
            cluster.wait_converged(timeout=30)
            expected = {"from_a": "1", "only_a": "x", "only_b": "y", "shared": "rewritten"}
            assert a.hgetall("h") == expected
            assert b.hgetall("h") == expected
        finally:
            a.close()
            b.close()
