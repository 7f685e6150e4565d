"""Redis data commands mapped onto Bolt's engine commands, with Redis's reply shapes.

Theory of operation
-------------------
Every handler takes ``(listener, session, args)`` -- ``args`` the raw RESP
words, the command name first -- and returns ``(reply_bytes, offset)`` like
``engine.submit`` (offset -1: nothing to wait for), so the RESP loop treats
all commands alike and waits for durability once per batch. Each handler
turns the words into Bolt arguments (keys are UTF-8 text, values stay text
when they are valid UTF-8 and bytes otherwise, so the Bolt SDK reads what a
Redis client wrote), calls ``engine.submit`` once -- one command, one log
record -- and encodes the reply as Redis does (``SET`` → ``+OK``, ``TTL`` of
a missing key → ``-2``, ...). Redis options that need more than Bolt's own
commands go to the engine commands of :mod:`bolt.state._commands_redis`.

Arity is checked by the RESP loop from :data:`RESP_COMMANDS` (Redis's
convention: ``n`` exactly, ``-n`` at least, counting the name), so the error
texts are Redis's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from bolt import limits
from bolt.errors import BadRequestError, IntegerOverflowError, NotIntegerError
from bolt.state import checks as check
from bolt.wire import OK, encode_bulk, encode_integer, encode_reply, null

if TYPE_CHECKING:
    from bolt.server._resp_server import RespListener, RespSession

Result = tuple[bytes, int]
_SYNTAX = "syntax error"


def key_of(raw: bytes) -> str:
    """A key word as Bolt's text key (bytes that are not UTF-8 are refused by the engine)."""
    return raw.decode("utf-8", "surrogateescape")


def value_of(raw: bytes) -> str | bytes:
    """A value word: text when it is valid UTF-8, else the bytes as they are."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def integer_of(raw: bytes) -> int:
    """A 64-bit integer word (``ERR value is not an integer or out of range`` otherwise)."""
    return check.stored_integer(raw)


class RespCommand(NamedTuple):
    """One Redis command: handler, Redis arity, the Bolt command whose level and
    counters it uses, whether to await it, and flags for ``COMMAND``."""

    handler: Callable[..., Any]
    arity: int
    bolt_command: str
    is_async: bool = False
    flags: tuple[str, ...] = ()
    first_key: int = 1
    last_key: int = 1
    step: int = 1


# --- strings ------------------------------------------------------------------------


def r_get(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``GET key``."""
    reply, _ = listener.engine.submit("GET", [key_of(args[1])], session.db)
    return encode_reply(reply, session.protocol), -1


def _set_options(args: list[bytes]) -> tuple[str, str, int, bool]:
    """Parse SET's options → (condition, expiry_mode, expiry_ms, get_old)."""
    condition, mode, amount, get_old = "", "", 0, False
    index = 3
    while index < len(args):
        option = args[index].upper()
        if option in (b"NX", b"XX") and not condition:
            condition = option.decode()
        elif option == b"GET" and not get_old:
            get_old = True
        elif option == b"KEEPTTL" and not mode:
            mode = "KEEPTTL"
        elif option in (b"EX", b"PX", b"EXAT", b"PXAT") and not mode and index + 1 < len(args):
            index += 1
            number = integer_of(args[index])
            scale = 1000 if option in (b"EX", b"EXAT") else 1
            if number <= 0 or number > limits.int64_max // scale:
                raise BadRequestError("invalid expire time in 'set' command")
            amount = number * scale
            mode = "PX" if option in (b"EX", b"PX") else "PXAT"
        else:
            raise BadRequestError(_SYNTAX)
        index += 1
    return condition, mode, amount, get_old


def r_set(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL]``."""
    key, value = key_of(args[1]), value_of(args[2])
    if len(args) == 3:
        return OK, listener.engine.submit("SET", [key, value], session.db)[1]
    condition, mode, amount, get_old = _set_options(args)
    (applied, old), offset = listener.engine.submit(
        "SETCOND", [key, value, condition, mode, amount, get_old], session.db
    )
    if get_old:
        return encode_reply(old, session.protocol), offset
    return (OK if applied else null(session.protocol)), offset


def r_setnx(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``SETNX key value`` → 1 if set."""
    (applied, _), offset = listener.engine.submit(
        "SETCOND", [key_of(args[1]), value_of(args[2]), "NX", "", 0, False], session.db
    )
    return encode_integer(int(applied)), offset


def _setex(session: RespSession, args: list[bytes], scale: int, name: str) -> list[Any]:
    number = integer_of(args[2])
    if number <= 0 or number > limits.int64_max // scale:
        raise BadRequestError(f"invalid expire time in '{name}' command")
    return [key_of(args[1]), value_of(args[3]), "", "PX", number * scale, False]


def r_setex(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``SETEX key seconds value``."""
    return OK, listener.engine.submit("SETCOND", _setex(session, args, 1000, "setex"), session.db)[
        1
    ]


def r_psetex(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``PSETEX key milliseconds value``."""
    return OK, listener.engine.submit("SETCOND", _setex(session, args, 1, "psetex"), session.db)[1]


def r_mset(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``MSET key value [key value ...]`` (one record: atomic)."""
    if len(args) % 2 == 0:
        raise BadRequestError("wrong number of arguments for 'mset' command")
    words = [key_of(w) if i % 2 == 0 else value_of(w) for i, w in enumerate(args[1:])]
    return OK, listener.engine.submit("MSET", words, session.db)[1]


def r_mget(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``MGET key [key ...]``."""
    reply, _ = listener.engine.submit("MGET", [key_of(k) for k in args[1:]], session.db)
    return encode_reply(reply, session.protocol), -1


def _plain(command: str, shape: Callable[[Any, int], bytes]) -> Callable[..., Result]:
    """A handler for ``COMMAND key`` → the Bolt command of the same arguments."""

    def handler(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
        reply, offset = listener.engine.submit(command, [key_of(args[1])], session.db)
        return shape(reply, session.protocol), offset

    handler.__doc__ = f"``{command} key``."
    return handler


def _as_bulk(reply: Any, protocol: int) -> bytes:
    return encode_reply(reply, protocol)


def _as_integer(reply: Any, protocol: int) -> bytes:
    return encode_integer(int(reply))


def _incrby(command: str) -> Callable[..., Result]:
    def handler(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
        delta = integer_of(args[2])
        reply, offset = listener.engine.submit(command, [key_of(args[1]), delta], session.db)
        return encode_integer(reply), offset

    handler.__doc__ = f"``{command} key delta``."
    return handler


def r_incrbyfloat(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``INCRBYFLOAT key delta`` → the new value as a bulk string."""
    reply, offset = listener.engine.submit(
        "INCRBYFLOAT", [key_of(args[1]), args[2].decode("ascii", "replace")], session.db
    )
    return encode_bulk(reply.encode()), offset


def r_append(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``APPEND key value`` → the new length."""
    reply, offset = listener.engine.submit(
        "APPEND", [key_of(args[1]), value_of(args[2])], session.db
    )
    return encode_integer(reply), offset


# --- keys -----------------------------------------------------------------------------


def r_del(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``DEL key [key ...]`` / ``UNLINK`` → how many existed (one record)."""
    reply, offset = listener.engine.submit("MDEL", [key_of(k) for k in args[1:]], session.db)
    return encode_integer(reply), offset


def r_exists(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``EXISTS key [key ...]`` → how many of them exist (repeats count again)."""
    submit, db = listener.engine.submit, session.db
    return encode_integer(sum(bool(submit("EXISTS", [key_of(k)], db)[0]) for k in args[1:])), -1


_TYPE_OF_BOLT = {None: "none", "counter": "string"}


def r_type(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``TYPE key`` → ``+string``, ``+list``, ``+set``, ``+none`` (or ``+crdt_counter``)."""
    reply, _ = listener.engine.submit("TYPE", [key_of(args[1])], session.db)
    return b"+" + _TYPE_OF_BOLT.get(reply, reply).encode() + b"\r\n", -1


def r_keys(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``KEYS pattern``."""
    reply, _ = listener.engine.submit("KEYS", [key_of(args[1])], session.db)
    return encode_reply(reply, session.protocol), -1


def r_scan(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]``."""
    try:
        cursor = integer_of(args[1])
    except NotIntegerError:
        raise BadRequestError("invalid cursor") from None
    pattern, count, wanted = "*", 10, None
    index = 2
    while index < len(args):
        option = args[index].upper()
        if index + 1 >= len(args):
            raise BadRequestError(_SYNTAX)
        word = args[index + 1]
        if option == b"MATCH":
            pattern = key_of(word)
        elif option == b"COUNT":
            count = integer_of(word)
            if count < 1:
                raise BadRequestError(_SYNTAX)
        elif option == b"TYPE":
            name = word.decode("utf-8", "replace").lower()
            wanted = ["string", "counter"] if name == "string" else [name]
        else:
            raise BadRequestError(_SYNTAX)
        index += 2
    (next_cursor, keys), _ = listener.engine.submit(
        "SCAN", [max(cursor, 0), pattern, count, wanted], session.db
    )
    return encode_reply([str(next_cursor), keys], session.protocol), -1


def _expire(scale: int, absolute: bool, name: str) -> Callable[..., Result]:
    def handler(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
        number = integer_of(args[2])
        condition = ""
        for word in args[3:]:
            option = word.upper().decode("ascii", "replace")
            if option not in ("NX", "XX", "GT", "LT") or condition:
                raise BadRequestError(f"Unsupported option {word.decode('utf-8', 'replace')}")
            condition = option
        try:
            amount = check.integer(number * scale, "expire time")
            command = "PEXPIREAT"
            if not absolute:
                amount = check.checked_sum(amount, listener.now_ms())
        except IntegerOverflowError:
            raise BadRequestError(f"invalid expire time in '{name}' command") from None
        reply, offset = listener.engine.submit(
            command, [key_of(args[1]), amount, condition], session.db
        )
        return encode_integer(int(reply)), offset

    handler.__doc__ = f"``{name.upper()} key amount [NX|XX|GT|LT]``."
    return handler


def _ttl(scale: int) -> Callable[..., Result]:
    def handler(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
        reply, _ = listener.engine.submit("PTTL", [key_of(args[1])], session.db)
        if reply is None:
            return encode_integer(-2), -1
        if reply < 0 or scale == 1:
            return encode_integer(reply), -1
        return encode_integer((reply + 500) // 1000), -1

    handler.__doc__ = "``TTL key`` / ``PTTL key``: -2 no key, -1 no expiry."
    return handler


def r_rename(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``RENAME source destination`` (one record; see the cluster caveat in the README)."""
    _, offset = listener.engine.submit("RENAME", [key_of(args[1]), key_of(args[2])], session.db)
    return OK, offset


# --- lists and sets ---------------------------------------------------------------------


def _push(command: str) -> Callable[..., Result]:
    def handler(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
        words = [key_of(args[1]), *[value_of(v) for v in args[2:]]]
        reply, offset = listener.engine.submit(command, words, session.db)
        return encode_integer(reply), offset

    handler.__doc__ = f"``{command} key element [element ...]`` → the new length."
    return handler


def _pop(left: bool) -> Callable[..., Result]:
    def handler(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
        key = key_of(args[1])
        if len(args) == 2:
            reply, offset = listener.engine.submit("LPOP" if left else "RPOP", [key], session.db)
            return encode_reply(reply, session.protocol), offset
        count = integer_of(args[2])
        command = "LPOPN" if left else "RPOPN"
        reply, offset = listener.engine.submit(command, [key, count], session.db)
        if reply is None:
            return (b"*-1\r\n" if session.protocol == 2 else null(3)), offset
        return encode_reply(reply, session.protocol), offset

    handler.__doc__ = "``LPOP key [count]`` / ``RPOP key [count]``."
    return handler


def r_lrange(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``LRANGE key start stop``."""
    words = [key_of(args[1]), integer_of(args[2]), integer_of(args[3])]
    reply, _ = listener.engine.submit("LRANGE", words, session.db)
    return encode_reply(reply, session.protocol), -1


def r_lindex(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``LINDEX key index``."""
    reply, _ = listener.engine.submit("LINDEX", [key_of(args[1]), integer_of(args[2])], session.db)
    return encode_reply(reply, session.protocol), -1


def _members(command: str) -> Callable[..., Result]:
    def handler(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
        words = [key_of(args[1]), *[value_of(v) for v in args[2:]]]
        reply, offset = listener.engine.submit(command, words, session.db)
        if type(reply) is list:
            return encode_reply([int(r) for r in reply], session.protocol), offset
        return encode_integer(int(reply)), offset

    handler.__doc__ = f"``{command} key member [member ...]``."
    return handler


def r_smembers(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``SMEMBERS key`` (a set in RESP3, an array in RESP2)."""
    reply, _ = listener.engine.submit("SMEMBERS", [key_of(args[1])], session.db)
    if session.protocol == 3:
        return b"~%d\r\n" % len(reply) + b"".join(encode_reply(m, 3) for m in reply), -1
    return encode_reply(reply, 2), -1


_W = ("write",)
_WD = ("write", "denyoom")
_R = ("readonly",)

DATA_COMMANDS: dict[bytes, RespCommand] = {
    b"GET": RespCommand(r_get, 2, "GET", flags=(*_R, "fast")),
    b"SET": RespCommand(r_set, -3, "SET", flags=_WD),
    b"SETNX": RespCommand(r_setnx, 3, "SET", flags=_WD),
    b"SETEX": RespCommand(r_setex, 4, "SET", flags=_WD),
    b"PSETEX": RespCommand(r_psetex, 4, "SET", flags=_WD),
    b"MSET": RespCommand(r_mset, -3, "MSET", flags=_WD, last_key=-1, step=2),
    b"MGET": RespCommand(r_mget, -2, "MGET", flags=_R, last_key=-1),
    b"GETDEL": RespCommand(_plain("GETDEL", _as_bulk), 2, "GETDEL", flags=_W),
    b"APPEND": RespCommand(r_append, 3, "APPEND", flags=_WD),
    b"STRLEN": RespCommand(_plain("STRLEN", _as_integer), 2, "STRLEN", flags=_R),
    b"INCR": RespCommand(_plain("INCR", _as_integer), 2, "INCR", flags=_WD),
    b"DECR": RespCommand(_plain("DECR", _as_integer), 2, "DECR", flags=_WD),
    b"INCRBY": RespCommand(_incrby("INCRBY"), 3, "INCRBY", flags=_WD),
    b"DECRBY": RespCommand(_incrby("DECRBY"), 3, "DECRBY", flags=_WD),
    b"INCRBYFLOAT": RespCommand(r_incrbyfloat, 3, "INCRBYFLOAT", flags=_WD),
    b"DEL": RespCommand(r_del, -2, "MDEL", flags=_W, last_key=-1),
    b"UNLINK": RespCommand(r_del, -2, "MDEL", flags=_W, last_key=-1),
    b"EXISTS": RespCommand(r_exists, -2, "EXISTS", flags=_R, last_key=-1),
    b"TYPE": RespCommand(r_type, 2, "TYPE", flags=_R),
    b"KEYS": RespCommand(r_keys, 2, "KEYS", flags=_R, first_key=0, last_key=0, step=0),
    b"SCAN": RespCommand(r_scan, -2, "SCAN", flags=_R, first_key=0, last_key=0, step=0),
    b"EXPIRE": RespCommand(_expire(1000, False, "expire"), -3, "PEXPIREAT", flags=_W),
    b"PEXPIRE": RespCommand(_expire(1, False, "pexpire"), -3, "PEXPIREAT", flags=_W),
    b"EXPIREAT": RespCommand(_expire(1000, True, "expireat"), -3, "PEXPIREAT", flags=_W),
    b"PEXPIREAT": RespCommand(_expire(1, True, "pexpireat"), -3, "PEXPIREAT", flags=_W),
    b"PERSIST": RespCommand(_plain("PERSIST", _as_integer), 2, "PERSIST", flags=_W),
    b"TTL": RespCommand(_ttl(1000), 2, "PTTL", flags=_R),
    b"PTTL": RespCommand(_ttl(1), 2, "PTTL", flags=_R),
    b"RENAME": RespCommand(r_rename, 3, "RENAME", flags=_W, last_key=2),
    b"LPUSH": RespCommand(_push("LPUSH"), -3, "LPUSH", flags=_WD),
    b"RPUSH": RespCommand(_push("RPUSH"), -3, "RPUSH", flags=_WD),
    b"LPOP": RespCommand(_pop(True), -2, "LPOP", flags=_W),
    b"RPOP": RespCommand(_pop(False), -2, "RPOP", flags=_W),
    b"LRANGE": RespCommand(r_lrange, 4, "LRANGE", flags=_R),
    b"LLEN": RespCommand(_plain("LLEN", _as_integer), 2, "LLEN", flags=_R),
    b"LINDEX": RespCommand(r_lindex, 3, "LINDEX", flags=_R),
    b"SADD": RespCommand(_members("SADD"), -3, "SADD", flags=_WD),
    b"SREM": RespCommand(_members("SREM"), -3, "SREM", flags=_W),
    b"SISMEMBER": RespCommand(_members("SISMEMBER"), 3, "SISMEMBER", flags=_R),
    b"SMISMEMBER": RespCommand(_members("SMISMEMBER"), -3, "SMISMEMBER", flags=_R),
    b"SMEMBERS": RespCommand(r_smembers, 2, "SMEMBERS", flags=_R),
    b"SCARD": RespCommand(_plain("SCARD", _as_integer), 2, "SCARD", flags=_R),
}
"""Every Redis data command Bolt answers, by upper-case name."""
