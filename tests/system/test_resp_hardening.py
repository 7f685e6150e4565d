"""Issue 10 on the RESP port, against the real daemon: the pre-login frame limit,
the login timeout (with its reason told), and sessions that need no login are
not closed by it once they have sent a command."""

from __future__ import annotations

import socket
import time

import pytest

from bolt import limits
from tests.system._resp_support import start_resp_daemon
from tests.system.conftest import DaemonFactory

pytestmark = pytest.mark.slow

PASSWORD = "resp-hardening-secret"


def _command(*words: bytes) -> bytes:
    return b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%b\r\n" % (len(w), w) for w in words)


def _read_all(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def _read_reply(sock: socket.socket) -> bytes:
    sock.settimeout(5)
    return sock.recv(65536)


def test_before_auth_a_command_may_be_only_a_few_kib(bolt_daemon_factory: DaemonFactory) -> None:
    _, port = start_resp_daemon(bolt_daemon_factory, env={"BOLT_ADMIN_PASSWORD": PASSWORD})
    big = b"x" * (limits.prelogin_frame_bytes_max * 4)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        # Only the header: the server refuses before the payload is sent.
        sock.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % len(big))
        answer = _read_all(sock)
    assert answer.startswith(b"-ERR Protocol error"), answer
    assert b"until a connection has logged in with AUTH" in answer
    assert str(limits.prelogin_frame_bytes_max).encode() in answer
    # After AUTH, the full limit applies.
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_command(b"AUTH", PASSWORD.encode()))
        assert _read_reply(sock) == b"+OK\r\n"
        sock.sendall(_command(b"SET", b"k", big))
        assert _read_reply(sock) == b"+OK\r\n"


def test_the_login_timeout_closes_silent_and_unauthenticated_connections(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    _, port = start_resp_daemon(
        bolt_daemon_factory,
        env={"BOLT_ADMIN_PASSWORD": PASSWORD, "BOLT_LOGIN_TIMEOUT_MS": "500"},
    )
    with (
        socket.create_connection(("127.0.0.1", port)) as silent,
        socket.create_connection(("127.0.0.1", port)) as pinging,
        socket.create_connection(("127.0.0.1", port)) as authed,
    ):
        pinging.sendall(_command(b"PING"))  # allowed before AUTH, but is no login
        assert _read_reply(pinging) == b"+PONG\r\n"
        authed.sendall(_command(b"AUTH", PASSWORD.encode()))
        assert _read_reply(authed) == b"+OK\r\n"
        started = time.monotonic()
        for sock in (silent, pinging):
            answer = _read_all(sock)
            assert answer.startswith(b"-ERR no login within 0.5 s"), answer
        assert time.monotonic() - started < 5
        time.sleep(0.5)
        authed.sendall(_command(b"PING"))
        assert _read_reply(authed) == b"+PONG\r\n"


def test_without_auth_a_session_that_spoke_is_not_timed_out(
    bolt_daemon_factory: DaemonFactory,
) -> None:
    _, port = start_resp_daemon(bolt_daemon_factory, env={"BOLT_LOGIN_TIMEOUT_MS": "500"})
    with (
        socket.create_connection(("127.0.0.1", port)) as talking,
        socket.create_connection(("127.0.0.1", port)) as silent,
    ):
        talking.sendall(_command(b"PING"))
        assert _read_reply(talking) == b"+PONG\r\n"
        assert _read_all(silent).startswith(b"-ERR no login within")  # a silent socket goes
        time.sleep(1.0)
        talking.sendall(_command(b"SET", b"k", b"v" * (64 * 1024)))
        assert _read_reply(talking) == b"+OK\r\n"
