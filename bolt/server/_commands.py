"""Server-level commands: handshake, login, users, and the node's own reports.

Theory of operation
-------------------
Data commands go to ``engine.submit``; the commands here are answered by the
server itself. Each handler takes ``(server, session, args)`` and returns
``(reply, offset)`` like ``engine.submit`` (offset -1: nothing to wait for),
so the connection loop treats both kinds alike: user changes are logged
events and their replies wait for durability with the rest of the batch.

Handlers that hash or verify a password (``HELLO``, ``AUTH``, ``USERADD``,
``PASSWD``) are coroutines: scrypt runs in a worker thread. Every other
handler is a plain function, so ``PING`` or ``STATS`` cost no extra
schedule point.

The table :data:`SERVER_COMMANDS` gives each command the role level it
needs; user management needs ``admin`` (except changing one's own password,
checked inside ``PASSWD``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import trio

from bolt import limits
from bolt.errors import (
    AccessError,
    AuthenticationError,
    BadRequestError,
    KeyNotFoundError,
    NoPermissionError,
    ProtocolError,
    TooLargeError,
)
from bolt.node import FeedSubscription, wall_clock_ms
from bolt.server._auth import (
    LEVEL_ADMIN,
    LEVEL_NONE,
    LEVELS,
    MODE_REQUIRED,
    ROLE_OF_LEVEL,
    check_password,
    check_role,
    check_user_name,
)
from bolt.server._blocking import BLOCKING_SERVER_COMMANDS
from bolt.server._login import LOGIN_COMMANDS, begin_challenge, log_in_by
from bolt.server._pushes import Outbox, change_matcher, watch
from bolt.server._session import Session
from bolt.server._tasks import TASK_SERVER_COMMANDS
from bolt.state import state_digest
from bolt.wire import PROTOCOL_VERSION

if TYPE_CHECKING:
    from bolt.server._server import Server

Result = tuple[Any, int]


def _arity(command: str, args: list[Any], count: int, names: str) -> None:
    if len(args) != count:
        raise BadRequestError(
            f"'{command}' takes {count} argument{'s' if count != 1 else ''}"
            f"{': ' + names if names else ''}; got {len(args)}"
        )


# --- handshake and login --------------------------------------------------------


async def cmd_hello(server: Server, session: Session, args: list[Any]) -> Result:
    """``HELLO [protocol_version, {user, password | client_nonce, client_name}]`` → server info.

    With ``client_nonce`` instead of ``password`` the reply holds a
    ``challenge`` and the login finishes with ``LOGIN`` (``bolt.server._login``).
    """
    if not args or len(args) > 2:
        raise BadRequestError("'HELLO' takes [protocol_version, options]")
    version = args[0]
    if type(version) is not int:
        raise BadRequestError("HELLO protocol_version must be an integer")
    if version != PROTOCOL_VERSION:
        session.close_after_reply = True
        raise ProtocolError(
            f"unsupported protocol version {version}; this server speaks {PROTOCOL_VERSION}"
        )
    options = args[1] if len(args) == 2 and args[1] is not None else {}
    if type(options) is not dict:
        raise BadRequestError("HELLO options must be a map")
    for field in ("user", "password", "client_name"):
        value = options.get(field)
        if value is not None and type(value) is not str:
            raise BadRequestError(f"HELLO {field} must be a string")
    client_name = options.get("client_name")
    if client_name is not None:
        session.client_name = client_name[:256]
    user, password = options.get("user"), options.get("password")
    if server.mode != MODE_REQUIRED:
        session.logged_in = True  # no login without auth: the HELLO ends the pre-login limits
    elif password is None and "client_nonce" in options:
        info = server.hello_info(session)
        info["challenge"] = begin_challenge(server, session, user, options["client_nonce"])
        return info, -1  # LOGIN [proof] follows (bolt.server._login)
    elif user is not None or password is not None:
        await _log_in(server, session, user, password)
    return server.hello_info(session), -1


async def cmd_auth(server: Server, session: Session, args: list[Any]) -> Result:
    """``AUTH [user, password]`` → ``{"user", "role"}``."""
    _arity("AUTH", args, 2, "user, password")
    if server.mode == MODE_REQUIRED:
        await _log_in(server, session, args[0], args[1])
    else:
        session.logged_in = True
    return {"user": session.user, "role": session.role}, -1


async def _log_in(server: Server, session: Session, user: Any, password: Any) -> None:
    """Verify a user name and password and log ``session`` in, or back off and raise."""

    async def check() -> str | None:
        if type(user) is not str or type(password) is not str or not user:
            return None
        record = server.engine.user(user)
        ok = await server.checker.verify(password, record.password_hash if record else None)
        return user if ok else None  # log_in_by checks the user still exists

    await log_in_by(server, session, check)


def cmd_ping(server: Server, session: Session, args: list[Any]) -> Result:
    """``PING`` → ``"PONG"``."""
    return "PONG", -1


def cmd_whoami(server: Server, session: Session, args: list[Any]) -> Result:
    """``WHOAMI`` → ``{"user", "role"}`` of this session."""
    return {"user": session.user, "role": session.role}, -1


# --- reports -------------------------------------------------------------------------


def cmd_stats(server: Server, session: Session, args: list[Any]) -> Result:
    """``STATS`` → the statistics dict (see :mod:`bolt.server._stats`)."""
    return server.stats(), -1


def cmd_metrics(server: Server, session: Session, args: list[Any]) -> Result:
    """``METRICS`` → the Prometheus text exposition, as a str."""
    return server.metrics_text(), -1


def cmd_cluster(server: Server, session: Session, args: list[Any]) -> Result:
    """``CLUSTER`` → the cluster status; a standalone node has no peers."""
    if server.cluster is not None:
        return server.cluster.status(), -1
    return {
        "mode": "standalone",
        "node_id": server.engine.origin,
        "peers": [],
        "peer_count": 0,
        "pending_replication": 0,
    }, -1


def cmd_digest(server: Server, session: Session, args: list[Any]) -> Result:
    """``DIGEST [db [at_ms]]`` → the state digest: total, per database, per shard.

    ``at_ms`` (Unix ms) judges expiry at that instant instead of this node's
    now, so digests read from several nodes one after another (or on nodes
    whose clocks differ) compare the same moment while keys with a TTL expire.
    """
    if (
        len(args) > 2
        or (args and args[0] is not None and type(args[0]) is not str)
        or (len(args) == 2 and (type(args[1]) is not int or args[1] < 0))
    ):
        raise BadRequestError(
            "'DIGEST' takes an optional database name (or nil) and an optional"
            " time in Unix milliseconds (an integer >= 0)"
        )
    database = args[0] if args else None
    now_ms = args[1] if len(args) == 2 else (server.engine.config.now_ms or wall_clock_ms)()
    return state_digest(server.engine.keyspace, now_ms, database), -1


# --- users -----------------------------------------------------------------------------


async def cmd_useradd(server: Server, session: Session, args: list[Any]) -> Result:
    """``USERADD [name, password, role]`` → None (admin only)."""
    _arity("USERADD", args, 3, "name, password, role")
    name, password, role = check_user_name(args[0]), check_password(args[1]), check_role(args[2])
    if server.engine.user(name) is not None:
        raise BadRequestError(f"user '{name}' already exists (use PASSWD or ROLE to change it)")
    password_hash = await server.checker.hash(password)
    if server.engine.user(name) is not None:  # created while we hashed
        raise BadRequestError(f"user '{name}' already exists (use PASSWD or ROLE to change it)")
    return None, server.engine.put_user(name, password_hash, role)


def cmd_userdel(server: Server, session: Session, args: list[Any]) -> Result:
    """``USERDEL [name]`` → whether the user existed (admin only)."""
    _arity("USERDEL", args, 1, "name")
    name = check_user_name(args[0])
    _keep_an_admin(server, name, None)
    existed, offset = server.engine.delete_user(name)
    if existed:
        server.user_changed(name, LEVEL_NONE)
    return existed, offset


def cmd_users(server: Server, session: Session, args: list[Any]) -> Result:
    """``USERS`` → ``[{"name", "role"}]`` sorted by name (admin only)."""
    _arity("USERS", args, 0, "")
    return [{"name": u.name, "role": u.role} for u in server.engine.users()], -1


async def cmd_passwd(server: Server, session: Session, args: list[Any]) -> Result:
    """``PASSWD [name, password]`` → None (admin, or a user for their own)."""
    _arity("PASSWD", args, 2, "name, password")
    name, password = check_user_name(args[0]), check_password(args[1])
    if session.level < LEVEL_ADMIN and session.user != name:
        raise NoPermissionError(f"only an admin may change the password of another user ('{name}')")
    if server.engine.user(name) is None:
        raise KeyNotFoundError(f"no user '{name}'")
    password_hash = await server.checker.hash(password)
    record = server.engine.user(name)
    if record is None:
        raise KeyNotFoundError(f"no user '{name}'")
    return None, server.engine.put_user(name, password_hash, record.role)


def cmd_role(server: Server, session: Session, args: list[Any]) -> Result:
    """``ROLE [name, role]`` → None (admin only)."""
    _arity("ROLE", args, 2, "name, role")
    name, role = check_user_name(args[0]), check_role(args[1])
    record = server.engine.user(name)
    if record is None:
        raise KeyNotFoundError(f"no user '{name}'")
    _keep_an_admin(server, name, role)
    offset = server.engine.put_user(name, record.password_hash, role)
    server.user_changed(name, LEVELS[role])
    return None, offset


def _keep_an_admin(server: Server, name: str, new_role: str | None) -> None:
    """Refuse to delete or demote the last admin while logins are required."""
    if server.mode != MODE_REQUIRED or new_role == "admin":
        return
    record = server.engine.user(name)
    if record is None or record.role != "admin":
        return
    if not any(u.role == "admin" and u.name != name for u in server.engine.users()):
        raise BadRequestError(f"'{name}' is the last admin; create another admin first")


# --- key watches (server pushes) ------------------------------------------------------


def cmd_watch(server: Server, session: Session, args: list[Any]) -> Result:
    """``WATCH [pattern, database?]`` → ``{"pattern", "database", "offset"}``.

    From ``offset`` on, every committed change of a matching key is pushed
    (see :mod:`bolt.server._pushes`); a new WATCH replaces the previous one.
    """
    if not 1 <= len(args) <= 2:
        raise BadRequestError("'WATCH' takes [pattern, database?]")
    pattern = args[0]
    database = args[1] if len(args) == 2 else None
    if type(pattern) is not str or not pattern:
        raise BadRequestError("WATCH pattern must be a non-empty string")
    if len(pattern.encode("utf-8", "surrogatepass")) > limits.watch_pattern_bytes_max:
        raise TooLargeError(f"WATCH pattern is longer than {limits.watch_pattern_bytes_max} bytes")
    if database is not None and type(database) is not str:
        raise BadRequestError("WATCH database must be a string")
    if session.tasks is None or session.stream is None:
        raise BadRequestError("this connection cannot take pushes")
    _stop_watch(session)
    outbox = session.outbox
    if outbox is None:
        outbox = session.outbox = Outbox(session)
        session.tasks.start_soon(outbox.run, session.stream)
    subscription = server.engine.feed.subscribe(
        limits.watch_records_max, name=f"watch {pattern!r} of {session.address}"
    )
    matcher = change_matcher(pattern, database or "")
    scope = trio.CancelScope()
    session.watch_scope = scope
    session.tasks.start_soon(_run_watch, server, session, outbox, subscription, matcher, scope)
    return {"pattern": pattern, "database": database, "offset": subscription.start_offset}, -1


async def _run_watch(
    server: Server,
    session: Session,
    outbox: Outbox,
    subscription: FeedSubscription,
    matcher: Callable[[Any], bool],
    scope: trio.CancelScope,
) -> None:
    with scope:
        await watch(server.engine, session, outbox, subscription, matcher)


def _stop_watch(session: Session) -> bool:
    scope, session.watch_scope = session.watch_scope, None
    if scope is None:
        return False
    scope.cancel()
    return True


def cmd_unwatch(server: Server, session: Session, args: list[Any]) -> Result:
    """``UNWATCH`` → whether a watch was running (pushes already queued still arrive)."""
    _arity("UNWATCH", args, 0, "")
    return _stop_watch(session), -1


class ServerCommand(NamedTuple):
    """A server-level command: its handler, whether to await it, the level it needs."""

    handler: Callable[..., Any]
    is_async: bool
    required_level: int


SERVER_COMMANDS: dict[str, ServerCommand] = {
    "HELLO": ServerCommand(cmd_hello, True, LEVEL_NONE),
    "AUTH": ServerCommand(cmd_auth, True, LEVEL_NONE),
    "PING": ServerCommand(cmd_ping, False, LEVEL_NONE),
    "WHOAMI": ServerCommand(cmd_whoami, False, LEVEL_NONE),
    "STATS": ServerCommand(cmd_stats, False, LEVEL_ADMIN),  # every client's user and address
    "METRICS": ServerCommand(cmd_metrics, False, LEVELS["readonly"]),
    "CLUSTER": ServerCommand(cmd_cluster, False, LEVELS["readonly"]),
    "DIGEST": ServerCommand(cmd_digest, False, LEVELS["readonly"]),
    "USERADD": ServerCommand(cmd_useradd, True, LEVEL_ADMIN),
    "USERDEL": ServerCommand(cmd_userdel, False, LEVEL_ADMIN),
    "USERS": ServerCommand(cmd_users, False, LEVEL_ADMIN),
    "PASSWD": ServerCommand(cmd_passwd, True, LEVELS["readonly"]),
    "ROLE": ServerCommand(cmd_role, False, LEVEL_ADMIN),
    "WATCH": ServerCommand(cmd_watch, False, LEVELS["readonly"]),
    "UNWATCH": ServerCommand(cmd_unwatch, False, LEVELS["readonly"]),
}
"""Every command the server answers itself (the rest go to the engine)."""
SERVER_COMMANDS.update({name: ServerCommand(*spec) for name, spec in TASK_SERVER_COMMANDS.items()})
SERVER_COMMANDS.update({name: ServerCommand(*spec) for name, spec in LOGIN_COMMANDS.items()})
SERVER_COMMANDS.update(
    {name: ServerCommand(*spec) for name, spec in BLOCKING_SERVER_COMMANDS.items()}
)


def refusal(command: str, session: Session, required_level: int) -> AccessError:
    """The error for a session whose level is below ``required_level``."""
    if session.level == LEVEL_NONE:
        return AuthenticationError(
            f"authentication required for '{command}': send HELLO with user and password, or AUTH"
        )
    needed = ROLE_OF_LEVEL.get(required_level, "admin")
    return NoPermissionError(
        f"user '{session.user}' (role {session.role}) may not run '{command}': "
        f"it needs role {needed}"
    )
