"""Fixtures of the client tests: toy servers (plain and TLS) on free ports."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
import trustme

from .toy_server import ToyServer, running_server


@pytest.fixture
def server() -> Iterator[ToyServer]:
    with running_server(node_id="toy-1") as toy:
        yield toy


@pytest.fixture
def server2() -> Iterator[ToyServer]:
    with running_server(node_id="toy-2") as toy:
        yield toy


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[ToyServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with running_server(ssl_context=context, node_id="toy-tls") as toy:
        yield toy


@pytest.fixture
def client_ssl_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context
