"""Socket reads and writes without trio's per-call wrappers, where that is safe.

Theory of operation
-------------------
``trio.SocketStream.receive_some``/``send_all`` wrap each system call in
four context managers (a conflict detector, an error translator, a
memoryview, and an async ``_try_sync`` that checkpoints before and after)
and yield to the scheduler after every successful call. On the server's
hot path that is several microseconds per request, the same order as the
work itself (issue 16's profile: trio's send/recv helpers ~40% and
``contextlib`` 3.5% of the daemon's time). For a plain TCP connection this
module does the system call itself on the socket's file descriptor:

* :func:`receiver` returns a ``receive(max_bytes)`` that first raises
  ``Cancelled`` if its scope was cancelled (as trio's does), then reads at
  once if bytes are waiting (and yields once, as trio does, so a client that
  always has bytes ready cannot starve the others) and otherwise waits in
  ``trio.lowlevel.wait_readable`` -- cancellable, so a shutdown or the
  session watcher still wakes an idle connection.
* :func:`send_now` writes as much as the kernel takes without waiting and
  returns the count; the caller awaits ``stream.send_all`` for any rest,
  so a slow reader still gets back-pressure and the output-stall watcher.
  A reply that fits in the socket buffer (nearly all) costs one ``write``
  and no schedule point; the batch already yielded in its receive.

TLS streams (and anything that is not a ``trio.SocketStream``) use trio's
methods unchanged. Errors are trio's: a reset or broken pipe raises
``trio.BrokenResourceError``, a closed socket ``trio.ClosedResourceError``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import trio

Receive = Callable[[int], Awaitable[bytes | bytearray]]

_read = os.read
_write = os.write


def _broken(exc: OSError) -> trio.BrokenResourceError:
    return trio.BrokenResourceError(f"socket connection broken: {exc}")


def _fd(stream: trio.SocketStream) -> int:
    fd = stream.socket.fileno()
    if fd < 0:
        raise trio.ClosedResourceError("the socket was closed")
    return fd


def receiver(stream: trio.abc.Stream) -> Receive:
    """``receive(max_bytes)`` for ``stream``: direct reads for a plain TCP stream."""
    if type(stream) is not trio.SocketStream:
        return stream.receive_some
    sock = stream.socket
    wait_readable = trio.lowlevel.wait_readable
    shielded_checkpoint = trio.lowlevel.cancel_shielded_checkpoint
    checkpoint_if_cancelled = trio.lowlevel.checkpoint_if_cancelled

    async def receive(max_bytes: int) -> bytes:
        # As trio does: a cancelled scope (shutdown, the session watcher's
        # timeouts) is honoured even when bytes keep arriving, so a client that
        # trickles bytes cannot outlive its login or idle timeout.
        await checkpoint_if_cancelled()
        try:
            data = _read(_fd(stream), max_bytes)
        except BlockingIOError:
            pass
        except OSError as exc:
            raise _broken(exc) from exc
        else:
            await shielded_checkpoint()  # bytes were waiting: let the others run once
            return data
        while True:
            await wait_readable(sock)
            try:
                return _read(_fd(stream), max_bytes)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise _broken(exc) from exc

    return receive


def send_now(stream: trio.abc.Stream, data: bytes | bytearray | memoryview) -> int:
    """Write what the kernel takes of ``data`` now, without waiting; the count written.

    0 for a stream that is not a plain ``trio.SocketStream`` (send it all
    with ``send_all``) or a socket buffer that is full.
    """
    if type(stream) is not trio.SocketStream or stream.socket.did_shutdown_SHUT_WR:
        return 0
    try:
        return _write(_fd(stream), data)
    except BlockingIOError:
        return 0
    except OSError as exc:
        raise _broken(exc) from exc
