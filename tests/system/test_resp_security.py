"""The RESP port's logins, roles, protected mode and TLS, as on the Bolt port."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from bolt.testing import BoltDaemon
from tests.system._resp_support import client, start_resp_daemon

pytestmark = pytest.mark.slow

DaemonFactory = Callable[..., BoltDaemon]
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_test_certs.py"


@pytest.fixture
def secured(bolt_daemon_factory: DaemonFactory) -> tuple[BoltDaemon, int]:
    daemon, port = start_resp_daemon(bolt_daemon_factory, env={"BOLT_ADMIN_PASSWORD": "secret"})
    with daemon.client() as admin:
        admin.useradd("ro", "ro-pass", "readonly")
        admin.useradd("rw", "rw-pass", "readwrite")
    return daemon, port


def test_commands_before_auth_get_noauth(secured: tuple[BoltDaemon, int]) -> None:
    _, port = secured
    anonymous = client(port)
    with pytest.raises(redis.AuthenticationError, match="Authentication required"):
        anonymous.get("k")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"GET k\r\nPING\r\n")
        reply = b""
        while not reply.endswith(b"+PONG\r\n"):
            reply += raw.recv(4096)
    # PING needs no login, as on the Bolt port; the refused GET left the connection usable.
    assert reply == b"-NOAUTH Authentication required.\r\n+PONG\r\n"


def test_auth_password_logs_in_as_admin(secured: tuple[BoltDaemon, int]) -> None:
    _, port = secured
    admin = client(port, password="secret")
    assert admin.set("k", "v") is True
    assert admin.flushdb() is True
    wrong = client(port, password="nope")
    with pytest.raises(redis.AuthenticationError, match="invalid username-password pair"):
        wrong.ping()


def test_acl_form_maps_to_bolt_roles(secured: tuple[BoltDaemon, int]) -> None:
    _, port = secured
    admin = client(port, password="secret")
    admin.set("shared", "original")
    reader = client(port, username="ro", password="ro-pass")
    assert reader.get("shared") == b"original"
    with pytest.raises(redis.exceptions.NoPermissionError, match="no permissions to run the 'set'"):
        reader.set("shared", "changed")
    writer = client(port, username="rw", password="rw-pass", parser="hiredis-resp3")
    assert writer.set("shared", "changed") is True
    with pytest.raises(redis.exceptions.NoPermissionError, match="'flushdb'"):
        writer.flushdb()
    assert admin.get("shared") == b"changed"


def test_hello_with_auth(secured: tuple[BoltDaemon, int]) -> None:
    _, port = secured
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"HELLO 3\r\n")
        assert raw.recv(4096).startswith(b"-NOAUTH HELLO must be called")
        raw.sendall(b"HELLO 3 AUTH rw rw-pass\r\nSET k v\r\nHELLO 4\r\n")
        reply = b""
        while b"NOPROTO" not in reply:
            reply += raw.recv(4096)
        assert reply.startswith(b"%8\r\n")
        assert b"+OK\r\n-NOPROTO unsupported protocol version\r\n" in reply


def test_protected_mode_binds_loopback_and_ignores_credentials(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    daemon, port = start_resp_daemon(bolt_daemon_factory)
    assert daemon.listen_host == "127.0.0.1"
    with_password = client(port, username="anyone", password="anything")
    assert with_password.set("k", "v") is True
    assert with_password.config_get("protected-mode") == {"protected-mode": "yes"}


def test_tls_on_the_resp_port(bolt_daemon_factory: DaemonFactory, tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], check=True, timeout=60)
    env = {
        "BOLT_TLS_CERT": str(tmp_path / "server.pem"),
        "BOLT_TLS_KEY": str(tmp_path / "server.key"),
    }
    _, port = start_resp_daemon(bolt_daemon_factory, env=env)
    secure = redis.Redis(
        port=port, ssl=True, ssl_ca_certs=str(tmp_path / "ca.pem"), socket_timeout=10
    )
    assert secure.set("k", "over tls") is True
    assert secure.get("k") == b"over tls"
    plain = redis.Redis(port=port, socket_timeout=3)
    with pytest.raises(redis.ConnectionError):
        plain.ping()
