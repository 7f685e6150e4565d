"""The Bolt command vocabulary, written once for every kind of client.

:class:`CommandsMixin` holds one method per server command. Each method
checks its arguments' Python types (a clear :class:`TypeError` before
anything is sent; the server validates everything else), builds the
command's argument list and hands it to ``self._command``. What that returns
is up to the class mixing it in:

* the sync :class:`~bolt.client.BoltClient` sends and returns the reply,
* the trio :class:`~bolt.client.AsyncBoltClient` returns an awaitable reply,
* pipelines queue the command and return themselves for chaining.

Hence the generic return type ``R``; the docstrings say what the reply holds.
Data commands go to ``database`` (default: the client's ``database``);
server and user-management commands are not scoped to a database.
``database`` is keyword-only everywhere, so a Redis habit such as
``client.delete("a", "b")`` (meaning ``DEL a b``) or ``put("x", "1", "2")``
raises :class:`TypeError` at the call instead of silently naming a
database; several keys are the explicit ``mdel``/``mget``/``mset``.

The retry rule lives here too: :data:`RETRY_SAFE_COMMANDS` lists the
commands a client may re-send once after a connection broke between sending
and the reply, because running them twice leaves the same state as once.
Every other command (counters, list pushes and pops, and anything unknown)
is never re-sent; the caller gets :class:`~bolt.errors.WriteOutcomeUnknownError`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Generic, TypeVar

R = TypeVar("R")

Value = str | bytes
"""What a string value, list element or set member may be."""

RETRY_SAFE_COMMANDS = frozenset(
    {
        # reads
        "GET", "TTL", "EXISTS", "TYPE", "KEYS", "MGET", "CGET", "LRANGE", "LLEN",
        "SMEMBERS", "SCARD", "SISMEMBER", "PING", "STATS", "METRICS", "CLUSTER", "WHOAMI",
        "USERS", "DIGEST",
        "HGET", "HMGET", "HGETALL", "HEXISTS", "HLEN", "HKEYS", "HVALS",
        # writes whose repetition changes nothing
        "PUT", "SETEX", "MSET", "DEL", "MDEL", "SADD", "SREM",
        "HSET", "HDEL",
        # connection and user management
        "HELLO", "AUTH", "USERADD", "USERDEL", "PASSWD", "ROLE",
    }
)  # fmt: skip
"""Commands re-sent once after a connection loss (when ``auto_reconnect`` is on)."""


def check_key(key: object) -> str:
    """Return ``key`` if it is a ``str``; raise :class:`TypeError` otherwise."""
    if not isinstance(key, str):
        raise TypeError(f"a key must be str, not {type(key).__name__}")
    return key


def check_value(value: object) -> Value:
    """Return ``value`` as ``str`` or ``bytes``; raise :class:`TypeError` otherwise."""
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"a value must be str or bytes, not {type(value).__name__}")


def check_int(number: object, what: str) -> int:
    """Return ``number`` if it is an ``int`` (not a bool); raise :class:`TypeError` otherwise."""
    if not isinstance(number, int) or isinstance(number, bool):
        raise TypeError(f"{what} must be int, not {type(number).__name__}")
    return number


def check_keys(keys: Iterable[str]) -> list[str]:
    """Return ``keys`` as a list of ``str``, refusing a bare string (a common slip)."""
    if isinstance(keys, str | bytes):
        raise TypeError("pass a list of keys, not a single string")
    return [check_key(key) for key in keys]


def check_text(text: object, what: str) -> str:
    """Return ``text`` if it is a ``str``; raise :class:`TypeError` otherwise."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be str, not {type(text).__name__}")
    return text


class CommandsMixin(Generic[R]):
    """Every Bolt command as a method; see the module docstring."""

    database: str | None
    """Database (namespace) of data commands that name none."""

    def _command(self, command: str, args: list[Any], database: str | None) -> R:
        raise NotImplementedError

    def _data(self, command: str, args: list[Any], database: str | None) -> R:
        return self._command(command, args, self.database if database is None else database)

    # --- strings and keys ------------------------------------------------

    def put(self, key: str, value: Value, *, database: str | None = None) -> R:
        """Set ``key`` to the string ``value``. Reply: ``None``."""
        return self._data("PUT", [check_key(key), check_value(value)], database)

    def get(self, key: str, *, database: str | None = None) -> R:
        """Read a string. Reply: the value (``str`` or ``bytes`` as stored) or ``None``.

        Raises:
            WrongTypeError: the key holds a list, set or counter.
        """
        return self._data("GET", [check_key(key)], database)

    def delete(self, key: str, *, database: str | None = None) -> R:
        """Delete a key of any type.

        Reply: the old value for a string, ``True`` for other types, ``None``
        if the key was missing.
        """
        return self._data("DEL", [check_key(key)], database)

    def setex(self, key: str, value: Value, ttl_seconds: int, *, database: str | None = None) -> R:
        """Set ``key`` to ``value``, expiring after ``ttl_seconds``. Reply: ``None``."""
        args = [check_key(key), check_value(value), check_int(ttl_seconds, "ttl_seconds")]
        return self._data("SETEX", args, database)

    def ttl(self, key: str, *, database: str | None = None) -> R:
        """Reply: remaining whole seconds, -1 if the key never expires, ``None`` if missing."""
        return self._data("TTL", [check_key(key)], database)

    def exists(self, key: str, *, database: str | None = None) -> R:
        """Reply: whether ``key`` exists (``bool``)."""
        return self._data("EXISTS", [check_key(key)], database)

    def key_type(self, key: str, *, database: str | None = None) -> R:
        """Reply: the key's type, or ``None`` if missing.

        One of ``"string"``, ``"counter"``, ``"list"``, ``"set"``, ``"crdt_counter"``,
        ``"hash"``.
        """
        return self._data("TYPE", [check_key(key)], database)

    def keys(self, pattern: str = "*", *, database: str | None = None) -> R:
        """Reply: the list of keys matching the glob ``pattern``."""
        return self._data("KEYS", [check_text(pattern, "pattern")], database)

    def mset(self, mapping: Mapping[str, Value], *, database: str | None = None) -> R:
        """Set several keys at once. Reply: the number of pairs set."""
        if not isinstance(mapping, Mapping):
            raise TypeError(f"mset takes a mapping, not {type(mapping).__name__}")
        args: list[Any] = []
        for key, value in mapping.items():
            args += (check_key(key), check_value(value))
        return self._data("MSET", args, database)

    def mget(self, keys: Iterable[str], *, database: str | None = None) -> R:
        """Read several strings. Reply: a list of values, ``None`` for each missing key."""
        return self._data("MGET", check_keys(keys), database)

    def mdel(self, keys: Iterable[str], *, database: str | None = None) -> R:
        """Delete several keys. Reply: the number deleted."""
        return self._data("MDEL", check_keys(keys), database)

    # --- integer counters ------------------------------------------------------

    def incr(self, key: str, *, database: str | None = None) -> R:
        """Add 1 to an integer (a missing key counts as 0). Reply: the new value.

        Raises:
            NotIntegerError, IntegerOverflowError, WrongTypeError.
        """
        return self._data("INCR", [check_key(key)], database)

    def decr(self, key: str, *, database: str | None = None) -> R:
        """Subtract 1 from an integer. Reply: the new value."""
        return self._data("DECR", [check_key(key)], database)

    def incrby(self, key: str, delta: int, *, database: str | None = None) -> R:
        """Add ``delta`` to an integer. Reply: the new value."""
        return self._data("INCRBY", [check_key(key), check_int(delta, "delta")], database)

    def decrby(self, key: str, delta: int, *, database: str | None = None) -> R:
        """Subtract ``delta`` from an integer. Reply: the new value."""
        return self._data("DECRBY", [check_key(key), check_int(delta, "delta")], database)

    # --- CRDT counters ---------------------------------------------------------

    def cincr(self, key: str, *, database: str | None = None) -> R:
        """Add 1 to a cluster-safe (PN) counter. Reply: its new value."""
        return self._data("CINCR", [check_key(key)], database)

    def cdecr(self, key: str, *, database: str | None = None) -> R:
        """Subtract 1 from a cluster-safe counter. Reply: its new value."""
        return self._data("CDECR", [check_key(key)], database)

    def cincrby(self, key: str, n: int, *, database: str | None = None) -> R:
        """Add ``n`` (may be negative) to a cluster-safe counter. Reply: its new value."""
        return self._data("CINCRBY", [check_key(key), check_int(n, "n")], database)

    def cget(self, key: str, *, database: str | None = None) -> R:
        """Reply: a cluster-safe counter's value (0 if missing)."""
        return self._data("CGET", [check_key(key)], database)

    # --- lists -----------------------------------------------------------------

    def lpush(self, key: str, *values: Value, database: str | None = None) -> R:
        """Push values at the head, one after another (``lpush k a b`` gives
        ``[b, a]``). Reply: the new length."""
        return self._data("LPUSH", [check_key(key), *map(check_value, values)], database)

    def rpush(self, key: str, *values: Value, database: str | None = None) -> R:
        """Push values at the tail. Reply: the new length."""
        return self._data("RPUSH", [check_key(key), *map(check_value, values)], database)

    def lpop(self, key: str, *, database: str | None = None) -> R:
        """Remove the head. Reply: the element, or ``None`` if the list is empty."""
        return self._data("LPOP", [check_key(key)], database)

    def rpop(self, key: str, *, database: str | None = None) -> R:
        """Remove the tail. Reply: the element, or ``None`` if the list is empty."""
        return self._data("RPOP", [check_key(key)], database)

    def lrange(self, key: str, start: int = 0, stop: int = -1, *, database: str | None = None) -> R:
        """Reply: elements ``start..stop`` inclusive (Redis index rules, negatives allowed)."""
        args = [check_key(key), check_int(start, "start"), check_int(stop, "stop")]
        return self._data("LRANGE", args, database)

    def llen(self, key: str, *, database: str | None = None) -> R:
        """Reply: the length of a list (0 if missing)."""
        return self._data("LLEN", [check_key(key)], database)

    def blpop(
        self, keys: str | Iterable[str], timeout: float = 0, *, database: str | None = None
    ) -> R:
        """Pop the head of the first non-empty list of ``keys``, waiting for one.

        ``timeout`` is in seconds; the server holds one request at most 10 s
        (``limits.blocking_pop_wait_ms_max``; 0 means that long), so call
        again to wait longer. Waiters are served first come, first served,
        and an element goes to exactly one of them.

        Reply: ``[key, element]``, or ``None`` if the time ran out.
        """
        return self._blocking_pop("BLPOP", keys, timeout, database)

    def brpop(
        self, keys: str | Iterable[str], timeout: float = 0, *, database: str | None = None
    ) -> R:
        """:meth:`blpop`, but pops the tail. Reply: ``[key, element]`` or ``None``."""
        return self._blocking_pop("BRPOP", keys, timeout, database)

    def _blocking_pop(
        self, command: str, keys: str | Iterable[str], timeout: float, database: str | None
    ) -> R:
        names = [check_key(keys)] if isinstance(keys, str) else check_keys(keys)
        if (
            not isinstance(timeout, int | float)
            or isinstance(timeout, bool)
            or math.isnan(timeout)
            or timeout < 0
        ):
            raise TypeError("timeout must be a non-negative number of seconds")
        timeout_ms = 0 if math.isinf(timeout) else math.ceil(timeout * 1000)
        db = self.database if database is None else database
        return self._command(command, [*names, timeout_ms, db or ""], None)

    # --- sets --------------------------------------------------------------------

    def sadd(self, key: str, *members: Value, database: str | None = None) -> R:
        """Add members to a set. Reply: how many were not there yet."""
        return self._data("SADD", [check_key(key), *map(check_value, members)], database)

    def srem(self, key: str, *members: Value, database: str | None = None) -> R:
        """Remove members from a set. Reply: how many were there."""
        return self._data("SREM", [check_key(key), *map(check_value, members)], database)

    def smembers(self, key: str, *, database: str | None = None) -> R:
        """Reply: the members of a set, as a list."""
        return self._data("SMEMBERS", [check_key(key)], database)

    def scard(self, key: str, *, database: str | None = None) -> R:
        """Reply: the number of members of a set (0 if missing)."""
        return self._data("SCARD", [check_key(key)], database)

    def sismember(self, key: str, member: Value, *, database: str | None = None) -> R:
        """Reply: whether ``member`` is in the set (``bool``)."""
        return self._data("SISMEMBER", [check_key(key), check_value(member)], database)

    # --- hashes ------------------------------------------------------------------

    def hset(
        self,
        key: str,
        mapping: Mapping[Value, Value] | None = None,
        *,
        database: str | None = None,
        **fields: Value,
    ) -> R:
        """Set fields of a hash (``hset("h", {"f": "1"})`` or ``hset("h", f="1")``).

        Reply: how many fields were new.
        """
        if mapping is not None and not isinstance(mapping, Mapping):
            raise TypeError(f"hset takes a mapping, not {type(mapping).__name__}")
        pairs: dict[Value, Value] = dict(mapping or {})
        pairs.update(fields)
        if not pairs:
            raise TypeError("hset needs at least one field")
        args: list[Any] = [check_key(key)]
        for field, value in pairs.items():
            args += (check_value(field), check_value(value))
        return self._data("HSET", args, database)

    def hget(self, key: str, field: Value, *, database: str | None = None) -> R:
        """Reply: the field's value, or ``None`` if the field or the hash is missing.

        Raises:
            WrongTypeError: the key holds another type.
        """
        return self._data("HGET", [check_key(key), check_value(field)], database)

    def hmget(self, key: str, fields: Iterable[Value], *, database: str | None = None) -> R:
        """Reply: a list with each field's value (``None`` where missing)."""
        if isinstance(fields, str | bytes):
            raise TypeError("pass a list of fields, not a single string")
        return self._data("HMGET", [check_key(key), *map(check_value, fields)], database)

    def hgetall(self, key: str, *, database: str | None = None) -> R:
        """Reply: a ``{field: value}`` dict (empty if the hash is missing)."""
        return self._data("HGETALL", [check_key(key)], database)

    def hdel(self, key: str, *fields: Value, database: str | None = None) -> R:
        """Delete fields (the hash goes when its last field does). Reply: how many were there."""
        return self._data("HDEL", [check_key(key), *map(check_value, fields)], database)

    def hexists(self, key: str, field: Value, *, database: str | None = None) -> R:
        """Reply: whether the hash has ``field`` (``bool``)."""
        return self._data("HEXISTS", [check_key(key), check_value(field)], database)

    def hlen(self, key: str, *, database: str | None = None) -> R:
        """Reply: the number of fields (0 if missing)."""
        return self._data("HLEN", [check_key(key)], database)

    def hincrby(self, key: str, field: Value, delta: int = 1, *, database: str | None = None) -> R:
        """Add ``delta`` to an integer field (a missing one counts as 0). Reply: the new value.

        Concurrent HINCRBYs of one field on two nodes keep the later result
        (last writer wins, as plain counters); use CRDT counters to count
        cluster-wide.

        Raises:
            HashValueNotIntegerError, IntegerOverflowError, WrongTypeError.
        """
        args = [check_key(key), check_value(field), check_int(delta, "delta")]
        return self._data("HINCRBY", args, database)

    def hkeys(self, key: str, *, database: str | None = None) -> R:
        """Reply: the hash's fields, as a list."""
        return self._data("HKEYS", [check_key(key)], database)

    def hvals(self, key: str, *, database: str | None = None) -> R:
        """Reply: the hash's values, as a list (in the order of ``hkeys``)."""
        return self._data("HVALS", [check_key(key)], database)

    # --- server ------------------------------------------------------------------

    def ping(self) -> R:
        """Reply: ``"PONG"``."""
        return self._command("PING", [], None)

    def stats(self) -> R:
        """Reply: a dict of server statistics."""
        return self._command("STATS", [], None)

    def metrics(self) -> R:
        """Reply: the server's metrics in the Prometheus text format."""
        return self._command("METRICS", [], None)

    def cluster_status(self) -> R:
        """Reply: a dict with ``node_id``, ``peers``, ``peer_count``,
        ``pending_replication`` (``{"mode": "standalone", ...}`` on a single node)."""
        return self._command("CLUSTER", [], None)

    def digest(self, *, database: str | None = None, at_ms: int | None = None) -> R:
        """Reply: the node's state digest ``{"digest", "keys", "databases", "shards",
        "users"}``; equal on nodes that hold the same state (convergence check).

        ``at_ms`` (Unix milliseconds) judges expiry at that instant rather than
        the node's now: pass one value to every node to compare one moment.
        """
        if at_ms is None:
            return self._command("DIGEST", [] if database is None else [database], None)
        return self._command("DIGEST", [database, check_int(at_ms, "at_ms")], None)

    # --- users -------------------------------------------------------------------

    def auth(self, username: str, password: str) -> R:
        """Authenticate this connection as another user. Reply: ``{"user", "role"}``.

        Raises:
            AuthenticationError: wrong user name or password.
        """
        args = [check_text(username, "username"), check_text(password, "password")]
        return self._command("AUTH", args, None)

    def useradd(self, name: str, password: str, role: str = "readwrite") -> R:
        """Create a user (``admin``, ``readwrite`` or ``readonly``). Reply: ``None``.

        Raises:
            NoPermissionError: the current user is not an admin.
        """
        args = [
            check_text(name, "name"),
            check_text(password, "password"),
            check_text(role, "role"),
        ]
        return self._command("USERADD", args, None)

    def userdel(self, name: str) -> R:
        """Delete a user. Reply: whether it existed."""
        return self._command("USERDEL", [check_text(name, "name")], None)

    def users(self) -> R:
        """Reply: a list of ``{"name", "role"}`` dicts."""
        return self._command("USERS", [], None)

    def passwd(self, name: str, password: str) -> R:
        """Change a user's password. Reply: ``None``."""
        args = [check_text(name, "name"), check_text(password, "password")]
        return self._command("PASSWD", args, None)

    def set_role(self, name: str, role: str) -> R:
        """Change a user's role. Reply: ``None``."""
        return self._command("ROLE", [check_text(name, "name"), check_text(role, "role")], None)

    def whoami(self) -> R:
        """Reply: ``{"user", "role"}`` of this connection."""
        return self._command("WHOAMI", [], None)
