"""The load generator's inner loop: many raw sockets, many requests in flight.

Theory of operation
-------------------
A generator owns some connections, each already greeted with ``HELLO``.
:func:`drive` keeps ``depth`` requests in flight on every connection
(closed loop): it writes ``depth`` frames to each, then waits on ``epoll``;
when a read brings ``k`` complete replies on a connection it records ``k``
latencies and writes the next ``k`` frames from the pool in one ``send``.
So per request it does a slice of a pre-encoded pool, a few byte reads to
find the frame boundary and check the reply kind, and a clock read per
batch -- no msgpack at all unless a reply is not a plain response (an
error is decoded, counted and its first instance kept).

Latency is measured per request, from the ``send`` that carried it to the
read that completed its reply (requests sent together share a send time).
Replies on one connection arrive in request order (the protocol
guarantees it), so send times wait in a FIFO per connection.

The loop is non-blocking and level-triggered; a partial write leaves the
rest in a per-connection buffer drained on ``EPOLLOUT``. TLS sockets work
too: a read that needs more TLS data simply yields nothing this time, and
bytes TLS already decrypted (``pending``) are read before waiting again.

:func:`worker_main` is the body of a worker process: it connects, then
obeys ``prepare`` / ``go`` / ``stop`` messages from the parent on a pipe.
"""

from __future__ import annotations

import select
import socket
import ssl
import struct
import time
from array import array
from collections import deque
from dataclasses import dataclass
from itertools import repeat
from multiprocessing.connection import Connection
from typing import Any

from bolt import limits
from bolt.client import hello_args
from bolt.errors import BoltConnectionError, BoltError, BoltTimeoutError, ProtocolError
from bolt.wire import (
    KIND_PUSH,
    KIND_RESPONSE,
    Codec,
    ErrorReply,
    Push,
    Response,
    encode_request,
)

RECEIVE_BYTES = 256 * limits.KIB
BENCH_CLIENT_NAME = "boltctl-bench"
"""The ``client_name`` the benchmark's connections announce."""
_HEADER = struct.Struct("<I")
_header_size = _HEADER.unpack_from
# A response and a push are msgpack arrays of 3 ([kind, id or topic, result]):
# a fixarray byte, then the kind, a positive fixint encoded as its own value.
_ARRAY_OF_3 = 0x93


@dataclass(frozen=True)
class Target:
    """The server to load and how to log in (picklable, for worker processes)."""

    host: str
    port: int
    user: str | None = None
    password: str | None = None
    database: str | None = None
    tls: bool = False
    tls_ca_file: str | None = None
    tls_verify: bool = True
    timeout: float = 10.0

    def ssl_context(self) -> ssl.SSLContext | None:
        """The client TLS context, or ``None`` for plain TCP."""
        if not self.tls and self.tls_ca_file is None:
            return None
        context = ssl.create_default_context(cafile=self.tls_ca_file)
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


@dataclass
class DriveResult:
    """What one generator measured for one test."""

    requests: int
    started: float  # time.monotonic() (system-wide on Linux, comparable across processes)
    finished: float
    latencies: array  # seconds, one per request
    errors: int
    first_error: str | None


def connect(target: Target, context: ssl.SSLContext | None = None) -> socket.socket:
    """Open one connection and greet the server with ``HELLO``.

    Returns:
        A blocking socket, greeted and ready for requests.

    Raises:
        OSError: the TCP connection or TLS handshake failed.
        BoltError: the server refused ``HELLO`` (``AuthenticationError`` ...).
    """
    sock = socket.create_connection((target.host, target.port), timeout=target.timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname=target.host)
        hello = hello_args(target.user, target.password, BENCH_CLIENT_NAME)
        sock.sendall(encode_request(1, "HELLO", hello, None))
        codec = Codec(limits.reply_bytes_max)
        while True:
            message = codec.next_message()
            if message is not None and not isinstance(message, Push):
                break
            data = sock.recv(RECEIVE_BYTES)
            if not data:
                raise BoltConnectionError("the server closed the connection during HELLO")
            codec.receive_data(data)
        if isinstance(message, ErrorReply):
            raise message.to_exception()
        if not isinstance(message, Response) or message.id != 1:
            raise ProtocolError(f"unexpected reply to HELLO: {message!r}")
        return sock
    except BaseException:
        sock.close()
        raise


POPULATE_WINDOW_FRAMES = 32


def call_all(sock: socket.socket, frames: list[bytes]) -> None:
    """Send ``frames`` on a greeted blocking socket, a window at a time, and
    wait for every reply (used to write the keyspace before read tests).

    Raises:
        BoltError: the first error reply, rebuilt as its class.
        BoltConnectionError: the server closed the connection.
    """
    codec = Codec(limits.reply_bytes_max)
    for start in range(0, len(frames), POPULATE_WINDOW_FRAMES):
        window = frames[start : start + POPULATE_WINDOW_FRAMES]
        sock.sendall(b"".join(window))
        replies = 0
        while replies < len(window):
            for message in codec.next_messages():
                if isinstance(message, ErrorReply):
                    raise message.to_exception()
                if isinstance(message, Response):
                    replies += 1
            if replies < len(window):
                data = sock.recv(RECEIVE_BYTES)
                if not data:
                    raise BoltConnectionError("the server closed the connection")
                codec.receive_data(data)


class _Connection:
    """Per-connection state of :func:`drive`."""

    __slots__ = ("cursor", "pending", "received", "sent_at", "sock", "tls")

    def __init__(self, sock: socket.socket, cursor: int) -> None:
        self.sock = sock
        self.tls = isinstance(sock, ssl.SSLSocket)
        self.cursor = cursor
        self.sent_at: deque[float] = deque()
        self.received = b""  # the start of a reply whose end has not arrived
        self.pending = bytearray()  # bytes a partial send left over


def _describe(frame: bytes) -> str:
    """Text for a reply frame that is not a plain response (an error, usually)."""
    codec = Codec(limits.reply_bytes_max)
    try:
        codec.receive_data(frame)  # checks the length prefix: it may raise too
        message = codec.next_message()
    except ProtocolError as exc:
        return f"undecodable reply: {exc}"
    if isinstance(message, ErrorReply):
        return f"{message.name} {message.message}"
    return f"unexpected reply {message!r}"


def drive(
    sockets: list[socket.socket],
    pool: list[bytes],
    requests: int,
    depth: int,
    timeout: float,
    progress: Any = None,
) -> DriveResult:
    """Send ``requests`` requests over ``sockets``, ``depth`` in flight on each.

    Args:
        sockets: greeted connections (made non-blocking here, left so).
        pool: pre-encoded frames, cycled through; longer than ``depth``.
        requests: how many requests to send in all.
        depth: requests in flight per connection (1 = no pipelining).
        timeout: seconds without any reply after which to give up.
        progress: an object with a writable ``value`` (a shared counter)
            set to the number of replies so far, or ``None``.

    Returns:
        Throughput and latency measurements.

    Raises:
        ValueError: ``depth`` is not below the pool size, or ``requests`` < 1.
        BoltConnectionError: a connection closed.
        BoltTimeoutError: no reply within ``timeout``.
    """
    if depth < 1 or depth >= len(pool):
        raise ValueError("depth must be at least 1 and less than the pool size")
    if requests < 1 or not sockets:
        raise ValueError("need at least one request and one connection")
    driver = _Driver(sockets, pool, timeout)
    try:
        return driver.run(requests, depth, progress)
    finally:
        driver.close()


class _Driver:
    """The state of one :func:`drive` call (see the module docstring)."""

    def __init__(self, sockets: list[socket.socket], pool: list[bytes], timeout: float) -> None:
        self.pool = pool
        self.timeout = timeout
        self.poller: Any
        if hasattr(select, "epoll"):
            self.poller = select.epoll()
            self.readable, self.writable = select.EPOLLIN, select.EPOLLOUT
            self.wait_for: float = timeout  # epoll takes seconds
        else:  # pragma: no cover - macOS and BSDs
            self.poller = select.poll()
            self.readable, self.writable = select.POLLIN, select.POLLOUT
            self.wait_for = int(timeout * 1000)  # poll takes milliseconds
        self.connections: dict[int, _Connection] = {}
        stride = max(1, len(pool) // len(sockets))
        for number, sock in enumerate(sockets):
            sock.setblocking(False)
            self.connections[sock.fileno()] = _Connection(sock, (number * stride) % len(pool))
            self.poller.register(sock.fileno(), self.readable)
        self.latencies = array("d")
        self.errors = 0
        self.first_error: str | None = None
        self.unsent = 0

    def close(self) -> None:
        close = getattr(self.poller, "close", None)
        if close is not None:
            close()

    def run(self, requests: int, depth: int, progress: Any) -> DriveResult:
        self.unsent = requests
        done = 0
        started = time.monotonic()
        for conn in self.connections.values():
            count = min(depth, self.unsent)
            if count:
                self.unsent -= count
                self.send(conn, count, started)
        connections = self.connections
        writable = self.writable
        poll = self.poller.poll
        wait_for = self.wait_for
        receive = self.receive
        while done < requests:
            events = poll(wait_for)
            if not events:  # a whole timeout without any socket becoming ready
                raise BoltTimeoutError(
                    f"no reply within {self.timeout:g} s ({done} of {requests} done)"
                )
            for fd, mask in events:
                conn = connections[fd]
                if mask & writable and conn.pending:
                    self.flush(fd, conn)
                if mask & ~writable:
                    done += receive(conn)
            if progress is not None:
                progress.value = done
        finished = time.monotonic()
        return DriveResult(done, started, finished, self.latencies, self.errors, self.first_error)

    def send(self, conn: _Connection, count: int, now: float) -> None:
        """Write the next ``count`` frames of the pool on ``conn``."""
        pool = self.pool
        pool_size = len(pool)
        start = conn.cursor
        end = start + count
        if count == 1:
            data = pool[start]
            conn.sent_at.append(now)
        else:
            if end <= pool_size:
                data = b"".join(pool[start:end])
            else:
                end -= pool_size
                data = b"".join(pool[start:] + pool[:end])
            conn.sent_at.extend(repeat(now, count))
        conn.cursor = end if end < pool_size else 0
        if conn.pending:
            conn.pending += data
            return
        try:
            written = conn.sock.send(data)
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            written = 0
        except OSError as exc:
            raise BoltConnectionError(f"send failed: {exc}") from exc
        if written < len(data):
            conn.pending += data[written:]
            self.poller.modify(conn.sock.fileno(), self.readable | self.writable)

    def flush(self, fd: int, conn: _Connection) -> None:
        """Write what a partial send left over (the socket became writable)."""
        try:
            written = conn.sock.send(conn.pending)
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            written = 0
        except OSError as exc:
            raise BoltConnectionError(f"send failed: {exc}") from exc
        del conn.pending[:written]
        if not conn.pending:
            self.poller.modify(fd, self.readable)

    def receive(self, conn: _Connection) -> int:
        """Read replies on ``conn``, record their latency, send as many new requests.

        Returns:
            How many replies were complete.
        """
        try:
            data = conn.sock.recv(RECEIVE_BYTES)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return 0
        except OSError as exc:
            raise BoltConnectionError(f"connection broke: {exc}") from exc
        if not data:
            raise BoltConnectionError("the server closed the connection")
        if conn.tls:
            data += _drain_tls(conn.sock)
        if conn.received:
            data = conn.received + data
            conn.received = b""
        size = len(data)
        if (  # the common case without pipelining: exactly one plain response
            size >= 6
            and _header_size(data)[0] == size - 4
            and data[4] == _ARRAY_OF_3
            and data[5] == KIND_RESPONSE
        ):
            now = time.monotonic()
            self.latencies.append(now - conn.sent_at.popleft())
            if self.unsent:
                self.unsent -= 1
                self.send(conn, 1, now)
            return 1
        header = _header_size
        position = 0
        count = 0
        while size - position >= 4:
            end = position + 4 + header(data, position)[0]
            if end > size:
                break
            plain = (
                end - position >= 6  # first: an empty frame may end the buffer
                and data[position + 4] == _ARRAY_OF_3
                and data[position + 5] == KIND_RESPONSE
            )
            if not plain and not self.unusual(data[position:end]):
                position = end
                continue  # a push is not a reply
            position = end
            count += 1
        conn.received = data[position:] if position < size else b""
        if count:
            now = time.monotonic()
            record = self.latencies.append
            sent_at = conn.sent_at.popleft
            for _ in range(count):
                record(now - sent_at())
            if self.unsent:
                more = min(count, self.unsent)
                self.unsent -= more
                self.send(conn, more, now)
        return count

    def unusual(self, frame: bytes) -> bool:
        """Classify a frame (header and payload) that is not a plain response.

        Returns:
            ``False`` for a push (not a reply); ``True`` for a reply, which is
            then counted as an error (its text kept if it is the first).
        """
        if len(frame) >= 6 and frame[4] == _ARRAY_OF_3 and frame[5] == KIND_PUSH:
            return False
        self.errors += 1
        if self.first_error is None:
            self.first_error = _describe(frame)
        return True


def _drain_tls(sock: Any) -> bytes:
    """Bytes TLS already decrypted and holds (``recv`` returns one record at a time)."""
    data = b""
    while sock.pending():
        try:
            data += sock.recv(RECEIVE_BYTES)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            break
    return data


def error_report(exc: BaseException) -> tuple[str, int, str]:
    """``(kind, code, message)`` of an exception, to send to the parent process."""
    if isinstance(exc, BoltError):
        return ("bolt", exc.code, exc.message)
    if isinstance(exc, OSError):
        return ("os", BoltConnectionError.code, str(exc) or type(exc).__name__)
    return ("other", BoltError.code, f"{type(exc).__name__}: {exc}")


def worker_main(target: Target, connections: int, channel: Connection, progress: Any) -> None:
    """Body of a worker process: connect, then run tests on the parent's orders.

    Messages from the parent: ``("prepare", frames_kwargs)``, ``("go",
    requests, depth)``, ``("stop",)``. Replies: ``("ready",)``,
    ``("prepared",)``, ``("done", DriveResult)``, or ``("error", kind, code,
    message)`` after which the worker exits.
    """
    from bolt.bench._workload import WORKLOADS, build_frames

    sockets: list[socket.socket] = []
    try:
        context = target.ssl_context()
        sockets = [connect(target, context) for _ in range(connections)]
        channel.send(("ready",))
        pool: list[bytes] = []
        while True:
            order = channel.recv()
            if order[0] == "prepare":
                options = dict(order[1])
                pool = build_frames(WORKLOADS[options.pop("test")], **options)
                progress.value = 0
                channel.send(("prepared",))
            elif order[0] == "go":
                _, requests, depth = order
                channel.send(
                    ("done", drive(sockets, pool, requests, depth, target.timeout, progress))
                )
            else:
                return
    except (EOFError, KeyboardInterrupt):
        return  # the parent went away or was interrupted
    except BaseException as exc:
        try:
            channel.send(("error", *error_report(exc)))
        except OSError:
            pass
    finally:
        for sock in sockets:
            sock.close()
