"""State digests: one number per shard, per database and in all (pure).

Theory of operation
-------------------
Two nodes that hold the same state -- the same visible keys with the same
types, values and expiry times, and the same users -- have the same digest,
whatever order their events arrived in: the convergence check of the
cluster tests and of operators (``DIGEST``, ``boltctl digest``).

Each live key contributes ``blake2b-128`` of a canonical msgpack encoding of
``(database, key, type, value, expires_at)``: strings and plain counters as
stored with the stamp ``(hlc, origin)`` of the write that won, a CRDT
counter as its value with every node's totals, a list as its elements in
order, a set as its members sorted (bytes members after str ones). Stamps
and totals are in so that two nodes that merely show the same value by
coincidence (each counted to 40 alone) do not look converged. Contributions are
added modulo 2**128, so a digest does not depend on iteration order and no
key list is sorted or held. Other CRDT bookkeeping (dots, tombstones,
element ids) is left out on purpose: it may be collected at
different times on different nodes while what a reader sees is equal.

"Now" is an argument: a key is live if it is visible at ``now_ms``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgpack

from bolt.state._entry import CRDT_COUNTER, HASH, LIST, SET, TOMBSTONE, TYPE_NAMES, Entry
from bolt.state._keyspace import Keyspace, split_name

_MODULUS = 1 << 128
_packer = msgpack.Packer(use_bin_type=True)


def _member_order(member: Any) -> tuple[int, Any]:
    return (1, member) if isinstance(member, bytes) else (0, member)


def visible_value(entry: Entry, kind: int) -> Any:
    """What a reader sees of ``entry`` holding ``kind``, in canonical form."""
    bodies = entry.bodies
    if kind == LIST and bodies is not None:
        return list(bodies[LIST])
    if kind == SET and bodies is not None:
        return sorted(bodies[SET], key=_member_order)
    if kind == CRDT_COUNTER and bodies is not None:
        counter = bodies[CRDT_COUNTER]
        # The value and who contributed it: two nodes that each counted 40
        # on their own show 40, but do not hold the same state.
        return [counter.value(), sorted(counter.observed().items())]
    if kind == HASH and bodies is not None:
        # Each field's value and the stamps of its live writes: two nodes
        # holding the same values from different writes are not one state.
        fields = bodies[HASH]
        return sorted(
            ([f, v, fields.tags(f)] for f, v in fields.items()), key=lambda i: _member_order(i[0])
        )
    # The winning write's stamp too: the same value written on two nodes
    # apart is not yet one state (the later one must win on both).
    return [entry.value, entry.hlc, entry.origin]


def key_hash(db: str, key: str, kind: int, value: Any, expires_at: int) -> int:
    """The contribution of one live key."""
    payload = _packer.pack((db, key, TYPE_NAMES[kind], value, expires_at))
    return int.from_bytes(hashlib.blake2b(payload, digest_size=16).digest(), "big")


def _hex(value: int) -> str:
    return f"{value:032x}"


def state_digest(keyspace: Keyspace, now_ms: int, database: str | None = None) -> dict[str, Any]:
    """The digest of what ``keyspace`` shows at ``now_ms``.

    Args:
        keyspace: the views.
        now_ms: the wall clock deciding which keys with a TTL are live.
        database: only this database (None: every one, and the users).

    Returns:
        ``{"digest": hex, "keys": n, "databases": {db: hex}, "shards":
        [hex per shard], "users": hex}`` (``""`` is the default database).
    """
    total = 0
    count = 0
    databases: dict[str, int] = {}
    shards: list[str] = []
    for shard in keyspace.shards:
        shard_sum = 0
        for name, entry in shard.entries.items():
            kind = entry.visible_kind(now_ms)
            if kind == TOMBSTONE:
                continue
            db, key = split_name(name)
            if database is not None and db != database:
                continue
            contribution = key_hash(db, key, kind, visible_value(entry, kind), entry.expires_at)
            shard_sum = (shard_sum + contribution) % _MODULUS
            databases[db] = (databases.get(db, 0) + contribution) % _MODULUS
            count += 1
        shards.append(_hex(shard_sum))
        total = (total + shard_sum) % _MODULUS
    users = 0
    if database is None:
        for record in keyspace.users.values():
            if not record.deleted:
                payload = _packer.pack((record.name, record.password_hash, record.role))
                digest = hashlib.blake2b(payload, digest_size=16).digest()
                users = (users + int.from_bytes(digest, "big")) % _MODULUS
        total = (total + users) % _MODULUS
    return {
        "digest": _hex(total),
        "keys": count,
        "databases": {db: _hex(value) for db, value in sorted(databases.items())},
        "shards": shards,
        "users": _hex(users),
    }
