"""``BLPOP``/``BRPOP`` on the RESP port: Redis's timeouts and reply shapes over
:func:`bolt.server._blocking.blocking_pop`.

``BLPOP key [key ...] timeout``: ``timeout`` in seconds (a float; 0 waits
until an element arrives or the client disconnects). The reply is
``[key, element]``, or a null array once the time is up.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from bolt.errors import BadRequestError
from bolt.server._blocking import blocking_pop
from bolt.server._resp_commands import RespCommand, key_of
from bolt.wire import encode_reply

if TYPE_CHECKING:
    from bolt.server._resp_server import RespListener, RespSession

Result = tuple[bytes, int]


def timeout_of(raw: bytes) -> float:
    """A Redis blocking timeout in seconds (0: forever → ``math.inf``).

    Raises:
        BadRequestError: not a finite number, or negative (Redis's texts).
    """
    try:
        seconds = float(raw)
    except ValueError:
        raise BadRequestError("timeout is not a float or out of range") from None
    if math.isnan(seconds) or math.isinf(seconds):
        raise BadRequestError("timeout is not a float or out of range")
    if seconds < 0:
        raise BadRequestError("timeout is negative")
    return math.inf if seconds == 0 else seconds


def _blocking(left: bool) -> Callable[..., object]:
    async def handler(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
        seconds = timeout_of(args[-1])
        keys = [key_of(k) for k in args[1:-1]]
        reply, offset = await blocking_pop(
            listener.server, session, keys, session.db, left, seconds
        )
        if reply is None:
            return (b"*-1\r\n" if session.protocol == 2 else b"_\r\n"), -1
        return encode_reply(reply, session.protocol), offset

    handler.__doc__ = f"``{'BLPOP' if left else 'BRPOP'} key [key ...] timeout``."
    return handler


def _at_once(left: bool) -> Callable[..., Result]:
    def handler(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
        timeout_of(args[-1])  # checked as Redis does, then ignored: no waiting
        command = "LPOP" if left else "RPOP"
        for raw in args[1:-1]:
            key = key_of(raw)
            value, offset = listener.engine.submit(command, [key], session.db)
            if value is not None:
                return encode_reply([key, value], session.protocol), offset
        return (b"*-1\r\n" if session.protocol == 2 else b"_\r\n"), -1

    handler.__doc__ = "The pop of a BLPOP/BRPOP inside MULTI: at once, never waiting (Redis)."
    return handler


IN_TRANSACTION: dict[bytes, Callable[..., Result]] = {
    b"BLPOP": _at_once(True),
    b"BRPOP": _at_once(False),
}
"""How the blocking commands run inside ``EXEC``: without blocking, as in Redis."""

BLOCKING_COMMANDS: dict[bytes, RespCommand] = {
    b"BLPOP": RespCommand(_blocking(True), -3, "BLPOP", True, ("write", "blocking"), 1, -2),
    b"BRPOP": RespCommand(_blocking(False), -3, "BRPOP", True, ("write", "blocking"), 1, -2),
}
"""The blocking list commands of the RESP port."""
