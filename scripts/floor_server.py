#!/usr/bin/env python3
"""The floor: a trio server that speaks Bolt's wire protocol and does no work.

Theory of operation
-------------------
It answers ``HELLO`` and then every request with a canned result -- ``None``
for writes, a fixed value of ``--value-size`` bytes for ``GET``, a list of
such values (one per key) for ``MGET``, ``1`` for ``INCR`` -- without
looking anything up, checking anything or writing anything down. It uses
the same codec (:mod:`bolt.wire`) and the same hot-path shape as the real
server: one ``receive_some`` → every complete frame in it → all replies in
one ``send_all``. So its throughput is the limit of this stack (trio +
msgpack + the framing) on this machine, and Bolt's throughput divided by it
says how much the real work costs. ``scripts/compare.py`` runs both with the
same load generator.

Usage: ``python scripts/floor_server.py [--host H] [--port P] [--value-size N]
[--busy-us US]``; ``--busy-us`` makes it spin that much CPU per request, to
calibrate what extra work per request costs in throughput here.
It prints ``floor ready: host=H port=P`` on stderr once it listens (port 0
picks a free port) and runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

try:
    import bolt  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trio

from bolt import limits
from bolt.bench._workload import make_value
from bolt.errors import ProtocolError, UnknownCommandError
from bolt.wire import PROTOCOL_VERSION, Codec, Request, encode_error, encode_response

RECEIVE_BYTES = 256 * limits.KIB
WRITES = frozenset({"PUT", "SETEX", "MSET", "DEL", "MDEL"})


class Replies:
    """The canned result of every command (computed once)."""

    def __init__(self, value_size: int) -> None:
        self.value = make_value(value_size)
        self.hello = {"server": "bolt-floor", "protocol_version": PROTOCOL_VERSION}
        self._lists: dict[int, list[str]] = {}

    def mget(self, count: int) -> list[str]:
        """A list of ``count`` values (cached per count)."""
        values = self._lists.get(count)
        if values is None:
            values = self._lists[count] = [self.value] * count
        return values


def reply_bytes(request: Any, replies: Replies) -> bytes:
    """The framed reply to one request."""
    command = request.command
    if command in WRITES:
        result: Any = None
    elif command == "GET":
        result = replies.value
    elif command == "MGET":
        result = replies.mget(len(request.args))
    elif command in ("INCR", "DECR", "INCRBY", "DECRBY", "CINCR", "CGET"):
        result = 1
    elif command == "PING":
        result = "PONG"
    elif command == "HELLO":
        result = replies.hello
    else:
        return encode_error(request.id, UnknownCommandError(f"floor: no command {command}"))
    return encode_response(request.id, result)


def busy_reply_bytes(busy_seconds: float) -> Any:
    """:func:`reply_bytes` after spinning ``busy_seconds`` of CPU (``--busy-us``)."""

    def reply(request: Any, replies: Replies) -> bytes:
        end = time.perf_counter() + busy_seconds
        while time.perf_counter() < end:
            pass
        return reply_bytes(request, replies)

    return reply


async def serve_connection(stream: trio.SocketStream, replies: Replies, answer: Any) -> None:
    """One connection: receive, answer every complete frame, one send per receive."""
    codec = Codec(limits.frame_bytes_max)
    try:
        while True:
            data = await stream.receive_some(RECEIVE_BYTES)
            if not data:
                return
            codec.receive_data(data)
            out = [
                answer(message, replies)
                for message in codec.next_messages()
                if type(message) is Request
            ]
            if out:
                await stream.send_all(b"".join(out) if len(out) > 1 else out[0])
    except (ProtocolError, trio.BrokenResourceError, trio.ClosedResourceError):
        return
    finally:
        await trio.aclose_forcefully(stream)


async def serve(host: str, port: int, value_size: int, busy_us: float = 0.0) -> None:
    """Listen and serve until SIGINT or SIGTERM."""
    replies = Replies(value_size)
    answer = busy_reply_bytes(busy_us / 1e6) if busy_us > 0 else reply_bytes
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            partial(
                trio.serve_tcp,
                partial(serve_connection, replies=replies, answer=answer),
                port,
                host=host,
            )
        )
        sockname = listeners[0].socket.getsockname()
        print(f"floor ready: host={host} port={sockname[1]}", file=sys.stderr, flush=True)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                nursery.cancel_scope.cancel()
                return


def main(argv: list[str] | None = None) -> int:
    """Parse the options and serve."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    parser.add_argument("--value-size", type=int, default=16, help="bytes of each GET value")
    parser.add_argument(
        "--busy-us",
        type=float,
        default=0.0,
        help="spin this many microseconds of CPU per request: what N us of extra "
        "work per request costs in throughput on this machine (default 0: no work)",
    )
    args = parser.parse_args(argv)
    trio.run(serve, args.host, args.port, args.value_size, args.busy_us)
    return 0


if __name__ == "__main__":
    sys.exit(main())
