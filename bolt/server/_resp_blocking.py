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


BLOCKING_COMMANDS: dict[bytes, RespCommand] = {
    b"BLPOP": RespCommand(_blocking(True), -3, "BLPOP", True, ("write", "blocking"), 1, -2),
    b"BRPOP": RespCommand(_blocking(False), -3, "BRPOP", True, ("write", "blocking"), 1, -2),
}
"""The blocking list commands of the RESP port."""
