"""Redis hash commands on the RESP port, over the engine's hash commands
(:mod:`bolt.state._hashes`), with Redis's reply shapes.

``HGETALL`` is a flat array in RESP2 and a map in RESP3; ``HEXISTS`` is an
integer in both (as Redis); ``HMGET`` keeps a null for each missing field.
``HMSET`` is the deprecated form of ``HSET`` that answers ``+OK``. The
handlers follow :mod:`bolt.server._resp_commands`: one ``engine.submit``
each, ``(reply_bytes, offset)`` back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bolt.errors import BadRequestError
from bolt.server._resp_commands import RespCommand, integer_of, key_of, value_of
from bolt.wire import OK, encode_integer, encode_reply

if TYPE_CHECKING:
    from bolt.server._resp_server import RespListener, RespSession

Result = tuple[bytes, int]


def _fields(args: list[bytes]) -> list[object]:
    return [key_of(args[1]), *[value_of(a) for a in args[2:]]]


def _hset_words(args: list[bytes]) -> list[object]:
    if len(args) % 2:
        name = args[0].decode("utf-8", "replace").lower()
        raise BadRequestError(f"wrong number of arguments for '{name}' command")
    return _fields(args)


def r_hset(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``HSET key field value [field value ...]`` → how many fields were new."""
    reply, offset = listener.engine.submit("HSET", _hset_words(args), session.db)
    return encode_integer(reply), offset


def r_hmset(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``HMSET key field value [field value ...]`` → ``+OK``."""
    return OK, listener.engine.submit("HSET", _hset_words(args), session.db)[1]


def r_hincrby(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``HINCRBY key field increment`` → the new value."""
    words = [key_of(args[1]), value_of(args[2]), integer_of(args[3])]
    reply, offset = listener.engine.submit("HINCRBY", words, session.db)
    return encode_integer(reply), offset


def _integer(command: str) -> Callable[..., Result]:
    def handler(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
        reply, offset = listener.engine.submit(command, _fields(args), session.db)
        return encode_integer(int(reply)), offset

    handler.__doc__ = f"``{command} key ...`` → an integer."
    return handler


def _plain(command: str) -> Callable[..., Result]:
    def handler(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
        reply, offset = listener.engine.submit(command, _fields(args), session.db)
        return encode_reply(reply, session.protocol), offset

    handler.__doc__ = f"``{command} key ...`` → the engine's reply, as Redis shapes it."
    return handler


_W = ("write",)
_WD = ("write", "denyoom")
_R = ("readonly",)

HASH_COMMANDS: dict[bytes, RespCommand] = {
    b"HSET": RespCommand(r_hset, -4, "HSET", flags=(*_WD, "fast")),
    b"HMSET": RespCommand(r_hmset, -4, "HSET", flags=(*_WD, "fast")),
    b"HGET": RespCommand(_plain("HGET"), 3, "HGET", flags=(*_R, "fast")),
    b"HMGET": RespCommand(_plain("HMGET"), -3, "HMGET", flags=(*_R, "fast")),
    b"HGETALL": RespCommand(_plain("HGETALL"), 2, "HGETALL", flags=_R),
    b"HDEL": RespCommand(_integer("HDEL"), -3, "HDEL", flags=(*_W, "fast")),
    b"HEXISTS": RespCommand(_integer("HEXISTS"), 3, "HEXISTS", flags=(*_R, "fast")),
    b"HLEN": RespCommand(_integer("HLEN"), 2, "HLEN", flags=(*_R, "fast")),
    b"HINCRBY": RespCommand(r_hincrby, 4, "HINCRBY", flags=(*_WD, "fast")),
    b"HKEYS": RespCommand(_plain("HKEYS"), 2, "HKEYS", flags=_R),
    b"HVALS": RespCommand(_plain("HVALS"), 2, "HVALS", flags=_R),
}
"""The Redis hash commands, by upper-case name."""
