"""A toy Bolt server for unit-testing the client layer (see :class:`ToyServer`)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import trio

from bolt import errors
from bolt.wire import (
    PROTOCOL_VERSION,
    Codec,
    Request,
    encode_error,
    encode_push,
    encode_response,
)
from bolt.wire import login as proofs


@dataclass(eq=False)
class _ToyConnection:
    stream: trio.abc.Stream
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    send_lock: trio.Lock = field(default_factory=trio.Lock)
    greeted: bool = False
    pending_login: tuple[str, bytes, bytes] | None = None  # user, auth message, scrypt key


class ToyServer:
    """A stand-in for the Bolt daemon, for unit-testing the client layer ONLY.

    It is not the real server and proves nothing about it. It speaks the
    wire codec over real TCP (optionally TLS) on a free loopback port, from a
    background thread running its own trio loop, and implements a toy subset:
    ``HELLO`` (a password other than :attr:`password` is refused),
    ``PUT``/``GET``/``DEL``/``INCR`` on a dict keyed by ``(db, key)``, ``PING``,
    and ``PUSHME [topic, payload]`` (sends a push, then replies ``None``).
    Everything else is answered from :attr:`canned` or with UNKNOWN_COMMAND.

    Knobs for failure injection (set them from the test thread):

    * ``errors[command]`` -- reply with this error instead.
    * ``canned[command]`` -- reply with this value instead.
    * ``drop_after_reading[command] = n`` -- the next n times, apply the
      command and then close the connection without replying (a lost reply).
    * ``delay_seconds[command]`` -- wait before replying.
    * ``refuse_with`` -- greet new connections with this connection-level
      error (id 0) and close them.
    * :meth:`push` and :meth:`kick` -- push to / close every connection now.
    """

    password = "secret"

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, node_id: str = "toy") -> None:
        self.node_id = node_id
        self.ssl_context = ssl_context
        self.requests: list[Request] = []
        self.batch_sizes: list[int] = []  # requests decoded per receive (pipelining shows here)
        self.canned: dict[str, Any] = {}
        self.errors: dict[str, errors.BoltError] = {}
        self.drop_after_reading: dict[str, int] = {}
        self.delay_seconds: dict[str, float] = {}
        self.refuse_with: errors.BoltError | None = None
        self.data: dict[tuple[str | None, str], Any] = {}
        self.connections_accepted = 0
        self.port = 0
        self._connections: set[_ToyConnection] = set()
        self._started = threading.Event()
        self._thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None

    # --- control, from the test thread ------------------------------------------

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("toy server did not start")

    def stop(self) -> None:
        if self._thread.is_alive():
            trio.from_thread.run_sync(self._cancel_all, trio_token=self._token)
            self._thread.join(10)
            assert not self._thread.is_alive()

    def push(self, topic: str, payload: Any) -> None:
        """Send a push to every open connection now."""
        trio.from_thread.run(self._push_all, topic, payload, trio_token=self._token)

    def kick(self) -> None:
        """Close every open connection (as a restart would) and wait until they are."""
        trio.from_thread.run(self._kick_all, trio_token=self._token)

    def commands(self) -> list[str]:
        """Commands received so far, in order, without the handshakes."""
        handshake = ("HELLO", "LOGIN")
        return [request.command for request in self.requests if request.command not in handshake]

    # --- the trio side ------------------------------------------------------------

    def _cancel_all(self) -> None:
        assert self._nursery is not None
        self._nursery.cancel_scope.cancel()

    async def _kick_all(self) -> None:
        for connection in self._connections:
            connection.scope.cancel()
        while self._connections:
            await trio.sleep(0.001)

    async def _push_all(self, topic: str, payload: Any) -> None:
        for connection in list(self._connections):
            async with connection.send_lock:
                await connection.stream.send_all(encode_push(topic, payload))

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        listeners: list[Any] = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        if self.ssl_context is not None:
            listeners = [trio.SSLListener(item, self.ssl_context) for item in listeners]
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._started.set()
            await trio.serve_listeners(self._serve, listeners, handler_nursery=nursery)

    async def _serve(self, stream: trio.abc.Stream) -> None:
        self.connections_accepted += 1
        connection = _ToyConnection(stream)
        self._connections.add(connection)
        try:
            with connection.scope:
                if self.refuse_with is not None:
                    await stream.send_all(encode_error(0, self.refuse_with))
                    return
                await self._converse(connection)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self._connections.discard(connection)
            await trio.aclose_forcefully(stream)

    async def _converse(self, connection: _ToyConnection) -> None:
        codec = Codec()
        while data := await connection.stream.receive_some(65536):
            codec.receive_data(data)
            batch = codec.next_messages()
            self.batch_sizes.append(len(batch))
            for request in batch:
                assert isinstance(request, Request)
                self.requests.append(request)
                command = request.command
                if command in self.delay_seconds:
                    await trio.sleep(self.delay_seconds[command])
                if self.drop_after_reading.get(command, 0) > 0:
                    self.drop_after_reading[command] -= 1
                    self._reply(connection, request)  # applied, but the reply is lost
                    return
                if command == "PUSHME":
                    async with connection.send_lock:
                        await connection.stream.send_all(encode_push(*request.args))
                reply = self._reply(connection, request)
                async with connection.send_lock:
                    await connection.stream.send_all(reply)

    def _reply(self, connection: _ToyConnection, request: Request) -> bytes:
        try:
            result = self._execute(connection, request)
        except errors.BoltError as error:
            return encode_error(request.id, error)
        return encode_response(request.id, result)

    def _execute(self, connection: _ToyConnection, request: Request) -> Any:
        command, args, key = request.command, request.args, (request.db, "")
        if command in self.errors:
            raise self.errors[command]
        if command in self.canned:
            return self.canned[command]
        if command == "HELLO":
            return self._hello(connection, args)
        if command == "LOGIN":
            return self._login(connection, args)
        if not connection.greeted:
            raise errors.AuthenticationError("HELLO first")
        if args and isinstance(args[0], str):
            key = (request.db, args[0])
        if command == "PUT":
            self.data[key] = args[1]
            return None
        if command == "GET":
            return self.data.get(key)
        if command == "DEL":
            return self.data.pop(key, None)
        if command == "INCR":
            try:
                self.data[key] = int(self.data.get(key, 0)) + 1
            except ValueError:
                raise errors.NotIntegerError("value is not an integer") from None
            return self.data[key]
        if command == "PING":
            return "PONG"
        if command == "PUSHME":
            return None
        raise errors.UnknownCommandError(f"unknown command {command}")

    def _hello(self, connection: _ToyConnection, args: list[Any]) -> dict[str, Any]:
        version, options = args
        assert version == PROTOCOL_VERSION
        user, password = options.get("user"), options.get("password")
        if password is not None and password != self.password:
            raise errors.AuthenticationError("invalid username or password")
        info = {
            "protocol": PROTOCOL_VERSION,
            "server": "toy",
            "node_id": self.node_id,
            "auth_required": False,
            "user": user,
            "role": "admin" if user else None,
        }
        if "client_nonce" in options:  # the challenge login, with cheap scrypt parameters
            salt, nonce = b"toy-salt", proofs.new_nonce()
            key = proofs.derive_key(self.password, salt, 16, 1, 1, 32)
            message = proofs.auth_message(user, options["client_nonce"], nonce)
            connection.pending_login = (user, message, key)
            params = {"salt": salt.hex(), "n": 16, "r": 1, "p": 1, "length": 32, "nonce": nonce}
            return {**info, "challenge": params}
        connection.greeted = True
        return info

    def _login(self, connection: _ToyConnection, args: list[Any]) -> dict[str, Any]:
        assert connection.pending_login is not None, "LOGIN before a challenge"
        user, message, key = connection.pending_login
        stored = proofs.stored_key(key)
        if not proofs.check_client_proof(stored, message, bytes.fromhex(args[0])):
            raise errors.AuthenticationError("invalid username or password")
        connection.greeted = True
        answer = proofs.server_proof(proofs.server_key(key), message).hex()
        return {"user": user, "role": "admin", "server_proof": answer}


@contextmanager
def running_server(**kwargs: Any) -> Iterator[ToyServer]:
    """Start a :class:`ToyServer` in its thread; stop it (and join) on exit."""
    server = ToyServer(**kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()
