"""The four Bolt wire messages, as plain named tuples.

A message on the wire is a msgpack array whose first element is its kind:

========  ==============================================  =======================
kind      array                                           sent by
========  ==============================================  =======================
1         ``[1, id, command, args, db]``                  client (a request)
2         ``[2, id, result]``                             server (a response)
3         ``[3, id, code, name, message]``                server (an error reply)
4         ``[4, topic, payload]``                         server (a push)
========  ==============================================  =======================

Named tuples keep the decoder's hot path cheap (one C-level tuple build per
message) while giving readable field names to the code that uses them.
An error reply with id 0 is about the connection, not one request: the
server sends it just before it closes the connection (protocol error, too many
connections, shutting down).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from bolt.errors import BoltError, error_from_code

PROTOCOL_VERSION = 1
"""Version a client announces in ``HELLO``; the server answers with its own."""

KIND_REQUEST = 1
KIND_RESPONSE = 2
KIND_ERROR = 3
KIND_PUSH = 4

CONNECTION_ERROR_ID = 0
"""Request id of an error reply that concerns the whole connection."""


class Request(NamedTuple):
    """A client's request: run ``command`` with ``args`` in database ``db``."""

    id: int
    command: str
    args: list[Any]
    db: str | None


class Response(NamedTuple):
    """The successful result of the request with the same ``id``."""

    id: int
    result: Any


class ErrorReply(NamedTuple):
    """The typed failure of the request with the same ``id`` (0: the connection)."""

    id: int
    code: int
    name: str
    message: str

    def to_exception(self) -> BoltError:
        """Rebuild the exception the server raised.

        Returns:
            An instance of the :mod:`bolt.errors` class registered for
            ``code`` (a plain :class:`~bolt.errors.BoltError` carrying the
            code and name when this client does not know the code).
        """
        error = error_from_code(self.code, self.message)
        if type(error) is BoltError:
            error.name = self.name
        return error


class Push(NamedTuple):
    """A server-initiated message on ``topic`` (e.g. a task subscription)."""

    topic: str
    payload: Any


Message = Request | Response | ErrorReply | Push
"""Any message the codec decodes or encodes."""

Reply = Response | ErrorReply
"""What the server sends back for one request."""
