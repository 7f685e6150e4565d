"""The fault proxy: forwarding, cut and heal, blackhole, delay, duplicate, reset."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from bolt.testing import FaultProxy


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()

    def _echo(conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[:2]
    stop.set()
    thread.join(2)
    server.close()


@pytest.fixture
def proxy(echo: tuple[str, int]) -> Iterator[FaultProxy]:
    with FaultProxy(echo) as proxy:
        yield proxy


def _connect(proxy: FaultProxy) -> socket.socket:
    sock = socket.create_connection(proxy.address, timeout=2)
    sock.settimeout(1)
    return sock


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(10) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_forwards_both_ways(proxy: FaultProxy) -> None:
    with _connect(proxy) as sock:
        sock.sendall(b"hello")
        assert sock.recv(10) == b"hello"
    assert proxy.connections_total == 1
    assert proxy.bytes == {"forward": 5, "backward": 5}


def test_cut_closes_and_refuses_until_heal(proxy: FaultProxy) -> None:
    sock = _connect(proxy)
    sock.sendall(b"a")
    assert sock.recv(1) == b"a"
    proxy.cut()
    assert _closed(sock)
    sock.close()
    with _connect(proxy) as refused:
        assert _closed(refused)
    proxy.heal()
    with _connect(proxy) as sock:
        sock.sendall(b"b")
        assert sock.recv(1) == b"b"


def test_blackhole_one_direction(proxy: FaultProxy) -> None:
    with _connect(proxy) as sock:
        proxy.blackhole("backward")
        sock.sendall(b"lost")
        with pytest.raises(TimeoutError):
            sock.recv(10)
        assert proxy.bytes["forward"] == 4  # it did reach the upstream
        proxy.heal()
        sock.sendall(b"ok")
        assert sock.recv(10) == b"ok"


def test_delay(proxy: FaultProxy) -> None:
    proxy.delay(300, "forward")
    with _connect(proxy) as sock:
        started = time.monotonic()
        sock.sendall(b"x")
        assert sock.recv(1) == b"x"
        assert time.monotonic() - started >= 0.28


def test_duplicate(proxy: FaultProxy) -> None:
    proxy.duplicate("forward")
    with _connect(proxy) as sock:
        sock.sendall(b"ab")
        received = b""
        while len(received) < 4:
            received += sock.recv(10)
        assert received == b"abab"


def test_reset_closes_current_connections_only(proxy: FaultProxy) -> None:
    sock = _connect(proxy)
    sock.sendall(b"a")
    assert sock.recv(1) == b"a"
    proxy.reset()
    assert _closed(sock)
    sock.close()
    with _connect(proxy) as again:
        again.sendall(b"b")
        assert again.recv(1) == b"b"


def test_directions_are_checked(proxy: FaultProxy) -> None:
    with pytest.raises(ValueError):
        proxy.blackhole("sideways")
