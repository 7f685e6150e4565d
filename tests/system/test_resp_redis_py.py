"""The real daemon's RESP port driven by redis-py, with its Python and hiredis parsers."""

from __future__ import annotations

import time

import pytest
import redis

from tests.system._resp_support import PARSERS, client, start_resp_daemon

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def resp_node(tmp_path_factory: pytest.TempPathFactory):
    from bolt.testing import BoltDaemon

    directory = tmp_path_factory.mktemp("resp-node")
    started: list[BoltDaemon] = []

    def factory(env=None, args=None):
        daemon = BoltDaemon.start(directory, env=env, args=args)
        started.append(daemon)
        return daemon

    try:
        yield start_resp_daemon(factory)
    finally:
        for daemon in started:
            daemon.kill()


@pytest.fixture(params=sorted(PARSERS))
def r(request: pytest.FixtureRequest, resp_node) -> redis.Redis:
    _, port = resp_node
    connection = client(port, request.param)
    connection.flushdb()
    yield connection
    connection.close()


def test_strings(r: redis.Redis) -> None:
    assert r.set("s", "v") is True
    assert r.get("s") == b"v"
    assert r.get("missing") is None
    assert r.set("s", "w", nx=True) is None
    assert r.set("s", "w", xx=True) is True
    assert r.set("new", "x", xx=True) is None
    assert r.set("s", "z", get=True) == b"w"
    assert r.setnx("s", "q") is False
    assert r.setnx("t", "q") is True
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "b", "nope") == [b"1", b"2", None]
    assert r.append("a", "23") == 3
    assert r.strlen("a") == 3
    assert r.strlen("nope") == 0
    assert r.getdel("a") == b"123"
    assert r.exists("a") == 0
    assert r.set("bin", b"\xff\x00\xfe") is True
    assert r.get("bin") == b"\xff\x00\xfe"
    assert r.set("uni", "héllo") is True
    assert r.strlen("uni") == 6


def test_counters(r: redis.Redis) -> None:
    assert r.incr("n") == 1
    assert r.incrby("n", 10) == 11
    assert r.decr("n") == 10
    assert r.decrby("n", 4) == 6
    assert r.get("n") == b"6"
    assert r.incrbyfloat("f", 1.5) == 1.5
    assert r.incrbyfloat("f", 2) == 3.5
    r.set("text", "abc")
    with pytest.raises(redis.ResponseError, match=r"^value is not an integer or out of range"):
        r.incr("text")
    with pytest.raises(redis.ResponseError, match=r"^value is not a valid float"):
        r.incrbyfloat("text", 1)
    r.set("big", str(2**63 - 1))
    with pytest.raises(redis.ResponseError, match="overflow"):
        r.incr("big")


def test_expiry(r: redis.Redis) -> None:
    r.set("e", "v", ex=100)
    assert 99 <= r.ttl("e") <= 100
    assert 99_000 <= r.pttl("e") <= 100_000
    assert r.ttl("missing") == -2
    r.set("p", "v")
    assert r.ttl("p") == -1
    assert r.expire("p", 50) is True
    assert 49 <= r.ttl("p") <= 50
    assert r.persist("p") is True
    assert r.persist("p") is False
    assert r.ttl("p") == -1
    assert r.pexpire("p", 10_000) is True
    assert r.expire("missing", 10) is False
    assert r.expireat("p", int(time.time()) + 1000) is True
    assert r.set("k", "v", keepttl=True) is True
    assert r.ttl("k") == -1
    assert r.execute_command("SETEX", "sx", 100, "v") in (True, b"OK")
    assert r.execute_command("PSETEX", "px", 100_000, "v") in (True, b"OK")
    assert r.ttl("sx") > 0 and r.ttl("px") > 0
    r.set("gone", "v", px=50)
    time.sleep(0.2)
    assert r.get("gone") is None
    assert r.expire("p", -1) is True
    assert r.exists("p") == 0
    with pytest.raises(redis.ResponseError, match="invalid expire time"):
        r.set("x", "v", ex=0)


def test_keys(r: redis.Redis) -> None:
    r.mset({"user:1": "a", "user:2": "b", "other": "c"})
    assert sorted(r.keys("user:*")) == [b"user:1", b"user:2"]
    assert r.exists("user:1", "user:2", "user:1", "zz") == 3
    assert r.type("user:1") == b"string"
    r.rpush("list", "x")
    assert r.type("list") == b"list"
    assert r.type("nope") == b"none"
    assert r.dbsize() == 4
    assert sorted(r.scan_iter(match="user:*", count=1)) == [b"user:1", b"user:2"]
    assert sorted(r.scan_iter(_type="list")) == [b"list"]
    assert r.delete("user:1", "user:2", "zz") == 2
    assert r.unlink("other") == 1
    r.set("src", "v", ex=100)
    assert r.rename("src", "dst") is True
    assert r.get("dst") == b"v" and r.exists("src") == 0 and r.ttl("dst") > 0
    with pytest.raises(redis.ResponseError, match=r"^no such key"):
        r.rename("src", "x")


def test_lists(r: redis.Redis) -> None:
    assert r.rpush("l", "a", "b", "c") == 3
    assert r.lpush("l", "z") == 4
    assert r.lrange("l", 0, -1) == [b"z", b"a", b"b", b"c"]
    assert r.llen("l") == 4
    assert r.lindex("l", -1) == b"c"
    assert r.lindex("l", 10) is None
    assert r.lpop("l") == b"z"
    assert r.rpop("l") == b"c"
    assert r.lpop("l", 5) == [b"a", b"b"]
    assert r.lpop("l") is None
    assert r.lpop("l", 2) is None
    r.set("s", "v")
    with pytest.raises(redis.ResponseError, match=r"^WRONGTYPE"):
        r.lpush("s", "x")


def test_sets(r: redis.Redis) -> None:
    assert r.sadd("set", "a", "b", "a") == 2
    assert r.sadd("set", "b", "c") == 1
    assert r.smembers("set") == {b"a", b"b", b"c"}
    assert r.sismember("set", "a") in (True, 1)
    assert r.sismember("set", "q") in (False, 0)
    assert [bool(x) for x in r.smismember("set", ["a", "q"])] == [True, False]
    assert r.scard("set") == 3
    assert r.srem("set", "a", "q") == 1
    assert r.scard("set") == 2


def test_server_commands(r: redis.Redis) -> None:
    assert r.ping() is True
    assert r.echo("hi") == b"hi"
    assert r.client_setname("worker-1") is True
    assert r.client_getname() in ("worker-1", b"worker-1")
    assert isinstance(r.client_id(), int)
    info = r.client_info()
    assert info["name"] == "worker-1"
    assert r.info()["redis_version"]
    assert "db0" in r.info("keyspace") or r.dbsize() == 0
    assert r.config_get("maxmemory-policy")
    assert r.command_count() > 30
    assert r.command()["get"]["arity"] == 2
    with pytest.raises(redis.ResponseError, match=r"^unknown command 'NOSUCH'"):
        r.execute_command("NOSUCH", "a")
    assert r.ping() is True  # the connection stays usable
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'get'"):
        r.execute_command("GET")


def test_select_maps_to_databases(r: redis.Redis, resp_node) -> None:
    _, port = resp_node
    other = client(port, db=3)
    other.flushdb()
    other.set("k", "in db 3")
    assert r.get("k") is None
    assert other.get("k") == b"in db 3"
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        r.execute_command("SELECT", 16)
    other.close()


def test_pipeline_and_transaction_free_batching(r: redis.Redis) -> None:
    with r.pipeline(transaction=False) as pipe:
        for i in range(500):
            pipe.set(f"k{i}", i)
            pipe.incr("total")
        results = pipe.execute()
    assert results[-1] == 500
    assert r.get("k499") == b"499"


def test_bolt_sdk_reads_what_redis_wrote(r: redis.Redis, resp_node) -> None:
    daemon, _ = resp_node
    r.set("shared", "from redis")
    r.rpush("shared-list", "a", "b")
    with daemon.client() as bolt:
        assert bolt.get("shared") == "from redis"
        assert bolt.lrange("shared-list", 0, -1) == ["a", "b"]
        bolt.put("from-bolt", "hello")
    assert r.get("from-bolt") == b"hello"


def test_stats_and_metrics_count_redis_traffic(r: redis.Redis, resp_node) -> None:
    import urllib.request

    daemon, _ = resp_node
    r.client_setname("counted")
    r.set("m", "1")
    r.echo("x")
    with daemon.client() as bolt:
        stats = bolt.stats()
    assert any(c["name"] == "counted" for c in stats["clients"])
    with urllib.request.urlopen(daemon.metrics_url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    assert 'command="ECHO"' in text and 'command="SET"' in text
