"""The seed README's Python SDK examples, verbatim, against the real daemon.

Only ``host`` and ``port`` differ from the README. Each example runs against
a daemon with ``BOLT_ADMIN_PASSWORD=secret`` (logins required) and against a
plain ``bolt`` (protected mode), where the credentials are accepted and
ignored. The values each step must produce are checked afterwards.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bolt.testing import BoltDaemon

DaemonFactory = Callable[..., BoltDaemon]

MODES = [
    pytest.param({"BOLT_ADMIN_PASSWORD": "secret"}, id="auth-required"),
    pytest.param({}, id="protected-mode"),
]


@pytest.mark.parametrize("env", MODES)
def test_basic_usage(bolt_daemon_factory: DaemonFactory, env: dict[str, str]) -> None:
    daemon: BoltDaemon = bolt_daemon_factory(env=env)
    PORT = daemon.port

    # --- README "Basic Usage", verbatim except the port --------------------------------
    from bolt_client import BoltClient

    client = BoltClient(host="127.0.0.1", port=PORT, username="admin", password="secret")
    client.connect()

    # String operations
    client.put("key", "value")
    value = client.get("key")
    client.delete("key")

    # TTL (expires in 300 seconds)
    client.setex("session:token", "data", 300)
    ttl = client.ttl("session:token")

    # Batch operations
    client.mset({"k1": "v1", "k2": "v2", "k3": "v3"})
    values = client.mget(["k1", "k2", "k3"])
    client.mdel(["k1", "k2", "k3"])

    # Counters
    client.put("counter", "0")
    client.incr("counter")
    client.incrby("counter", 10)

    # Lists (queues)
    client.rpush("queue", "task1", "task2", "task3")
    task = client.lpop("queue")
    items = client.lrange("queue", 0, -1)

    # Sets
    client.sadd("tags", "python", "ai", "agents")
    members = client.smembers("tags")
    is_member = client.sismember("tags", "python")

    # CRDT Counters (cluster-safe)
    client.cincr("distributed_counter")
    client.cdecr("distributed_counter")
    count = client.cget("distributed_counter")

    client.close()
    # --- end of the README code -----------------------------------------------------------

    assert value == "value"
    assert ttl in (299, 300)
    assert values == ["v1", "v2", "v3"]
    assert task == "task1"
    assert items == ["task2", "task3"]
    assert sorted(members) == ["agents", "ai", "python"]
    assert is_member is True
    assert count == 0

    with daemon.client() as check:
        assert check.get("key") is None
        assert check.get("session:token") == "data"
        assert check.mget(["k1", "k2", "k3"]) == [None, None, None]
        assert check.get("counter") == "11"
        assert check.llen("queue") == 2
        assert check.scard("tags") == 3
        assert check.key_type("distributed_counter") == "crdt_counter"


@pytest.mark.parametrize("env", MODES)
def test_context_manager(bolt_daemon_factory: DaemonFactory, env: dict[str, str]) -> None:
    daemon = bolt_daemon_factory(env=env)
    PORT = daemon.port
    from bolt_client import BoltClient

    # --- README "Context Manager", verbatim except the port ------------------------------
    with BoltClient(host="127.0.0.1", port=PORT, username="admin", password="secret") as client:
        client.put("key", "value")
    # Connection automatically closed
    # --- end of the README code -----------------------------------------------------------

    assert not client.connected
    with daemon.client() as check:
        assert check.get("key") == "value"
        assert check.whoami() == {"user": "admin", "role": "admin"}


def test_readme_writes_survive_a_restart(bolt_daemon_factory: DaemonFactory) -> None:
    env = {"BOLT_ADMIN_PASSWORD": "secret"}
    daemon = bolt_daemon_factory(env=env)
    with daemon.client() as client:
        client.put("key", "value")
        client.rpush("queue", "task1", "task2")
        client.sadd("tags", "python")
        client.cincr("distributed_counter")
    assert daemon.terminate() == 0
    again = bolt_daemon_factory(env=env, data_dir=daemon.data_dir)
    assert again.node_id == daemon.node_id
    with again.client() as client:
        assert client.get("key") == "value"
        assert client.lrange("queue") == ["task1", "task2"]
        assert client.smembers("tags") == ["python"]
        assert client.cget("distributed_counter") == 1
