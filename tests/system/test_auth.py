"""Authentication, roles and the security modes, against the real daemon."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bolt.client import BoltClient
from bolt.errors import (
    AuthenticationError,
    BadRequestError,
    KeyNotFoundError,
    NoPermissionError,
)
from bolt.testing import BoltDaemon
from tests.system._support import run_bolt

DaemonFactory = Callable[..., BoltDaemon]
ADMIN = {"BOLT_ADMIN_PASSWORD": "secret"}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoltDaemon]:
    """A daemon that requires logins, with users ``ro`` (readonly) and ``rw`` (readwrite)."""
    with BoltDaemon.start(tmp_path_factory.mktemp("auth") / "data", env=ADMIN) as daemon:
        with daemon.client() as admin:
            admin.useradd("ro", "ro-pass", "readonly")
            admin.useradd("rw", "rw-pass", "readwrite")
            admin.put("shared", "original")
        yield daemon


def login(daemon: BoltDaemon, user: str, password: str) -> BoltClient:
    return daemon.client(username=user, password=password)


def test_auth_required_listens_on_all_interfaces_by_default(secured: BoltDaemon) -> None:
    assert secured.listen_host == "0.0.0.0"
    assert any("authentication is required" in line for line in secured.stderr_lines())


def test_wrong_password_is_refused_and_the_server_goes_on(secured: BoltDaemon) -> None:
    with pytest.raises(AuthenticationError):
        login(secured, "admin", "wrong")
    with pytest.raises(AuthenticationError):
        login(secured, "nobody", "secret")
    with secured.client() as admin:
        assert admin.whoami() == {"user": "admin", "role": "admin"}
        assert admin.get("shared") == "original"


def test_requests_before_login_are_refused(secured: BoltDaemon) -> None:
    with BoltClient(host=secured.host, port=secured.port, timeout=10) as anonymous:
        assert anonymous.ping() == "PONG"
        assert anonymous.whoami() == {"user": None, "role": None}
        with pytest.raises(AuthenticationError, match="authentication required"):
            anonymous.get("shared")
        with pytest.raises(AuthenticationError):
            anonymous.put("shared", "changed")
        with pytest.raises(AuthenticationError):
            anonymous.stats()
        with pytest.raises(AuthenticationError):
            anonymous.auth("admin", "wrong")
        assert anonymous.auth("ro", "ro-pass") == {"user": "ro", "role": "readonly"}
        assert anonymous.get("shared") == "original"


def test_readonly_user_cannot_write(secured: BoltDaemon) -> None:
    with login(secured, "ro", "ro-pass") as reader, secured.client() as admin:
        assert reader.get("shared") == "original"
        assert reader.exists("shared") is True
        before = admin.stats()["wal"]["last_offset"]
        writes: list[Callable[[], object]] = [
            lambda: reader.put("shared", "changed"),
            lambda: reader.delete("shared"),
            lambda: reader.mset({"a": "1"}),
            lambda: reader.incr("n"),
            lambda: reader.cincr("crdt"),
            lambda: reader.cdecr("crdt"),
            lambda: reader.rpush("list", "x"),
            lambda: reader.lpop("list"),
            lambda: reader.sadd("set", "m"),
            lambda: reader.setex("t", "v", 10),
        ]
        for write in writes:
            with pytest.raises(NoPermissionError, match="readwrite"):
                write()
        for admin_only in (reader.users, lambda: reader.useradd("x", "y", "admin")):
            with pytest.raises(NoPermissionError):
                admin_only()
        assert admin.stats()["wal"]["last_offset"] == before
        assert reader.get("shared") == "original"


def test_stats_needs_admin(secured: BoltDaemon) -> None:
    """STATS lists every client's user and address: readonly and readwrite may not see it."""
    for user, password in (("ro", "ro-pass"), ("rw", "rw-pass")):
        with login(secured, user, password) as client:
            with pytest.raises(NoPermissionError, match="needs role admin"):
                client.stats()
            assert client.ping() == "PONG"  # the connection carries on
    with secured.client() as admin:
        clients = admin.stats()["clients"]
        assert any(entry["user"] == "admin" for entry in clients)


def test_readwrite_user_writes_but_does_not_manage_users(secured: BoltDaemon) -> None:
    with login(secured, "rw", "rw-pass") as writer:
        writer.put("rw:key", "v")
        assert writer.cincr("rw:crdt") == 1
        assert writer.incr("rw:n") == 1
        with pytest.raises(NoPermissionError):
            writer.users()
        with pytest.raises(NoPermissionError):
            writer.useradd("mallory", "pw", "admin")
        with pytest.raises(NoPermissionError):
            writer.set_role("rw", "admin")
        with pytest.raises(NoPermissionError):
            writer.passwd("ro", "stolen")
        assert writer.whoami() == {"user": "rw", "role": "readwrite"}


def test_user_may_change_own_password(secured: BoltDaemon) -> None:
    with secured.client() as admin:
        admin.useradd("carol", "first", "readonly")
    with login(secured, "carol", "first") as carol:
        carol.passwd("carol", "second")
    with pytest.raises(AuthenticationError):
        login(secured, "carol", "first")
    with login(secured, "carol", "second") as carol:
        assert carol.whoami()["user"] == "carol"


def test_user_management(secured: BoltDaemon) -> None:
    with secured.client() as admin:
        admin.useradd("dave", "pw", "readonly")
        with pytest.raises(BadRequestError, match="already exists"):
            admin.useradd("dave", "pw", "readonly")
        with pytest.raises(BadRequestError, match="role"):
            admin.useradd("erin", "pw", "root")
        with pytest.raises(KeyNotFoundError):
            admin.set_role("nobody", "readonly")
        names = {user["name"]: user["role"] for user in admin.users()}
        assert names["dave"] == "readonly" and names["admin"] == "admin"
        with login(secured, "dave", "pw") as dave:
            with pytest.raises(NoPermissionError):
                dave.put("dave:key", "v")
            admin.set_role("dave", "readwrite")  # applies to the live session
            dave.put("dave:key", "v")
            assert dave.whoami()["role"] == "readwrite"
            assert admin.userdel("dave") is True
            with pytest.raises(AuthenticationError):  # a deleted user's session is logged out
                dave.get("dave:key")
        assert admin.userdel("dave") is False
        with pytest.raises(AuthenticationError):
            login(secured, "dave", "pw")


def test_last_admin_cannot_be_removed(secured: BoltDaemon) -> None:
    with secured.client() as admin:
        with pytest.raises(BadRequestError, match="last admin"):
            admin.userdel("admin")
        with pytest.raises(BadRequestError, match="last admin"):
            admin.set_role("admin", "readonly")
        assert admin.whoami() == {"user": "admin", "role": "admin"}


def test_failed_logins_back_off(secured: BoltDaemon) -> None:
    with secured.client() as admin:
        durations = []
        for _ in range(6):
            started = time.monotonic()
            with pytest.raises(AuthenticationError):
                login(secured, "admin", "wrong-again")
            durations.append(time.monotonic() - started)
        # Failures 4, 5 and 6 wait 0.1 s, 0.2 s and 0.4 s before their reply.
        assert durations[3] >= 0.1
        assert durations[4] >= 0.2
        assert durations[5] >= 0.4
        started = time.monotonic()
        assert admin.get("shared") == "original"  # logged-in sessions are not slowed
        assert time.monotonic() - started < 0.1
    with secured.client() as again:  # a success resets the back-off
        assert again.whoami()["user"] == "admin"
    started = time.monotonic()
    with pytest.raises(AuthenticationError):
        login(secured, "admin", "wrong")
    assert time.monotonic() - started < 0.4


def test_users_persist_and_admin_password_is_rebootstrapped(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    first = bolt_daemon_factory(env=ADMIN)
    with first.client() as admin:
        admin.useradd("frank", "pw", "readwrite")
    assert first.terminate() == 0
    second = bolt_daemon_factory(env={"BOLT_ADMIN_PASSWORD": "new"}, data_dir=first.data_dir)
    with pytest.raises(AuthenticationError):
        second.client(password="secret")
    with second.client() as admin:
        assert {"name": "frank", "role": "readwrite"} in admin.users()
    with second.client(username="frank", password="pw") as frank:
        frank.put("k", "v")
    assert any("updated the 'admin' user" in line for line in second.stderr_lines())


def test_auth_false_serves_without_logins(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory(env={"BOLT_AUTH": "false", "BOLT_HOST": "0.0.0.0"})
    assert daemon.listen_host == "0.0.0.0"
    with daemon.client(username="anyone", password="whatever") as client:
        assert client.whoami() == {"user": "admin", "role": "admin"}
        client.put("k", "v")
        assert client.auth("who", "ever") == {"user": "admin", "role": "admin"}


def test_protected_mode_is_loopback_only(bolt_daemon_factory: DaemonFactory) -> None:
    daemon = bolt_daemon_factory()
    assert daemon.listen_host == "127.0.0.1"
    assert any("protected mode" in line for line in daemon.stderr_lines())
    with daemon.client(username="admin", password="anything") as client:
        assert client.whoami() == {"user": "admin", "role": "admin"}


def test_protected_mode_refuses_a_public_host(tmp_path: Path) -> None:
    result = run_bolt(tmp_path, {"BOLT_HOST": "0.0.0.0"})
    assert result.returncode == 2
    assert "bolt: invalid BOLT_HOST='0.0.0.0'" in result.stderr
    assert "BOLT_ADMIN_PASSWORD" in result.stderr and "BOLT_AUTH=false" in result.stderr


def test_auth_true_without_any_user_refuses_to_start(tmp_path: Path) -> None:
    result = run_bolt(tmp_path, {"BOLT_AUTH": "true"})
    assert result.returncode == 2
    assert "no user exists" in result.stderr and "BOLT_ADMIN_PASSWORD" in result.stderr
