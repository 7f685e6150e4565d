"""Both clients speak TLS (certificates made by trustme)."""

from __future__ import annotations

import ssl

import pytest
import trio
import trustme

from bolt import errors
from bolt.client import AsyncBoltClient, BoltClient

from .toy_server import ToyServer


def test_sync_client_over_tls(tls_server: ToyServer, client_ssl_context: ssl.SSLContext) -> None:
    with BoltClient(port=tls_server.port, ssl_context=client_ssl_context) as client:
        client.put("k", "v")
        assert client.get("k") == "v"
        assert client.execute_command("PUSHME", "t", 1) is None
        assert client.next_push(timeout=1) is not None


def test_sync_client_with_a_ca_file(tls_server: ToyServer, ca: trustme.CA) -> None:
    with ca.cert_pem.tempfile() as ca_file:
        client = BoltClient(port=tls_server.port, tls=True, tls_ca_file=ca_file)
        with client:
            assert client.ping() == "PONG"


def test_unverified_tls_can_be_asked_for(tls_server: ToyServer) -> None:
    with BoltClient(port=tls_server.port, tls=True, tls_verify=False) as client:
        assert client.ping() == "PONG"


def test_untrusted_certificate_is_refused(tls_server: ToyServer) -> None:
    client = BoltClient(port=tls_server.port, tls=True, timeout=5)
    with pytest.raises(errors.BoltConnectionError) as caught:
        client.connect()
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)


def test_plain_client_against_tls_server_fails_cleanly(tls_server: ToyServer) -> None:
    with pytest.raises(errors.BoltConnectionError):
        BoltClient(port=tls_server.port, timeout=2).connect()


@pytest.mark.trio
async def test_async_client_over_tls(
    tls_server: ToyServer, client_ssl_context: ssl.SSLContext
) -> None:
    async with AsyncBoltClient(port=tls_server.port, ssl_context=client_ssl_context) as client:
        async with trio.open_nursery() as nursery:
            for index in range(20):
                nursery.start_soon(client.put, f"k{index}", "v")
        assert await client.get("k7") == "v"
