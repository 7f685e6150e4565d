"""Redis server commands: login, handshake, databases, introspection.

Theory of operation
-------------------
These are answered by the RESP listener itself (the data commands are in
:mod:`bolt.server._resp_commands`), with the same ``(listener, session,
args) → (reply_bytes, offset)`` shape. Logins go through the Bolt port's own
code (:func:`bolt.server._commands._log_in`: scrypt off the loop, back-off
per client address, the same users and roles):

* ``AUTH user password`` logs in as that Bolt user;
* ``AUTH password`` (the Redis 5 form) logs in as the user ``default`` when
  one exists, else as ``admin`` (whose password is ``BOLT_ADMIN_PASSWORD``);
* without ``BOLT_ADMIN_PASSWORD`` (no logins), credentials are accepted and
  ignored, as on the Bolt port, so a client configured with a password works
  against a local, unauthenticated node.

Roles map onto Redis permissions: ``readonly`` may run reads, ``readwrite``
writes too, ``admin`` also ``FLUSHDB``; anything else is ``-NOPERM``.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from bolt import __version__
from bolt.errors import AuthenticationError, BadRequestError, BoltError
from bolt.server._auth import LEVEL_NONE, LEVELS, MODE_PROTECTED, MODE_REQUIRED
from bolt.server._commands import _log_in
from bolt.server._resp_commands import RespCommand, integer_of
from bolt.state import compile_glob
from bolt.wire import OK, PONG, encode_bulk, encode_error_line, encode_integer, encode_reply

if TYPE_CHECKING:
    from bolt.server._resp_server import RespListener, RespSession

Result = tuple[bytes, int]

REDIS_VERSION = "7.2.0"
"""The Redis version Bolt reports (clients gate features on it)."""
RESP_DATABASES = 16
"""``SELECT`` accepts 0..15, as a default Redis; n maps to Bolt database ``"n"`` (0: ``""``)."""
_FLUSH_CHUNK_KEYS = 10_000  # keys per MDEL record of a FLUSHDB
_WRONGPASS = "invalid username-password pair or user is disabled."
_HELLO_NOAUTH = (
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
    "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client "
    "and select the RESP protocol version at the same time"
)


def r_ping(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``PING [message]``."""
    if len(args) > 2:
        raise BadRequestError("wrong number of arguments for 'ping' command")
    if session.protocol == 2 and (session.channels or session.patterns):
        return encode_reply([b"pong", args[1] if len(args) == 2 else b""], 2), -1
    return (PONG if len(args) == 1 else encode_bulk(args[1])), -1


def r_echo(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``ECHO message``."""
    return encode_bulk(args[1]), -1


def r_quit(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``QUIT``: ``+OK``, then the connection closes."""
    session.close_after_reply = True
    return OK, -1


def r_select(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``SELECT index``."""
    index = integer_of(args[1])
    if not 0 <= index < RESP_DATABASES:
        raise BadRequestError("DB index is out of range")
    session.db_index = index
    session.db = "" if index == 0 else str(index)
    return OK, -1


def r_dbsize(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``DBSIZE``."""
    return encode_integer(listener.engine.submit("DBSIZE", [], session.db)[0]), -1


def r_flushdb(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``FLUSHDB [ASYNC|SYNC]`` (admin): every key of the database, deleted now.

    The deletes are ``MDEL`` records of up to 10,000 keys, submitted with no
    await in between: atomic on this node, one log record per chunk.
    """
    if len(args) == 2 and args[1].upper() not in (b"ASYNC", b"SYNC"):
        raise BadRequestError("syntax error")
    submit = listener.engine.submit
    keys, offset = submit("KEYS", ["*"], session.db)
    for start in range(0, len(keys), _FLUSH_CHUNK_KEYS):
        offset = submit("MDEL", keys[start : start + _FLUSH_CHUNK_KEYS], session.db)[1]
    return OK, offset


# --- login and handshake ------------------------------------------------------------


async def _authenticate(
    listener: RespListener, session: RespSession, user: bytes | None, password: bytes
) -> None:
    server = listener.server
    if server.mode != MODE_REQUIRED:
        return
    if user is None:
        user_name = "default" if server.engine.user("default") is not None else "admin"
    else:
        user_name = user.decode("utf-8", "surrogateescape")
    try:
        await _log_in(server, session, user_name, password.decode("utf-8", "surrogateescape"))
    except AuthenticationError:
        raise AuthenticationError(_WRONGPASS) from None


async def r_auth(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``AUTH password`` or ``AUTH user password``."""
    if len(args) > 3:
        raise BadRequestError("syntax error")
    user = args[1] if len(args) == 3 else None
    await _authenticate(listener, session, user, args[-1])
    return OK, -1


async def r_hello(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``HELLO [protover [AUTH user password] [SETNAME name]]`` → the server map."""
    protocol = session.protocol
    if len(args) > 1:
        try:
            protocol = integer_of(args[1])
        except BoltError:
            raise BadRequestError("Protocol version is not an integer or out of range") from None
        if protocol not in (2, 3):
            return encode_error_line("NOPROTO unsupported protocol version"), -1
    index, name = 2, None
    while index < len(args):
        option = args[index].upper()
        if option == b"AUTH" and index + 2 < len(args):
            await _authenticate(listener, session, args[index + 1], args[index + 2])
            index += 3
        elif option == b"SETNAME" and index + 1 < len(args):
            name = args[index + 1].decode("utf-8", "replace")
            index += 2
        else:
            raise BadRequestError(
                f"Syntax error in HELLO option '{option.decode(errors='replace')}'"
            )
    if session.level == LEVEL_NONE and listener.server.mode == MODE_REQUIRED:
        return encode_error_line(_HELLO_NOAUTH), -1
    session.protocol = protocol
    if name is not None:
        session.client_name = name[:256]
    info = {
        "server": "redis",
        "version": REDIS_VERSION,
        "proto": protocol,
        "id": session.id,
        "mode": "standalone",
        "role": "master",
        "modules": [],
        "bolt_version": __version__,
    }
    return encode_reply(info, protocol), -1


# --- CLIENT, INFO, CONFIG, COMMAND ------------------------------------------------------


def client_info(listener: RespListener, session: RespSession) -> str:
    """One ``CLIENT INFO`` / ``CLIENT LIST`` line."""
    age = int(time.monotonic() - session.connected_at)
    return (
        f"id={session.id} addr={session.address} laddr={listener.host}:{listener.port} "
        f"name={session.client_name or ''} age={age} idle=0 flags=N db={session.db_index} "
        f"sub=0 psub=0 multi=-1 cmd={(session.current_command or 'NULL').lower()} "
        f"user={session.user or 'default'} lib-name={session.lib_name} "
        f"lib-ver={session.lib_version} resp={session.protocol}\n"
    )


def r_client(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``CLIENT SETNAME|GETNAME|ID|INFO|LIST|SETINFO ...``."""
    sub = args[1].upper()
    if sub == b"SETNAME" and len(args) == 3:
        name = args[2].decode("utf-8", "replace")
        if any(c in name for c in " \n\r"):
            raise BadRequestError(
                "Client names cannot contain spaces, newlines or special characters."
            )
        session.client_name = name[:256] or None
        return OK, -1
    if sub == b"GETNAME" and len(args) == 2:
        return encode_reply(session.client_name, session.protocol), -1
    if sub == b"ID" and len(args) == 2:
        return encode_integer(session.id), -1
    if sub == b"INFO" and len(args) == 2:
        return encode_bulk(client_info(listener, session).encode()), -1
    if sub == b"LIST":
        from bolt.server._resp_server import RespSession as Kind

        lines = [
            client_info(listener, s) for s in listener.server.sessions.values() if type(s) is Kind
        ]
        return encode_bulk("".join(lines).encode()), -1
    if sub == b"SETINFO" and len(args) == 4:
        attribute = args[2].upper()
        value = args[3].decode("utf-8", "replace")
        if attribute == b"LIB-NAME":
            session.lib_name = value
        elif attribute == b"LIB-VER":
            session.lib_version = value
        else:
            raise BadRequestError(f"Unrecognized option '{args[2].decode(errors='replace')}'")
        return OK, -1
    text = args[1].decode("utf-8", "replace")
    raise BadRequestError(
        f"unknown subcommand or wrong number of arguments for '{text}'. Try CLIENT HELP."
    )


def _config_values(listener: RespListener) -> dict[str, str]:
    config = listener.engine.config
    server = listener.server
    fsync = getattr(config, "wal_fsync", "batch")
    return {
        "maxmemory": str(getattr(config, "max_memory_bytes", 0)),
        "maxmemory-policy": str(getattr(config, "eviction_policy", "noeviction")),
        "databases": str(RESP_DATABASES),
        "port": str(listener.port),
        "bind": listener.host,
        "protected-mode": "yes" if server.mode == MODE_PROTECTED else "no",
        "appendonly": "yes",
        "appendfsync": {"always": "always", "batch": "everysec"}.get(fsync, "no"),
        "save": "",
        "timeout": "0",
        "tcp-keepalive": "0",
        "maxclients": str(server.max_connections),
        "notify-keyspace-events": "",
        "hz": "10",
    }


def r_config(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``CONFIG GET pattern [pattern ...]`` (read-only; ``CONFIG SET`` is refused)."""
    sub = args[1].upper()
    if sub == b"GET" and len(args) >= 3:
        values = _config_values(listener)
        found: dict[str, str] = {}
        for raw in args[2:]:
            matches = compile_glob(raw.decode("utf-8", "replace").lower())
            found.update((k, v) for k, v in values.items() if matches(k))
        return encode_reply(found, session.protocol), -1
    if sub == b"RESETSTAT" and len(args) == 2:
        return OK, -1
    if sub == b"SET":
        raise BadRequestError(
            "CONFIG SET is not supported: Bolt is configured with BOLT_* settings"
        )
    text = args[1].decode("utf-8", "replace")
    raise BadRequestError(
        f"unknown subcommand or wrong number of arguments for '{text}'. Try CONFIG HELP."
    )


def r_info(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``INFO [section ...]``: server, clients, memory, persistence, stats,
    replication and keyspace."""
    stats = listener.engine.statistics()
    server = listener.server
    now = listener.now_ms()
    keys: dict[str, int] = {}
    for name in listener.engine.keyspace.live_names(now):
        db = name.split("\0", 1)[0] if "\0" in name else ""
        keys[db] = keys.get(db, 0) + 1
    sections: dict[str, list[str]] = {
        "server": [
            f"redis_version:{REDIS_VERSION}",
            f"bolt_version:{__version__}",
            "redis_mode:standalone",
            f"process_id:{os.getpid()}",
            f"run_id:{listener.engine.origin}",
            f"tcp_port:{listener.port}",
            f"uptime_in_seconds:{int(time.time() - server.started_at)}",
        ],
        "clients": [f"connected_clients:{len(server.sessions)}"],
        "memory": [
            f"used_memory:{listener.engine.keyspace.memory_used}",
            f"maxmemory:{getattr(listener.engine.config, 'max_memory_bytes', 0)}",
        ],
        "persistence": ["loading:0", "aof_enabled:1"],
        "stats": [
            f"total_connections_received:{server.connections_total}",
            f"total_commands_processed:{sum(c.calls for c in server.counters())}",
            f"expired_keys:{getattr(stats, 'expired_total', 0)}",
        ],
        "replication": ["role:master", "connected_slaves:0"],
        "keyspace": [
            f"db{0 if db == '' else db}:keys={count},expires=0,avg_ttl=0"
            for db, count in sorted(keys.items())
            if db == "" or db.isdigit()
        ],
    }
    wanted = {a.decode("utf-8", "replace").lower() for a in args[1:]}
    every = not wanted or wanted & {"all", "everything", "default"}
    text = "".join(
        f"# {name.capitalize()}\r\n" + "".join(line + "\r\n" for line in lines) + "\r\n"
        for name, lines in sections.items()
        if every or name in wanted
    )
    return encode_bulk(text.encode()), -1


def _command_entry(name: bytes, command: RespCommand) -> list[Any]:
    from bolt.wire import Status

    return [
        name.lower(),
        command.arity,
        [Status(flag) for flag in command.flags],
        command.first_key,
        command.last_key,
        command.step,
        [],
        [],
        [],
        [],
    ]


def r_command(listener: RespListener, session: RespSession, args: list[bytes]) -> Result:
    """``COMMAND``, ``COMMAND COUNT``, ``COMMAND INFO name...``, ``COMMAND DOCS [name...]``,
    ``COMMAND LIST``: enough for redis-cli's hints and redis-py."""
    from bolt.server._resp_server import RESP_COMMANDS

    protocol = session.protocol
    sub = args[1].upper() if len(args) > 1 else b""
    if sub == b"":
        return encode_reply([_command_entry(n, c) for n, c in RESP_COMMANDS.items()], protocol), -1
    if sub == b"COUNT":
        return encode_integer(len(RESP_COMMANDS)), -1
    if sub == b"LIST":
        return encode_reply([n.lower() for n in RESP_COMMANDS], protocol), -1
    if sub == b"INFO":
        names = [a.upper() for a in args[2:]] or list(RESP_COMMANDS)
        entries = [
            _command_entry(n, RESP_COMMANDS[n]) if n in RESP_COMMANDS else None for n in names
        ]
        return encode_reply(entries, protocol), -1
    if sub == b"DOCS":
        names = [a.upper() for a in args[2:]] or list(RESP_COMMANDS)
        docs = {
            n.lower(): {
                "summary": f"{n.decode()} (served by Bolt)",
                "since": "1.0.0",
                "group": "generic",
            }
            for n in names
            if n in RESP_COMMANDS
        }
        return encode_reply(docs, protocol), -1
    text = args[1].decode("utf-8", "replace")
    raise BadRequestError(
        f"unknown subcommand or wrong number of arguments for '{text}'. Try COMMAND HELP."
    )


_A = ("fast",)
_RO = LEVELS["readonly"]
_ADMIN = LEVELS["admin"]

SERVER_COMMANDS: dict[bytes, RespCommand] = {
    b"PING": RespCommand(r_ping, -1, "PING", flags=_A, first_key=0, last_key=0, step=0),
    b"ECHO": RespCommand(r_echo, 2, "ECHO", flags=_A, first_key=0, last_key=0, step=0),
    b"QUIT": RespCommand(r_quit, -1, "QUIT", first_key=0, last_key=0, step=0),
    b"SELECT": RespCommand(r_select, 2, "SELECT", first_key=0, last_key=0, step=0),
    b"DBSIZE": RespCommand(
        r_dbsize, 1, "DBSIZE", flags=("readonly",), first_key=0, last_key=0, step=0
    ),
    b"FLUSHDB": RespCommand(
        r_flushdb, -1, "FLUSHDB", flags=("write",), first_key=0, last_key=0, step=0
    ),
    b"AUTH": RespCommand(r_auth, -2, "AUTH", True, first_key=0, last_key=0, step=0),
    b"HELLO": RespCommand(r_hello, -1, "HELLO", True, first_key=0, last_key=0, step=0),
    b"CLIENT": RespCommand(r_client, -2, "CLIENT", first_key=0, last_key=0, step=0),
    b"CONFIG": RespCommand(r_config, -2, "CONFIG", first_key=0, last_key=0, step=0),
    b"INFO": RespCommand(r_info, -1, "INFO", first_key=0, last_key=0, step=0),
    b"COMMAND": RespCommand(r_command, -1, "COMMAND", first_key=0, last_key=0, step=0),
}
"""The server commands of the RESP port, by upper-case name."""

SERVER_COMMAND_LEVELS: dict[str, int] = {
    "ECHO": _RO,
    "QUIT": LEVEL_NONE,
    "SELECT": _RO,
    "FLUSHDB": _ADMIN,
    "CLIENT": _RO,
    "CONFIG": _RO,
    "INFO": _RO,
    "COMMAND": _RO,
}
"""The level of each server command that has no Bolt command of the same name."""
