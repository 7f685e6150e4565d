"""Task links: forwarding task commands to the node that decides the task.

Theory of operation
-------------------
A task's claims and transitions are made by the node that decides it -- its
home, or the node that took the home over (``bolt.state._tasks``). A client
of another node gets the same service: that node forwards the command over a
**task link**, a connection to the deciding node's *cluster port*, and
answers with the deciding node's reply (or its typed error). Why the
cluster port rather than a client connection to the home's client port: the
link is authenticated by ``BOLT_CLUSTER_SECRET`` (and TLS) like replication,
so a node needs no user credentials of its own on its peers, the home's
auth mode does not matter, and the forwarded command runs with the rights
the client already had on the node it asked.

A task link is dialed on first use (:class:`TaskLinks`), with the same
handshake as a replication link plus ``"purpose": "tasks"`` in the dialer's
status; the answering side (:func:`serve_task_link`) then runs each
``TaskRequest`` through ``Engine.submit`` -- only the commands of
:data:`FORWARDED` -- waits until its record is durable, and sends the
``TaskReply``. Requests are pipelined (one id each) and answered as they
finish. A link that breaks, or a reply that does not come within
``limits.task_forward_timeout_ms``, fails its waiting calls with
:class:`~bolt.errors.TaskHomeUnavailableError` (the command may or may not
have run there: the caller's fencing token settles it) and is redialed by
the next call.
"""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING, Any

import trio

from bolt import limits
from bolt.cluster._dial import LINK_ERRORS
from bolt.cluster._dial import handshake as dial_handshake
from bolt.cluster._peer_state import PeerState
from bolt.cluster._stream import PeerStream
from bolt.errors import (
    BadRequestError,
    BoltConnectionError,
    BoltError,
    PeerProtocolError,
    ProtocolError,
    TaskHomeUnavailableError,
    error_from_code,
)
from bolt.wire import PeerRefusal, TaskReply, TaskRequest

if TYPE_CHECKING:
    from bolt.cluster._service import ClusterService

logger = logging.getLogger("bolt.cluster")

TASK_LINK = "tasks"
"""The ``purpose`` a task link's dialer names in its handshake status."""

FORWARDED = frozenset(
    {
        "TASK.CLAIM",
        "TASK.CLAIMID",
        "TASK.RENEW",
        "TASK.COMPLETE",
        "TASK.FAIL",
        "TASK.RELEASE",
        "TASK.CANCEL",
        "TASK.RETRY",
    }
)
"""The commands a node runs for a peer on a task link."""


class _DialSide:
    """The service as the dialing handshake sees it, with the task link's purpose."""

    def __init__(self, service: ClusterService) -> None:
        self._service = service
        self.node_id = service.node_id
        self.settings = service.settings

    def handshake_status(self) -> dict[str, Any]:
        return {**self._service.handshake_status(), "purpose": TASK_LINK}

    def learned(self, peer: PeerState, status: dict[str, Any]) -> None:
        self._service.learned(peer, status)


class _Link:
    """One task link to one peer: its stream and the calls waiting for replies."""

    def __init__(self, stream: PeerStream) -> None:
        self.stream = stream
        self.waiting: dict[int, list[Any]] = {}  # id -> [done event, answered, ok, value]
        self.broken: BaseException | None = None


class TaskLinks:
    """This node's task links to its peers (see the module docstring)."""

    def __init__(self, service: ClusterService) -> None:
        self.service = service
        self._links: dict[str, _Link] = {}
        self._locks: dict[str, trio.Lock] = {}
        self._ids = itertools.count(1)
        self._nursery: trio.Nursery | None = None
        self.forwarded_total = 0

    async def run(self) -> None:
        """Host the links' reader tasks until cancelled (in the service's nursery)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await trio.sleep_forever()

    async def call(self, node_id: str, command: str, args: list[Any], db: str) -> Any:
        """Run ``command`` on ``node_id`` and return its reply (its error is raised).

        Raises:
            TaskHomeUnavailableError: no link to the node, or no reply in time.
            BoltError: the command's own typed error on that node.
        """
        link = await self._link(node_id)
        request_id = next(self._ids)
        waiter: list[Any] = [trio.Event(), False, False, None]
        link.waiting[request_id] = waiter
        try:
            with trio.move_on_after(limits.task_forward_timeout_ms / 1000) as scope:
                await link.stream.send(TaskRequest(request_id, command, list(args), db))
                await waiter[0].wait()
        except BoltConnectionError as exc:
            self._drop(node_id, link, exc)
            raise TaskHomeUnavailableError(f"node '{node_id}' cannot be reached: {exc}") from exc
        finally:
            link.waiting.pop(request_id, None)
        if scope.cancelled_caught:
            self._drop(node_id, link, TimeoutError("no reply in time"))
            raise TaskHomeUnavailableError(
                f"node '{node_id}' did not answer within {limits.task_forward_timeout_ms} ms"
            )
        if not waiter[1]:
            raise TaskHomeUnavailableError(f"the link to node '{node_id}' broke: {link.broken}")
        self.forwarded_total += 1
        if waiter[2]:
            return waiter[3]
        code, _name, message = waiter[3]
        raise error_from_code(code, message)

    async def _link(self, node_id: str) -> _Link:
        link = self._links.get(node_id)
        if link is not None:
            return link
        peer = self.service.peers.get(node_id)
        if peer is None or self._nursery is None:
            raise TaskHomeUnavailableError(f"node '{node_id}' is not a peer of this node")
        lock = self._locks.setdefault(node_id, trio.Lock())
        async with lock:
            link = self._links.get(node_id)
            if link is not None:
                return link
            stream: PeerStream | None = None
            try:
                with trio.fail_after(limits.peer_handshake_timeout_ms / 1000):
                    stream = await self.service.dial(peer)
                    await dial_handshake(_DialSide(self.service), stream, peer)  # type: ignore[arg-type]
            except LINK_ERRORS as exc:
                if stream is not None:
                    await stream.aclose()
                raise TaskHomeUnavailableError(
                    f"no task link to node '{node_id}': {exc or type(exc).__name__}"
                ) from exc
            link = self._links[node_id] = _Link(stream)
            self._nursery.start_soon(self._read, node_id, link)
            return link

    async def _read(self, node_id: str, link: _Link) -> None:
        try:
            while True:
                message = await link.stream.receive()
                if type(message) is TaskReply:
                    waiter = link.waiting.get(message.request_id)
                    if waiter is not None:
                        waiter[1:] = [True, message.ok, message.value]
                        waiter[0].set()
                elif type(message) is PeerRefusal:
                    raise BoltConnectionError(f"{message.name}: {message.message}")
                else:
                    raise PeerProtocolError(f"unexpected {type(message).__name__} on a task link")
        except (BoltConnectionError, ProtocolError) as exc:
            self._drop(node_id, link, exc)

    def _drop(self, node_id: str, link: _Link, exc: BaseException) -> None:
        if link.broken is None:
            logger.info("task link to %s closed: %s", node_id, exc)
        link.broken = exc
        if self._links.get(node_id) is link:
            del self._links[node_id]
        for waiter in list(link.waiting.values()):
            waiter[0].set()  # they see link.broken
        if self._nursery is not None:
            self._nursery.start_soon(link.stream.aclose)


async def serve_task_link(service: ClusterService, stream: PeerStream) -> None:
    """Answer the task requests of a peer's task link until it closes."""
    try:
        async with trio.open_nursery() as nursery:
            while True:
                message = await stream.receive()
                if type(message) is TaskRequest:
                    nursery.start_soon(_answer_request, service, stream, message)
                elif type(message) is PeerRefusal:
                    return
                else:
                    raise PeerProtocolError(f"unexpected {type(message).__name__} on a task link")
    except (BoltConnectionError, ProtocolError) as exc:
        logger.info("task link from %s ended: %s", stream.address, exc)
    except BaseExceptionGroup:
        pass  # a reply could not be sent: the link is gone
    finally:
        await stream.aclose()


async def _answer_request(
    service: ClusterService, stream: PeerStream, request: TaskRequest
) -> None:
    engine = service.engine
    try:
        if request.command not in FORWARDED:
            raise BadRequestError(f"'{request.command}' is not forwarded between nodes")
        reply, offset = engine.submit(request.command, request.args, request.db)
        if offset >= 0:
            await engine.wait_durable(offset)
        answer = TaskReply(request.request_id, True, reply)
    except BoltError as exc:
        answer = TaskReply(request.request_id, False, [exc.code, exc.name, exc.message])
    await stream.send(answer)
