"""The data commands of ``boltctl``: strings, TTLs, batches, counters, lists, sets, hashes.

Each entry of :data:`COMMANDS` maps a subcommand to one SDK call. Argument
orders are the seed's CLI reference, which differs from the SDK in one
place: ``boltctl setex <key> <ttl_seconds> <value>`` puts the TTL before the
value. Integers (``ttl_seconds``, ``delta``, ``start``, ``stop``) are checked
by argparse before anything is sent; everything else (sizes, types of what a
key holds) is checked by the server, which answers with a typed error.
"""

from __future__ import annotations

import argparse
from typing import Any

from bolt.cli._connect import UsageError
from bolt.cli._output import Shape
from bolt.cli._run import Command, argument, is_nil, value_arg

KEY = argument("key", "the key")
KEYS = argument("keys", "one or more keys", nargs="+", metavar="key")
VALUES = argument("values", "one or more values", nargs="+", metavar="value", type=value_arg)
MEMBERS = argument("members", "one or more members", nargs="+", metavar="member", type=value_arg)


def _check_pairs(args: argparse.Namespace) -> None:
    """Refuse an odd number of ``mset`` arguments before connecting."""
    if len(args.pairs) % 2:
        raise UsageError("mset takes key value pairs: an even number of arguments")


def _mset(client: Any, args: argparse.Namespace) -> Any:
    pairs: list[str] = args.pairs
    mapping = {pairs[i]: value_arg(pairs[i + 1]) for i in range(0, len(pairs), 2)}
    return client.mset(mapping)


FIELD = argument("field", "the hash field", type=value_arg)
FIELDS = argument("fields", "one or more fields", nargs="+", metavar="field", type=value_arg)


def _check_field_pairs(args: argparse.Namespace) -> None:
    """Refuse an odd number of ``hset`` field/value arguments before connecting."""
    if len(args.pairs) % 2:
        raise UsageError("hset takes field value pairs: an even number of arguments")


def _hset(client: Any, args: argparse.Namespace) -> Any:
    pairs = [value_arg(p) for p in args.pairs]
    return client.hset(args.key, {pairs[i]: pairs[i + 1] for i in range(0, len(pairs), 2)})


def _hgetall(client: Any, args: argparse.Namespace) -> Any:
    # Printed as redis-cli does: field, value, field, value...
    return [item for pair in client.hgetall(args.key).items() for item in pair]


COMMANDS: tuple[Command, ...] = (
    # --- strings and keys ----------------------------------------------------
    Command(
        "put",
        "set a key to a string value",
        (KEY, argument("value", "the value", type=value_arg)),
        lambda c, a: c.put(a.key, a.value),
        Shape.OK,
        examples=("boltctl put greeting hello",),
    ),
    Command(
        "get",
        "print a string value ((nil) and exit status 1 if missing)",
        (KEY,),
        lambda c, a: c.get(a.key),
        Shape.VALUE,
        is_nil,
        examples=("boltctl get greeting",),
    ),
    Command(
        "del",
        "delete a key of any type ((integer) 1, or (integer) 0 and exit 1 if missing)",
        (KEY,),
        lambda c, a: c.delete(a.key),
        Shape.DELETED,
        is_nil,
    ),
    Command(
        "setex",
        "set a value that expires after ttl_seconds (note: TTL before value)",
        (
            KEY,
            argument("ttl_seconds", "seconds until the key expires", type=int),
            argument("value", "the value", type=value_arg),
        ),
        lambda c, a: c.setex(a.key, a.value, a.ttl_seconds),
        Shape.OK,
        examples=("boltctl setex session:42 300 token",),
    ),
    Command(
        "ttl",
        "seconds until a key expires (-1: never; (nil) and exit 1 if missing)",
        (KEY,),
        lambda c, a: c.ttl(a.key),
        Shape.INTEGER,
        is_nil,
    ),
    Command(
        "exists",
        "whether a key exists: (integer) 1 or 0",
        (KEY,),
        lambda c, a: c.exists(a.key),
        Shape.BOOLEAN,
    ),
    Command(
        "type",
        "the type of a key: string, counter, list, set, crdt_counter, hash",
        (KEY,),
        lambda c, a: c.key_type(a.key),
        Shape.VALUE,
        is_nil,
    ),
    Command(
        "keys",
        "list the keys matching a glob pattern (default *)",
        (argument("pattern", "glob pattern (* ? [abc])", nargs="?", default="*"),),
        lambda c, a: c.keys(a.pattern),
        Shape.LIST,
        examples=("boltctl keys 'session:*'",),
    ),
    # --- batches -------------------------------------------------------------
    Command(
        "mset",
        "set several keys: mset k1 v1 k2 v2 ... (prints the pairs set)",
        (argument("pairs", "key value pairs", nargs="+", metavar="key value"),),
        _mset,
        Shape.INTEGER,
        prepare=_check_pairs,
        examples=("boltctl mset k1 v1 k2 v2",),
    ),
    Command(
        "mget",
        "print several values, (nil) for each missing one",
        (KEYS,),
        lambda c, a: c.mget(a.keys),
        Shape.LIST,
    ),
    Command(
        "mdel",
        "delete several keys (prints how many existed)",
        (KEYS,),
        lambda c, a: c.mdel(a.keys),
        Shape.INTEGER,
    ),
    # --- integer counters -----------------------------------------------------
    Command("incr", "add 1 to an integer", (KEY,), lambda c, a: c.incr(a.key), Shape.INTEGER),
    Command(
        "decr", "subtract 1 from an integer", (KEY,), lambda c, a: c.decr(a.key), Shape.INTEGER
    ),
    Command(
        "incrby",
        "add delta to an integer",
        (KEY, argument("delta", "the amount (may be negative)", type=int)),
        lambda c, a: c.incrby(a.key, a.delta),
        Shape.INTEGER,
    ),
    Command(
        "decrby",
        "subtract delta from an integer",
        (KEY, argument("delta", "the amount (may be negative)", type=int)),
        lambda c, a: c.decrby(a.key, a.delta),
        Shape.INTEGER,
    ),
    # --- CRDT counters --------------------------------------------------------
    Command(
        "cincr",
        "add 1 to a cluster-safe (CRDT) counter",
        (KEY,),
        lambda c, a: c.cincr(a.key),
        Shape.INTEGER,
    ),
    Command(
        "cdecr",
        "subtract 1 from a cluster-safe (CRDT) counter",
        (KEY,),
        lambda c, a: c.cdecr(a.key),
        Shape.INTEGER,
    ),
    Command(
        "cincrby",
        "add n to a cluster-safe (CRDT) counter",
        (KEY, argument("n", "the amount (may be negative)", type=int)),
        lambda c, a: c.cincrby(a.key, a.n),
        Shape.INTEGER,
    ),
    Command(
        "cget",
        "the value of a cluster-safe (CRDT) counter (0 if missing)",
        (KEY,),
        lambda c, a: c.cget(a.key),
        Shape.INTEGER,
    ),
    # --- lists ----------------------------------------------------------------
    Command(
        "rpush",
        "append values to a list (prints its new length)",
        (KEY, VALUES),
        lambda c, a: c.rpush(a.key, *a.values),
        Shape.INTEGER,
    ),
    Command(
        "lpush",
        "prepend values to a list, one after another (lpush k a b gives [b, a])",
        (KEY, VALUES),
        lambda c, a: c.lpush(a.key, *a.values),
        Shape.INTEGER,
    ),
    Command(
        "lpop",
        "remove and print the head of a list ((nil) and exit 1 if empty)",
        (KEY,),
        lambda c, a: c.lpop(a.key),
        Shape.VALUE,
        is_nil,
    ),
    Command(
        "rpop",
        "remove and print the tail of a list ((nil) and exit 1 if empty)",
        (KEY,),
        lambda c, a: c.rpop(a.key),
        Shape.VALUE,
        is_nil,
    ),
    Command(
        "lrange",
        "print elements start..stop inclusive (negatives count from the end)",
        (
            KEY,
            argument("start", "first index (default 0)", type=int, nargs="?", default=0),
            argument("stop", "last index (default -1: the end)", type=int, nargs="?", default=-1),
        ),
        lambda c, a: c.lrange(a.key, a.start, a.stop),
        Shape.LIST,
        examples=("boltctl lrange queue 0 -1",),
    ),
    Command(
        "llen",
        "the length of a list (0 if missing)",
        (KEY,),
        lambda c, a: c.llen(a.key),
        Shape.INTEGER,
    ),
    # --- sets -----------------------------------------------------------------
    Command(
        "sadd",
        "add members to a set (prints how many were new)",
        (KEY, MEMBERS),
        lambda c, a: c.sadd(a.key, *a.members),
        Shape.INTEGER,
    ),
    Command(
        "srem",
        "remove members from a set (prints how many were there)",
        (KEY, MEMBERS),
        lambda c, a: c.srem(a.key, *a.members),
        Shape.INTEGER,
    ),
    Command(
        "smembers",
        "print the members of a set",
        (KEY,),
        lambda c, a: c.smembers(a.key),
        Shape.LIST,
    ),
    Command(
        "scard",
        "the number of members of a set (0 if missing)",
        (KEY,),
        lambda c, a: c.scard(a.key),
        Shape.INTEGER,
    ),
    Command(
        "sismember",
        "whether a member is in a set: (integer) 1 or 0",
        (KEY, argument("member", "the member", type=value_arg)),
        lambda c, a: c.sismember(a.key, a.member),
        Shape.BOOLEAN,
    ),
    # --- hashes ---------------------------------------------------------------
    Command(
        "hset",
        "set fields of a hash: hset key f1 v1 f2 v2 ... (prints how many were new)",
        (KEY, argument("pairs", "field value pairs", nargs="+", metavar="field value")),
        _hset,
        Shape.INTEGER,
        prepare=_check_field_pairs,
        examples=("boltctl hset user:1 name ada lang python",),
    ),
    Command(
        "hget",
        "print a hash field's value ((nil) and exit 1 if missing)",
        (KEY, FIELD),
        lambda c, a: c.hget(a.key, a.field),
        Shape.VALUE,
        is_nil,
    ),
    Command(
        "hmget",
        "print several fields' values, (nil) for each missing one",
        (KEY, FIELDS),
        lambda c, a: c.hmget(a.key, a.fields),
        Shape.LIST,
    ),
    Command(
        "hgetall",
        "print every field and value of a hash (field, value, field, value...)",
        (KEY,),
        _hgetall,
        Shape.LIST,
        examples=("boltctl hgetall user:1",),
    ),
    Command(
        "hdel",
        "delete fields of a hash (prints how many were there)",
        (KEY, FIELDS),
        lambda c, a: c.hdel(a.key, *a.fields),
        Shape.INTEGER,
    ),
    Command(
        "hexists",
        "whether a hash has a field: (integer) 1 or 0",
        (KEY, FIELD),
        lambda c, a: c.hexists(a.key, a.field),
        Shape.BOOLEAN,
    ),
    Command(
        "hlen",
        "the number of fields of a hash (0 if missing)",
        (KEY,),
        lambda c, a: c.hlen(a.key),
        Shape.INTEGER,
    ),
    Command(
        "hincrby",
        "add delta to an integer hash field",
        (KEY, FIELD, argument("delta", "the amount (may be negative)", type=int)),
        lambda c, a: c.hincrby(a.key, a.field, a.delta),
        Shape.INTEGER,
    ),
    Command(
        "hkeys",
        "print the fields of a hash",
        (KEY,),
        lambda c, a: c.hkeys(a.key),
        Shape.LIST,
    ),
    Command(
        "hvals",
        "print the values of a hash",
        (KEY,),
        lambda c, a: c.hvals(a.key),
        Shape.LIST,
    ),
)
"""The data commands, in the order ``boltctl --help`` lists them."""
