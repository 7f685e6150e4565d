"""Pipelines: commands queued on the client side, sent in one write.

A pipeline is not a transaction: the server runs each command on its own,
in order, and answers each. ``execute`` hands the whole batch to the
client's round trip, so the retry rule applies to the batch as a whole:
the unanswered requests are re-sent once only if every one of them is
retry-safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from bolt.client._commands import CommandsMixin
from bolt.client._options import Call
from bolt.errors import BoltError
from bolt.wire import ErrorReply, Reply

if TYPE_CHECKING:
    from bolt.client._async import AsyncBoltClient
    from bolt.client._sync import BoltClient


def results_of(replies: Sequence[Reply], raise_on_error: bool) -> list[Any]:
    """Turn replies into results; raise the first error, or keep errors as instances."""
    results = [
        reply.to_exception() if isinstance(reply, ErrorReply) else reply.result for reply in replies
    ]
    if raise_on_error:
        for result in results:
            if isinstance(result, BoltError):
                raise result
    return results


class _CallQueue:
    def __init__(self, database: str | None) -> None:
        self.database = database
        self._calls: list[Call] = []

    def _queue(
        self, command: str, args: Sequence[Any], database: str | None, retry_safe: bool | None
    ) -> None:
        self._calls.append(Call.of(command, list(args), database, retry_safe))

    def _command(self, command: str, args: list[Any], database: str | None) -> Self:
        self._queue(command, args, database, None)
        return self

    def execute_command(
        self,
        command: str,
        *args: Any,
        database: str | None = None,
        retry_safe: bool | None = None,
    ) -> Self:
        """Queue any command (see ``BoltClient.execute_command``)."""
        self._queue(command, args, self.database if database is None else database, retry_safe)
        return self

    def _take(self) -> list[Call]:
        calls, self._calls = self._calls, []
        return calls

    def __len__(self) -> int:
        return len(self._calls)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._calls.clear()


class Pipeline(_CallQueue, CommandsMixin["Pipeline"]):
    """Commands collected to be sent in one write by :meth:`execute`.

    Every command method queues its request and returns the pipeline, so
    calls chain: ``client.pipeline().put("a", "1").get("a").execute()``.
    Used as a context manager, leaving the block discards what was not
    executed.
    """

    def __init__(self, client: BoltClient) -> None:
        super().__init__(client.database)
        self._client = client

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Send every queued command in one ``sendall``; return their replies in order.

        Args:
            raise_on_error: raise the first error reply (after every reply
                has been read); with ``False``, error replies come back as
                exception instances in the list.

        Returns:
            One result per queued command; the queue is emptied.

        Raises:
            BoltError: the first error reply (with ``raise_on_error``).
            BoltConnectionError, WriteOutcomeUnknownError, BoltTimeoutError:
                as for a single command. A broken connection is never
                reported inside the list.
        """
        calls = self._take()
        if not calls:
            return []
        return results_of(self._client._round_trip(calls), raise_on_error)


class AsyncPipeline(_CallQueue, CommandsMixin["AsyncPipeline"]):
    """The trio client's :class:`Pipeline`: ``await pipeline.execute()``."""

    def __init__(self, client: AsyncBoltClient) -> None:
        super().__init__(client.database)
        self._client = client

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Send every queued command in one write; return their replies in order.

        Same arguments, results and errors as :meth:`Pipeline.execute`.
        """
        calls = self._take()
        if not calls:
            return []
        return results_of(await self._client._round_trip(calls), raise_on_error)
