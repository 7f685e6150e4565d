"""TLS on the client port, with a certificate made by ``scripts/make_test_certs.py``."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bolt.errors import BoltConnectionError
from bolt.testing import BoltDaemon
from tests.system._support import run_bolt

DaemonFactory = Callable[..., BoltDaemon]
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_test_certs.py"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("certs")
    subprocess.run([sys.executable, str(SCRIPT), str(directory)], check=True, timeout=60)
    return {
        "ca": directory / "ca.pem",
        "cert": directory / "server.pem",
        "key": directory / "server.key",
    }


def tls_env(certs: dict[str, Path]) -> dict[str, str]:
    return {"BOLT_TLS_CERT": str(certs["cert"]), "BOLT_TLS_KEY": str(certs["key"])}


def test_client_speaks_tls(bolt_daemon_factory: DaemonFactory, certs: dict[str, Path]) -> None:
    daemon = bolt_daemon_factory(env={**tls_env(certs), "BOLT_ADMIN_PASSWORD": "secret"})
    with daemon.client(tls=True, tls_ca_file=str(certs["ca"])) as client:
        client.put("secret-key", "over tls")
        assert client.get("secret-key") == "over tls"
        assert client.whoami() == {"user": "admin", "role": "admin"}
        big = "x" * 300_000  # several TLS records each way
        client.put("big", big)
        assert client.get("big") == big
    # The raw TLS socket really negotiates TLS 1.2+ with the test CA.
    context = ssl.create_default_context(cafile=str(certs["ca"]))
    with (
        socket.create_connection((daemon.host, daemon.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as wrapped,
    ):
        assert wrapped.version() in ("TLSv1.2", "TLSv1.3")


def test_plain_tcp_and_untrusting_clients_fail_cleanly(
    bolt_daemon_factory: DaemonFactory, certs: dict[str, Path]
) -> None:
    daemon = bolt_daemon_factory(env=tls_env(certs))
    with pytest.raises((BoltConnectionError, OSError)):
        daemon.client(timeout=3)  # plain TCP to a TLS port
    with pytest.raises((BoltConnectionError, ssl.SSLError, OSError)):
        daemon.client(tls=True, timeout=3)  # does not trust the test CA
    with socket.create_connection((daemon.host, daemon.port), timeout=5) as raw:
        raw.sendall(b"\x16\x03\x01\x00\x05hello")  # a broken ClientHello
        raw.settimeout(5)
        try:
            while raw.recv(4096):
                pass
        except ConnectionResetError:
            pass
    with daemon.client(tls=True, tls_ca_file=str(certs["ca"])) as client:
        assert client.ping() == "PONG"
    daemon.wait_for_stderr("TLS handshake with .* failed")


def test_missing_certificate_stops_startup(tmp_path: Path, certs: dict[str, Path]) -> None:
    missing = tmp_path / "nope.pem"
    result = run_bolt(tmp_path, {"BOLT_TLS_CERT": str(missing), "BOLT_TLS_KEY": str(certs["key"])})
    assert result.returncode == 2
    assert f"bolt: invalid BOLT_TLS_CERT='{missing}': no such file" in result.stderr


def test_half_configured_tls_stops_startup(tmp_path: Path, certs: dict[str, Path]) -> None:
    result = run_bolt(tmp_path, {"BOLT_TLS_CERT": str(certs["cert"])})
    assert result.returncode == 2
    assert "BOLT_TLS_KEY is not" in result.stderr


def test_key_that_is_not_a_key_stops_startup(tmp_path: Path, certs: dict[str, Path]) -> None:
    result = run_bolt(
        tmp_path, {"BOLT_TLS_CERT": str(certs["cert"]), "BOLT_TLS_KEY": str(certs["ca"])}
    )
    assert result.returncode == 2
    assert "BOLT_TLS_KEY" in result.stderr and "cannot load" in result.stderr
