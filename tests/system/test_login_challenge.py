"""The challenge login against the real daemon: no password on the wire, no replay."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bolt.client import BoltClient
from bolt.errors import AuthenticationError, BadRequestError
from bolt.testing import BoltDaemon
from bolt.wire import ErrorReply, Response, login
from tests.system._support import RawConnection

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoltDaemon]:
    env = {"BOLT_ADMIN_PASSWORD": PASSWORD}
    with BoltDaemon.start(tmp_path_factory.mktemp("login") / "data", env=env) as running:
        yield running


def challenge(raw: RawConnection, user: str = "admin", nonce: str | None = None) -> tuple:
    nonce = nonce or login.new_nonce()
    reply = raw.call("HELLO", [1, {"user": user, "client_nonce": nonce}])
    assert isinstance(reply, Response), reply
    assert reply.result["user"] is None  # not logged in yet
    return nonce, reply.result["challenge"]


def proof_for(password: str, user: str, nonce: str, params: dict[str, Any]) -> str:
    key = login.derive_key(
        password, bytes.fromhex(params["salt"]), params["n"], params["r"], params["p"], 32
    )
    return login.client_proof(key, login.auth_message(user, nonce, params["nonce"])).hex()


def test_a_challenge_login_works_and_the_server_proves_itself(daemon: BoltDaemon) -> None:
    raw = RawConnection(daemon, hello=False)
    try:
        nonce, params = challenge(raw)
        reply = raw.call("LOGIN", [proof_for(PASSWORD, "admin", nonce, params)])
        assert isinstance(reply, Response), reply
        assert (reply.result["user"], reply.result["role"]) == ("admin", "admin")
        key = login.derive_key(
            PASSWORD, bytes.fromhex(params["salt"]), params["n"], params["r"], params["p"], 32
        )
        message = login.auth_message("admin", nonce, params["nonce"])
        assert (
            reply.result["server_proof"] == login.server_proof(login.server_key(key), message).hex()
        )
        whoami = raw.call("WHOAMI", [])
        assert isinstance(whoami, Response) and whoami.result["user"] == "admin"
    finally:
        raw.close()


def test_a_captured_exchange_cannot_be_replayed(daemon: BoltDaemon) -> None:
    first = RawConnection(daemon, hello=False)
    nonce, params = challenge(first)
    captured = proof_for(PASSWORD, "admin", nonce, params)
    assert isinstance(first.call("LOGIN", [captured]), Response)
    first.close()
    second = RawConnection(daemon, hello=False)
    try:
        challenge(second, nonce=nonce)  # the same client nonce: the server's is new
        replayed = second.call("LOGIN", [captured])
        assert isinstance(replayed, ErrorReply) and replayed.code == AuthenticationError.code
        again = second.call("LOGIN", [captured])  # one LOGIN per challenge
        assert isinstance(again, ErrorReply) and again.code == BadRequestError.code
        refused = second.call("GET", ["k"])
        assert isinstance(refused, ErrorReply) and refused.code == AuthenticationError.code
    finally:
        second.close()


def test_an_unknown_user_gets_a_challenge_of_the_same_shape(daemon: BoltDaemon) -> None:
    raw = RawConnection(daemon, hello=False)
    try:
        _, real = challenge(raw, "admin")
        nonce, made_up = challenge(raw, "nobody")
        assert made_up.keys() == real.keys() and len(made_up["salt"]) == len(real["salt"])
        _, again = challenge(raw, "nobody")
        assert again["salt"] == made_up["salt"]  # stable, as a real user's is
        challenge(raw, "nobody", nonce)
        reply = raw.call("LOGIN", [proof_for(PASSWORD, "nobody", nonce, made_up)])
        assert isinstance(reply, ErrorReply) and reply.code == AuthenticationError.code
    finally:
        raw.close()


@pytest.mark.parametrize(
    "args",
    [[], ["zz-not-hex"], [123], ["ab", "cd"]],
)
def test_bad_login_requests_are_typed_errors(daemon: BoltDaemon, args: list[Any]) -> None:
    raw = RawConnection(daemon, hello=False)
    try:
        bare = raw.call("LOGIN", args)
        assert isinstance(bare, ErrorReply) and bare.code == BadRequestError.code
        bad_nonce = raw.call("HELLO", [1, {"user": "admin", "client_nonce": "short"}])
        assert isinstance(bad_nonce, ErrorReply) and bad_nonce.code == BadRequestError.code
        assert isinstance(raw.call("PING", []), Response)  # the connection carries on
    finally:
        raw.close()


class Tap:
    """A one-connection TCP relay that keeps every byte the client sent."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sent = bytearray()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(self.upstream)
        back = threading.Thread(target=self._pump, args=(server, client, None), daemon=True)
        back.start()
        self._pump(client, server, self.sent)
        back.join(5)
        client.close()
        server.close()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, keep: bytearray | None) -> None:
        try:
            while data := source.recv(65536):
                if keep is not None:
                    keep.extend(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()
        self.thread.join(5)


def test_the_sdk_never_sends_the_password(daemon: BoltDaemon, tmp_path: Path) -> None:
    tap = Tap((daemon.host, daemon.port))
    try:
        with BoltClient(port=tap.port, username="admin", password=PASSWORD) as client:
            client.put("challenged", "yes")
            assert client.get("challenged") == "yes"
            assert client.server_info["user"] == "admin"
        assert b"LOGIN" in tap.sent and b"client_nonce" in tap.sent
        assert PASSWORD.encode() not in tap.sent
    finally:
        tap.close()
    with (
        pytest.raises(AuthenticationError),
        BoltClient(port=daemon.port, username="admin", password="wrong") as refused,
    ):
        refused.ping()
