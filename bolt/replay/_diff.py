"""``replay diff``: where and how two nodes' states disagree.

Theory of operation
-------------------
Both directories are rebuilt to the end of their logs (see
:mod:`bolt.replay._state`) and judged at one common moment, so a key with a
TTL is visible on both sides or on neither.

1. **Per-shard digests.** Every visible key is read through the real command
   handlers and encoded canonically (msgpack of db, key, type, value — sets
   sorted, lists in order — and absolute expiry). Keys are grouped by
   ``crc32(name) % shard_count`` — the engine's own sharding, computed here
   with a fixed count so both sides group alike whatever their own
   ``BOLT_SHARD_COUNT`` — and each shard's keys, sorted by name, are hashed
   with BLAKE2b. Equal digests mean equal contents; on a healthy cluster every
   digest matches, and a replication bug usually shows in a few shards only.
2. **Per-key comparison** inside the shards whose digests differ: each key
   whose two views differ, with both values.
3. **The last event on each side** that touched each differing key, found by
   a second streaming pass over each log restricted to those keys — usually
   the event one node has and the other lacks.
4. **The first event the two logs disagree on.** Two nodes' logs hold their
   events in different orders (each appends what it receives when it
   arrives), so they are compared by dot, not by position: in the same
   second pass, every event of one log whose dot the other node has not
   applied (its rebuilt state's dot set, which also counts what its snapshot
   covers) is counted, and the earliest of them by HLC, over both sides, is
   named with its offset in the log that has it. On two converged nodes
   there is none; after a partition it is where they started to diverge.

Users (replicated like data) are compared too, by name, role and password hash
(the hash itself is never printed).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from bolt import limits
from bolt.crdt import DotSet
from bolt.errors import BadRequestError
from bolt.events import Event, UserDeleted, UserPut
from bolt.state import Keyspace, key_name, split_name

from ._source import DataDir, Progress, RecordStream
from ._state import KeyView, RebuiltState, read_key, rebuild

_USER_EVENTS = (UserPut, UserDeleted)


@dataclass(frozen=True, slots=True)
class ShardDigest:
    """The digest of one shard's visible contents."""

    index: int
    keys: int
    digest: str


@dataclass(frozen=True, slots=True)
class LastEvent:
    """The last event in a log that touched a key: record ``offset``, ``index`` in the record."""

    offset: int
    index: int
    event: Event


@dataclass
class KeyDifference:
    """One key whose visible value differs (``None``: absent on that side)."""

    db: str
    key: str
    a: KeyView | None
    b: KeyView | None
    last_a: LastEvent | None = None
    last_b: LastEvent | None = None


@dataclass(frozen=True, slots=True)
class LogDisagreement:
    """The first event (by HLC) that one node's log holds and the other node lacks.

    Attributes:
        side: ``"a"`` or ``"b"``, the log that holds the event.
        found: the event and its place in that log.
    """

    side: str
    found: LastEvent


@dataclass
class DiffResult:
    """What ``replay diff`` found."""

    state_a: RebuiltState
    state_b: RebuiltState
    node_a: str | None
    node_b: str | None
    moment_ms: int
    shard_count: int
    digests_a: list[ShardDigest]
    digests_b: list[ShardDigest]
    differing_shards: list[int]
    differences: list[KeyDifference]
    total_differences: int
    users_differing: list[str] = field(default_factory=list)
    first_disagreement: LogDisagreement | None = None
    only_in_a: int = 0
    """Events of A's log whose dot B has not applied."""
    only_in_b: int = 0
    """Events of B's log whose dot A has not applied."""

    @property
    def same(self) -> bool:
        """True when both nodes hold the same visible keys and users, and neither
        log holds an event the other node lacks."""
        return (
            not self.differing_shards
            and not self.users_differing
            and self.first_disagreement is None
        )


def canonical(view: KeyView) -> bytes:
    """The stable encoding of a key's visible contents hashed into its shard's digest."""
    return msgpack.packb(
        [view.db, view.key, view.type, view.value, view.expires_at_ms], use_bin_type=True
    )


def _shard_index(name: str, shard_count: int) -> int:
    return zlib.crc32(name.encode("utf-8", "surrogatepass")) % shard_count


def shard_digests(
    keyspace: Keyspace, now_ms: int, shard_count: int
) -> tuple[list[ShardDigest], list[list[str]]]:
    """Digest every shard's visible contents.

    Returns:
        The digests (one per shard index, empty shards included) and the sorted
        visible names of each shard.
    """
    buckets: list[list[str]] = [[] for _ in range(shard_count)]
    for name in keyspace.live_names(now_ms):
        buckets[_shard_index(name, shard_count)].append(name)
    digests: list[ShardDigest] = []
    for index, names in enumerate(buckets):
        names.sort()
        hasher = hashlib.blake2b(digest_size=16)
        keys = 0
        for name in names:
            db, key = split_name(name)
            view = read_key(keyspace, db, key, now_ms)
            if view is not None:
                hasher.update(canonical(view))
                keys += 1
        digests.append(ShardDigest(index, keys, hasher.hexdigest()))
    return digests, buckets


def diff(
    dir_a: DataDir,
    dir_b: DataDir,
    *,
    now_ms: Callable[[], int],
    shard_count: int = limits.shard_count_default,
    limit: int = 100,
    progress: Progress | None = None,
) -> DiffResult:
    """Compare the states of two data directories (see the module docstring).

    Args:
        dir_a: the first node's data directory.
        dir_b: the second node's data directory.
        now_ms: the common moment expiry is judged at.
        shard_count: how many shards to digest (any positive number; both sides alike).
        limit: the most differing keys listed in detail (all are counted).
        progress: called with log bytes consumed, one running total over both
            logs (the second log counts on from ``dir_a.log_bytes()``).

    Raises:
        bolt.errors.BadRequestError: a shard count or limit out of range.
        HistoryUnavailableError, bolt.errors.FormatVersionError: as :func:`rebuild`.
    """
    if not 1 <= shard_count <= limits.shard_count_max:
        raise BadRequestError(f"--shards must be between 1 and {limits.shard_count_max}")
    if limit < 0:
        raise BadRequestError("--limit must not be negative")
    moment = now_ms()
    state_a = rebuild(dir_a, None, now_ms=lambda: moment, progress=progress)
    progress_b = _counting_on(progress, dir_a.log_bytes())
    state_b = rebuild(dir_b, None, now_ms=lambda: moment, progress=progress_b)
    digests_a, buckets_a = shard_digests(state_a.keyspace, moment, shard_count)
    digests_b, buckets_b = shard_digests(state_b.keyspace, moment, shard_count)
    differing = [a.index for a, b in zip(digests_a, digests_b, strict=True) if a.digest != b.digest]
    differences: list[KeyDifference] = []
    total = 0
    for index in differing:
        for name in sorted(set(buckets_a[index]) | set(buckets_b[index])):
            db, key = split_name(name)
            view_a = read_key(state_a.keyspace, db, key, moment)
            view_b = read_key(state_b.keyspace, db, key, moment)
            if view_a != view_b:
                total += 1
                if len(differences) < limit:
                    differences.append(KeyDifference(db, key, view_a, view_b))
    differences.sort(key=lambda d: (d.db, d.key))
    first_a, only_a = _scan_log(dir_a, differences, "a", state_b.keyspace.dots)
    first_b, only_b = _scan_log(dir_b, differences, "b", state_a.keyspace.dots)
    return DiffResult(
        state_a=state_a,
        state_b=state_b,
        node_a=dir_a.node_id,
        node_b=dir_b.node_id,
        moment_ms=moment,
        shard_count=shard_count,
        digests_a=digests_a,
        digests_b=digests_b,
        differing_shards=differing,
        differences=differences,
        total_differences=total,
        users_differing=_user_differences(state_a.keyspace, state_b.keyspace),
        first_disagreement=_earliest(first_a, first_b),
        only_in_a=only_a,
        only_in_b=only_b,
    )


def _counting_on(progress: Progress | None, base: int) -> Progress | None:
    """``progress`` counting on from ``base`` bytes (the second log of a diff)."""
    if progress is None:
        return None
    return lambda done: progress(base + done)


def _scan_log(
    data_dir: DataDir, differences: list[KeyDifference], side: str, other: DotSet
) -> tuple[LastEvent | None, int]:
    """One pass over a log: fill ``last_a``/``last_b`` of each differing key, and
    find the events whose dot the ``other`` node has not applied.

    Returns:
        The earliest such event by HLC (None: none), and how many there are.
    """
    wanted: dict[str, KeyDifference] = {key_name(d.db, d.key): d for d in differences}
    keys = {d.key for d in differences}
    last: dict[str, LastEvent] = {}
    first: LastEvent | None = None
    missing = 0
    for offset, index, event in RecordStream(data_dir).events():
        if (event.origin, event.seq) not in other:
            missing += 1
            if first is None or _order(event) < _order(first.event):
                first = LastEvent(offset, index, event)
        if event.key in keys and not isinstance(event, _USER_EVENTS):
            name = key_name(event.db, event.key)
            if name in wanted:
                last[name] = LastEvent(offset, index, event)
    for name, found in last.items():
        if side == "a":
            wanted[name].last_a = found
        else:
            wanted[name].last_b = found
    return first, missing


def _order(event: Event) -> tuple[int, str, int]:
    """Events in time order: HLC, then the dot (HLC readings of two nodes can tie)."""
    return (event.hlc, event.origin, event.seq)


def _earliest(first_a: LastEvent | None, first_b: LastEvent | None) -> LogDisagreement | None:
    if first_a is None and first_b is None:
        return None
    if first_b is None or (first_a is not None and _order(first_a.event) <= _order(first_b.event)):
        assert first_a is not None
        return LogDisagreement("a", first_a)
    return LogDisagreement("b", first_b)


def _user_differences(a: Keyspace, b: Keyspace) -> list[str]:
    def users(keyspace: Keyspace) -> dict[str, Any]:
        return {u.name: (u.role, u.password_hash) for u in keyspace.users.values() if not u.deleted}

    users_a, users_b = users(a), users(b)
    return sorted(n for n in set(users_a) | set(users_b) if users_a.get(n) != users_b.get(n))
