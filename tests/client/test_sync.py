"""The blocking client against the toy server: handshake, errors, pipelines,
timeouts, the reconnect rule, pushes and threads."""

from __future__ import annotations

import builtins
import socket
import threading
import time

import pytest

from bolt import errors, limits
from bolt.client import BoltClient, Push
from bolt.wire import Request

from .toy_server import ToyServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- connecting -------------------------------------------------------------------


def test_hello_carries_credentials_and_client_name(server: ToyServer) -> None:
    client = BoltClient(port=server.port, username="admin", password="secret", client_name="t1")
    client.connect()
    try:
        assert client.connected
        assert client.server_info["node_id"] == "toy-1"
        assert client.server_info["user"] == "admin"
    finally:
        client.close()
    assert not client.connected
    hello = server.requests[0]
    nonce = hello.args[1].get("client_nonce", "")
    assert hello == Request(
        1, "HELLO", [1, {"user": "admin", "client_nonce": nonce, "client_name": "t1"}], None
    )
    assert len(nonce) == 32  # the password never travels


def test_hello_without_credentials_sends_empty_options(server: ToyServer) -> None:
    with BoltClient(port=server.port) as client:
        client.ping()
    assert server.requests[0].args == [1, {}]


def test_request_ids_increase_per_connection(server: ToyServer) -> None:
    with BoltClient(port=server.port) as client:
        client.put("a", "1")
        client.get("a")
        client.pipeline().ping().ping().execute()
    assert [request.id for request in server.requests] == [1, 2, 3, 4, 5]


def test_wrong_password_raises_authentication_error(server: ToyServer) -> None:
    client = BoltClient(port=server.port, username="admin", password="wrong")
    with pytest.raises(errors.AuthenticationError) as caught:
        client.connect()
    assert isinstance(caught.value, builtins.PermissionError)
    assert not client.connected


def test_unreachable_server_is_a_builtin_connection_error() -> None:
    client = BoltClient(port=free_port(), timeout=2)
    with pytest.raises(builtins.ConnectionError) as caught:
        client.connect()
    assert isinstance(caught.value, errors.BoltConnectionError)


def test_client_connects_lazily_and_again_after_close(server: ToyServer) -> None:
    client = BoltClient(port=server.port)
    assert client.ping() == "PONG"
    client.close()
    assert client.ping() == "PONG"
    client.close()
    assert server.connections_accepted == 2


def test_connection_level_refusal_raises_its_class(server: ToyServer) -> None:
    server.refuse_with = errors.TooManyConnectionsError("max 1000 connections")
    with pytest.raises(errors.TooManyConnectionsError, match="max 1000"):
        BoltClient(port=server.port).connect()


def test_context_manager_closes(server: ToyServer) -> None:
    with BoltClient(port=server.port) as client:
        client.put("k", "v")
        assert client.get("k") == "v"
    assert not client.connected


# --- server errors ------------------------------------------------------------------


def all_error_classes() -> list[type[errors.BoltError]]:
    found = {
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.BoltError)
    }
    return sorted(found, key=lambda cls: cls.code)


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda cls: cls.__name__)
def test_error_replies_raise_the_exact_class(
    server: ToyServer, cls: type[errors.BoltError]
) -> None:
    server.errors["GET"] = cls("it went wrong")
    with BoltClient(port=server.port) as client:
        with pytest.raises(cls) as caught:
            client.get("k")
        assert type(caught.value) is cls
        assert str(caught.value) == "it went wrong"
        assert client.ping() == "PONG"  # an error reply leaves the connection usable


def test_toy_incr_reports_not_integer(server: ToyServer) -> None:
    with BoltClient(port=server.port) as client:
        client.put("k", "abc")
        with pytest.raises(ValueError):  # NotIntegerError is a ValueError too
            client.incr("k")
        client.put("n", "41")
        assert client.incr("n") == 42


# --- pipelines ----------------------------------------------------------------------


def test_pipeline_sends_everything_in_one_write(server: ToyServer) -> None:
    with BoltClient(port=server.port) as client, client.pipeline() as pipe:
        for index in range(50):
            pipe.put(f"k{index}", str(index))
        pipe.get("k7").incr("n").delete("k1")
        assert len(pipe) == 53
        results = pipe.execute()
    assert results == [None] * 50 + ["7", 1, "1"]
    assert server.batch_sizes[-1] == 53


def test_pipeline_errors_raise_or_come_back_in_the_list(server: ToyServer) -> None:
    server.errors["DEL"] = errors.WrongTypeError("not a string")
    with BoltClient(port=server.port) as client:
        pipe = client.pipeline().put("a", "1").delete("a").get("a")
        with pytest.raises(errors.WrongTypeError):
            pipe.execute()
        results = client.pipeline().put("b", "2").delete("b").get("b").execute(raise_on_error=False)
        assert results[0] is None
        assert type(results[1]) is errors.WrongTypeError
        assert results[2] == "2"
        assert client.pipeline().execute() == []


def test_pipeline_is_discarded_when_the_block_is_left(server: ToyServer) -> None:
    with BoltClient(port=server.port) as client:
        with client.pipeline() as pipe:
            pipe.put("a", "1")
        assert len(pipe) == 0
        assert client.get("a") is None


# --- timeouts -------------------------------------------------------------------------


def test_timeout_raises_and_drops_the_connection(server: ToyServer) -> None:
    server.delay_seconds["GET"] = 1.0
    with BoltClient(port=server.port, timeout=0.2) as client:
        started = time.monotonic()
        with pytest.raises(errors.BoltTimeoutError) as caught:
            client.get("k")
        assert isinstance(caught.value, builtins.TimeoutError)
        assert time.monotonic() - started < 0.9
        assert not client.connected
        del server.delay_seconds["GET"]
        assert client.ping() == "PONG"  # a new connection: no stale reply in the way
    assert server.connections_accepted == 2


# --- the reconnect rule ---------------------------------------------------------------


def test_retry_safe_command_is_resent_once_after_a_lost_reply(server: ToyServer) -> None:
    server.drop_after_reading["PUT"] = 1
    with BoltClient(port=server.port) as client:
        assert client.put("k", "v") is None
        assert client.get("k") == "v"
    assert server.commands() == ["PUT", "PUT", "GET"]
    assert server.connections_accepted == 2


@pytest.mark.parametrize("method", ["incr", "cincr", "lpop"])
def test_non_idempotent_command_is_not_resent(server: ToyServer, method: str) -> None:
    command = {"incr": "INCR", "cincr": "CINCR", "lpop": "LPOP"}[method]
    server.canned["CINCR"] = server.canned["LPOP"] = 1
    server.drop_after_reading[command] = 1
    with BoltClient(port=server.port) as client:
        with pytest.raises(errors.WriteOutcomeUnknownError) as caught:
            getattr(client, method)("n")
        assert isinstance(caught.value, builtins.ConnectionError)
        assert server.commands() == [command]  # sent once, never again
        assert client.ping() == "PONG"  # the client itself carries on


def test_incr_applied_once_even_though_its_reply_was_lost(server: ToyServer) -> None:
    server.drop_after_reading["INCR"] = 1
    with BoltClient(port=server.port) as client:
        with pytest.raises(errors.WriteOutcomeUnknownError):
            client.incr("n")
        assert client.get("n") == 1  # re-sending blindly would have made it 2


def test_resend_happens_only_once(server: ToyServer) -> None:
    server.drop_after_reading["GET"] = 2
    with BoltClient(port=server.port) as client, pytest.raises(errors.BoltConnectionError):
        client.get("k")
    assert server.commands() == ["GET", "GET"]


def test_no_reconnect_when_auto_reconnect_is_off(server: ToyServer) -> None:
    server.drop_after_reading["GET"] = 1
    with BoltClient(port=server.port, auto_reconnect=False) as client:
        with pytest.raises(errors.BoltConnectionError):
            client.get("k")
        with pytest.raises(errors.BoltConnectionError, match="connect"):
            client.ping()
        client.connect()
        assert client.ping() == "PONG"
    assert server.commands() == ["GET", "PING"]


def test_server_closing_an_idle_connection_is_not_an_unknown_outcome(server: ToyServer) -> None:
    with BoltClient(port=server.port) as client:
        client.put("n", "1")
        server.kick()
        time.sleep(0.05)
        assert client.incr("n") == 2  # detected before sending: safe to reconnect
    assert server.connections_accepted == 2


def test_pipeline_resends_only_unanswered_safe_requests(server: ToyServer) -> None:
    server.drop_after_reading["GET"] = 1
    with BoltClient(port=server.port) as client:
        assert client.pipeline().put("a", "1").get("a").put("b", "2").execute() == [None, "1", None]
    # the toy closed the connection on reading GET, so it never read the second PUT
    assert server.commands() == ["PUT", "GET", "GET", "PUT"]


def test_pipeline_with_an_unsafe_unanswered_request_is_not_resent(server: ToyServer) -> None:
    server.drop_after_reading["GET"] = 1
    unknown = pytest.raises(errors.WriteOutcomeUnknownError, match="INCR")
    with BoltClient(port=server.port) as client, unknown:
        client.pipeline().put("a", "1").get("a").incr("n").execute()
    assert server.commands() == ["PUT", "GET"]  # INCR may have been read: the client cannot know


# --- pushes ------------------------------------------------------------------------


def test_pushes_arriving_with_replies_are_queued(server: ToyServer) -> None:
    with BoltClient(port=server.port) as client:
        assert client.execute_command("PUSHME", "tasks", {"id": 1}) is None
        assert client.next_push(timeout=0) == Push("tasks", {"id": 1})
        assert client.next_push(timeout=0) is None


def test_next_push_waits_for_a_push_while_idle(server: ToyServer) -> None:
    with BoltClient(port=server.port) as client:
        client.ping()
        timer = threading.Timer(0.1, server.push, ("news", "hello"))
        timer.start()
        try:
            assert client.next_push(timeout=5) == Push("news", "hello")
        finally:
            timer.join()
        started = time.monotonic()
        assert client.next_push(timeout=0.1) is None
        assert time.monotonic() - started >= 0.09


def test_push_queue_is_bounded(server: ToyServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "client_push_queue_max", 2)
    with BoltClient(port=server.port) as client:
        for index in range(4):
            client.execute_command("PUSHME", "t", index)
        assert client.dropped_pushes == 2
        assert [client.next_push(0), client.next_push(0)] == [Push("t", 2), Push("t", 3)]


# --- threads -------------------------------------------------------------------------


def test_one_client_shared_by_threads(server: ToyServer) -> None:
    workers, rounds = 8, 100
    failures: list[BaseException] = []
    with BoltClient(port=server.port) as client:

        def work(worker: int) -> None:
            try:
                for index in range(rounds):
                    client.incr("shared")
                    client.put(f"w{worker}", str(index))
                    assert client.get(f"w{worker}") == str(index)
                    if index % 10 == 0:
                        assert client.pipeline().ping().get(f"w{worker}").execute() == [
                            "PONG",
                            str(index),
                        ]
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(worker,)) for worker in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not failures
        assert client.get("shared") == workers * rounds
    assert server.connections_accepted == 1


def test_idle_close_without_auto_reconnect_needs_connect(server: ToyServer) -> None:
    with BoltClient(port=server.port, auto_reconnect=False) as client:
        client.ping()
        server.kick()
        time.sleep(0.05)
        with pytest.raises(errors.BoltConnectionError):
            client.ping()
        client.connect()
        assert client.ping() == "PONG"


def test_next_push_with_zero_timeout_reads_the_socket(server: ToyServer) -> None:
    with BoltClient(port=server.port) as client:
        client.ping()
        server.push("t", 1)
        time.sleep(0.05)
        assert client.next_push(timeout=0) == Push("t", 1)


def test_next_push_does_not_block_other_threads(server: ToyServer) -> None:
    with BoltClient(port=server.port, timeout=None) as client:
        client.ping()
        got: list[Push | None] = []
        waiter = threading.Thread(target=lambda: got.append(client.next_push(timeout=5)))
        waiter.start()
        time.sleep(0.05)
        for index in range(20):  # the waiting thread does not hold the lock
            client.put(f"k{index}", "v")
        server.push("done", 1)
        waiter.join(10)
        assert got == [Push("done", 1)]


def test_an_interrupted_read_drops_the_connection(
    server: ToyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with BoltClient(port=server.port) as client:
        client.put("k", "v")
        connection = client._connection
        assert connection is not None

        def interrupted(*args: object) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(connection, "_receive", interrupted)
        with pytest.raises(KeyboardInterrupt):
            client.get("k")
        assert not client.connected  # its GET reply is still on the wire
        assert client.get("k") == "v"


def test_unencodable_request_keeps_the_connection(server: ToyServer) -> None:
    with BoltClient(port=server.port) as client:
        client.ping()
        with pytest.raises(errors.BadRequestError):
            client.execute_command("PUT", "k", object())
        with pytest.raises(errors.TooLargeError):
            client.execute_command("PUT", "k", "x" * (limits.request_bytes_max + 1))
        assert client.connected
        assert client.ping() == "PONG"
    assert server.connections_accepted == 1
