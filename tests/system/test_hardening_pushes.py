"""Server pushes against the real daemon: key watches (issue 11 item 4).

A watcher sees every committed change of its pattern, in log order, and
nothing else; a watcher that stops reading is dropped by the change feed
without slowing the writers, and the daemon's memory stays bounded; the
trio client and ``boltctl watch`` read the same pushes.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import aclosing
from pathlib import Path

import pytest
import trio

from bolt.client import AsyncBoltClient
from bolt.errors import AuthenticationError
from bolt.testing import BoltDaemon, clean_environment
from bolt.wire import PROTOCOL_VERSION, Codec, Push, Response, encode_request

DaemonFactory = Callable[..., BoltDaemon]
MIB = 1024 * 1024


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_watcher_sees_every_committed_change_of_its_pattern_in_order(
    bolt_daemon: BoltDaemon,
) -> None:
    with bolt_daemon.client() as watcher, bolt_daemon.client() as writer:
        changes = watcher.subscribe_keys("agent:*", timeout=5)
        expected = []
        pipe = writer.pipeline()
        for i in range(300):
            pipe.put(f"agent:{i % 7}", f"v{i}")
            expected.append(("KeyPut", f"agent:{i % 7}", f"v{i}"))
            pipe.put(f"other:{i}", "x")  # not watched
            if i % 50 == 0:
                pipe.delete(f"agent:{i % 7}")
                expected.append(("KeyDeleted", f"agent:{i % 7}", None))
        pipe.execute()
        writer.put("agent:1", "elsewhere", database="db2")  # another database
        writer.incr("agent:n")
        expected.append(("CounterSet", "agent:n", 1))
        seen = []
        offsets = []
        for change in changes:
            offsets.append(change["offset"])
            for entry in change["changes"]:
                seen.append((entry["event"], entry["key"], entry.get("value")))
            if len(seen) >= len(expected):
                break
    assert seen == expected
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)


def test_the_trio_client_watches_too(bolt_daemon: BoltDaemon) -> None:
    async def main() -> list[tuple[str, str]]:
        async with AsyncBoltClient(host=bolt_daemon.host, port=bolt_daemon.port) as client:
            changes = await client.subscribe_keys("task:*")
            with bolt_daemon.client() as writer:
                writer.put("task:1", "open")
                writer.put("nope", "x")
                writer.sadd("task:set", "a")
            got = []
            with trio.fail_after(10):
                async with aclosing(changes):
                    async for change in changes:
                        got += [(e["event"], e["key"]) for e in change["changes"]]
                        if len(got) == 2:
                            break
            return got

    assert trio.run(main) == [("KeyPut", "task:1"), ("SetAdded", "task:set")]


def test_a_slow_watcher_is_dropped_without_slowing_writers(bolt_daemon: BoltDaemon) -> None:
    def write_burst(tag: str) -> float:
        started = time.monotonic()
        with bolt_daemon.client() as writer:
            for start in range(0, 12_000, 500):
                pipe = writer.pipeline()
                for i in range(start, start + 500):
                    pipe.put(f"k:{tag}:{i}", "v" * 1000)
                pipe.execute()
        return time.monotonic() - started

    baseline = write_burst("warm")
    before = rss_mb(bolt_daemon.pid)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(20)
    sock.connect((bolt_daemon.host, bolt_daemon.port))
    codec = Codec(64 * MIB)
    sock.sendall(
        encode_request(1, "HELLO", [PROTOCOL_VERSION, {}], None)
        + encode_request(2, "WATCH", ["k:*"], None)
    )
    replies = []
    while len(replies) < 2:
        codec.receive_data(sock.recv(65536))
        replies += codec.next_messages()
    assert isinstance(replies[1], Response) and replies[1].result["pattern"] == "k:*"
    watched = write_burst("slow")  # the watcher reads nothing meanwhile
    bolt_daemon.wait_for_stderr(r"dropping the key watch of 127\.0\.0\.1", timeout=20)
    assert watched < 3 * baseline + 2.0, (baseline, watched)
    assert rss_mb(bolt_daemon.pid) - before < 100
    pushes = []
    while not any(p.topic == "keys.dropped" for p in pushes):
        data = sock.recv(1 << 20)
        assert data, "closed before the dropped notice"
        codec.receive_data(data)
        pushes += [m for m in codec.next_messages() if isinstance(m, Push)]
    sock.close()
    (dropped,) = [p for p in pushes if p.topic == "keys.dropped"]
    offsets = [p.payload["offset"] for p in pushes if p.topic == "keys"]
    assert offsets == sorted(offsets)
    assert dropped.payload["resume_offset"] > (offsets[-1] if offsets else -1)
    with bolt_daemon.client() as client:  # the server carries on
        assert client.get("k:slow:11999") == "v" * 1000


def test_watching_needs_a_login(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory(env={"BOLT_ADMIN_PASSWORD": "secret"})
    with daemon.client() as admin:
        admin.useradd("reader", "rpw", "readonly")
    anonymous = daemon.client(username=None, password=None)
    with anonymous, pytest.raises(AuthenticationError):
        anonymous.subscribe_keys("*", timeout=0.5)
    with daemon.client(username="reader", password="rpw") as reader, daemon.client() as admin:
        changes = reader.subscribe_keys("*", timeout=5)
        admin.put("seen", "by a reader")
        first = next(changes)
    assert first["changes"][0]["key"] == "seen"
    assert all(e["event"] != "UserPut" for e in first["changes"])


def test_boltctl_watch_prints_each_change(bolt_daemon: BoltDaemon) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bolt.cli.boltctl", "watch", "agent:*", "--count", "2"],
        env=clean_environment(bolt_daemon.env_for_cli()),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        with bolt_daemon.client() as writer:
            while time.monotonic() < deadline:  # until the watch is registered
                clients = writer.stats()["clients"]
                if any(c["current_command"] == "WATCH" for c in clients):
                    break
                time.sleep(0.1)
            writer.put("agent:1", "busy")
            writer.put("ignored", "x")
            writer.delete("agent:1")
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 2, out
    assert lines[0].startswith("offset=") and "KeyPut agent:1 value='busy'" in lines[0]
    assert "KeyDeleted agent:1" in lines[1]
