"""A fault-injecting TCP proxy, for cluster tests with real processes.

Theory of operation
-------------------
:class:`FaultProxy` listens on a free loopback port and forwards every
connection to an upstream address (which may be set after the proxy
starts, so a peer list can name the proxy before the node behind it has
picked its port). It runs its own trio loop in a daemon thread; the test
calls plain methods, which take effect at once for new bytes:

* :meth:`cut` -- close every connection and refuse new ones (a partition);
* :meth:`blackhole` -- silently discard the bytes of one direction (or
  both) while the connections stay open (a one-way partition: only timeouts
  notice it);
* :meth:`delay` -- hold each chunk this long before forwarding it;
* :meth:`duplicate` -- forward each chunk twice (the stream turns to garbage
  for the receiver, which must refuse it and carry on);
* :meth:`reset` -- close every current connection, once (reorder by
  reconnect: whatever was in flight is lost and the dialer reconnects);
* :meth:`heal` -- undo every fault.

Directions are ``"forward"`` (from the dialer to the upstream),
``"backward"`` (the replies) or ``"both"``. Counters say how many
connections and bytes went through.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

import trio

DIRECTIONS = ("forward", "backward", "both")
_CHUNK_BYTES = 64 * 1024


def _directions(direction: str) -> tuple[str, ...]:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}")
    return ("forward", "backward") if direction == "both" else (direction,)


class FaultProxy:
    """A TCP proxy on ``127.0.0.1:port`` with injectable faults (see the module).

    Args:
        upstream: ``(host, port)`` to forward to; may be set later with
            :meth:`set_upstream` (connections are refused until then).
    """

    def __init__(self, upstream: tuple[str, int] | None = None) -> None:
        self.upstream = upstream
        self.port = 0
        self.connections_total = 0
        self.bytes = {"forward": 0, "backward": 0}
        self.refusing = False
        self.blackholed: set[str] = set()
        self.delay_seconds = {"forward": 0.0, "backward": 0.0}
        self.duplicated: set[str] = set()
        self._token: trio.lowlevel.TrioToken | None = None
        self._scopes: set[trio.CancelScope] = set()
        self._stop: trio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._main, name="fault-proxy", daemon=True)
        self._failure: BaseException | None = None

    # --- life -----------------------------------------------------------------------

    def start(self) -> Self:
        """Start listening (returns once :attr:`port` is known).

        Raises:
            RuntimeError: the proxy could not start.
        """
        self._thread.start()
        if not self._started.wait(10) or self._failure is not None:
            raise RuntimeError(f"the fault proxy did not start: {self._failure}")
        return self

    def close(self) -> None:
        """Close every connection and stop the proxy thread."""
        if self._token is not None and self._stop is not None:
            try:
                trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
            except trio.RunFinishedError:
                pass
        self._thread.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def address(self) -> tuple[str, int]:
        """``("127.0.0.1", port)``: where dialers connect."""
        return ("127.0.0.1", self.port)

    def set_upstream(self, host: str, port: int) -> None:
        """Forward new connections to ``host:port``."""
        self.upstream = (host, port)

    # --- faults -----------------------------------------------------------------------

    def cut(self) -> None:
        """Close every connection and refuse new ones until :meth:`heal`."""
        self.refusing = True
        self.reset()

    def blackhole(self, direction: str = "both") -> None:
        """Discard the bytes going ``direction`` (connections stay open)."""
        self.blackholed.update(_directions(direction))

    def delay(self, milliseconds: float, direction: str = "both") -> None:
        """Hold each chunk going ``direction`` for ``milliseconds`` before forwarding."""
        for name in _directions(direction):
            self.delay_seconds[name] = milliseconds / 1000

    def duplicate(self, direction: str = "forward") -> None:
        """Forward each chunk going ``direction`` twice."""
        self.duplicated.update(_directions(direction))

    def reset(self) -> None:
        """Close every current connection (new ones are accepted unless cut)."""
        if self._token is None:
            return
        try:
            trio.from_thread.run_sync(self._cancel_all, trio_token=self._token)
        except trio.RunFinishedError:
            pass

    def heal(self) -> None:
        """Undo every fault: accept, forward everything, no delay, no duplicates."""
        self.refusing = False
        self.blackholed.clear()
        self.duplicated.clear()
        self.delay_seconds = {"forward": 0.0, "backward": 0.0}

    # --- the trio side --------------------------------------------------------------------

    def _cancel_all(self) -> None:
        for scope in list(self._scopes):
            scope.cancel()

    def _main(self) -> None:
        try:
            trio.run(self._serve)
        except BaseException as exc:  # reported by start()
            self._failure = exc
            self._started.set()

    async def _serve(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, self._handle, listeners)
            self._started.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    async def _handle(self, client: trio.SocketStream) -> None:
        with trio.CancelScope() as scope:
            self._scopes.add(scope)
            try:
                if self.refusing or self.upstream is None:
                    return
                try:
                    server = await trio.open_tcp_stream(*self.upstream)
                except OSError:
                    return
                self.connections_total += 1
                async with server, trio.open_nursery() as nursery:
                    nursery.start_soon(self._pump, client, server, "forward", nursery.cancel_scope)
                    nursery.start_soon(self._pump, server, client, "backward", nursery.cancel_scope)
            finally:
                self._scopes.discard(scope)
                await client.aclose()

    async def _pump(
        self,
        source: trio.SocketStream,
        target: trio.SocketStream,
        direction: str,
        both: trio.CancelScope,
    ) -> None:
        try:
            while True:
                data = await source.receive_some(_CHUNK_BYTES)
                if not data:
                    break
                arrived = trio.current_time()
                delay = self.delay_seconds[direction]
                if delay:
                    await trio.sleep_until(arrived + delay)
                if direction in self.blackholed:
                    continue
                self.bytes[direction] += len(data)
                await target.send_all(data)
                if direction in self.duplicated:
                    await target.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        finally:
            both.cancel()
