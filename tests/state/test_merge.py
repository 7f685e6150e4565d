"""Whole-state merge of keyspaces (``bolt.state._merge``): what a full sync does.

A random history of every write type runs on two or three simulated nodes;
each of three replicas applies a random subset of its events. Merging the
replicas' states must be commutative, associative and idempotent, and equal
to applying every event of both: the same entries (stamps, values, expiry,
live elements and tombstones), the same dots, users and memory accounting,
and the same answers to every read.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from bolt.crdt import DotSet
from bolt.events import Event, UserDeleted, UserPut
from bolt.state import (
    Keyspace,
    TaskRecord,
    apply,
    collect_tombstones,
    copy_entry,
    forget_unsent,
    merge_dots,
    merge_entries,
    merge_tasks,
    merge_users,
    task_from_wire,
)
from bolt.state._entry import CRDT_COUNTER, HASH, LIST, SET
from bolt.testing._clock import ManualClock
from tests.state._support import (
    HISTORY_DBS,
    HISTORY_KEYS,
    SimNode,
    assert_memory_exact,
    random_history,
    view,
)

NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
ALL_KEYS = [(db, key) for db in HISTORY_DBS for key in HISTORY_KEYS]


def _replica(events: list[Event]) -> Keyspace:
    keyspace = Keyspace(4)
    for event in events:
        apply(keyspace, event)
    return keyspace


def _merge(into: Keyspace, other: Keyspace) -> Keyspace:
    """Join ``other`` into ``into`` the way a full sync does (copies: ``other`` stays)."""
    items = [(n, copy_entry(e)) for s in other.shards for n, e in s.entries.items()]
    merge_entries(into, items)
    merge_users(into, list(other.users.values()))
    merge_tasks(into.tasks, [task_from_wire(row) for row in other.tasks.to_wire()])
    merge_dots(into, other.dots)
    return into


def _merged(*keyspaces: Keyspace) -> Keyspace:
    result = Keyspace(4)
    for keyspace in keyspaces:
        _merge(result, keyspace)
    return result


def _body_state(kind: int, body: Any) -> Any:
    if kind == LIST:
        return (list(body.items()), sorted(body.pending_removals))
    if kind == SET:
        return (sorted((m, body.tags(m)) for m in body.members), sorted(body.pending_removals))
    if kind == HASH:
        return (
            sorted((f, body.tags(f), body.get(f)) for f in body.fields),
            sorted(body.pending_removals),
        )
    assert kind == CRDT_COUNTER
    return (sorted((o, list(e)) for o, e in body.nodes.items()), sorted(body.base.items()))


def state(keyspace: Keyspace) -> Any:
    """Everything a keyspace holds, canonically (a body's floor is the entry's reset)."""
    entries = {}
    for shard in keyspace.shards:
        for name, e in shard.entries.items():
            bodies = sorted((k, _body_state(k, b)) for k, b in (e.bodies or {}).items())
            entries[name] = (e.hlc, e.origin, e.kind, e.value, e.expires_at, bodies)
    users = {n: (u.hlc, u.origin, u.role, u.deleted) for n, u in keyspace.users.items()}
    dots = (keyspace.dots.vector.to_dict(), keyspace.dots.exceptions())
    return entries, users, dots, keyspace.memory_used


def _with_users(rnd: random.Random, events: list[Event]) -> list[Event]:
    """Add user events of two origins (LWW by stamp), with their own dots."""
    extra: list[Event] = []
    for seq in range(1, rnd.randint(1, 5)):
        origin = rnd.choice(("u1", "u2"))
        hlc = rnd.randint(1, 50)
        if rnd.random() < 0.7:
            extra.append(UserPut(origin, seq, hlc, "", rnd.choice("xy"), "hash", "readwrite"))
        else:
            extra.append(UserDeleted(origin, seq, hlc, "", rnd.choice("xy")))
    # Distinct seqs per origin: number them after the draw.
    numbered: list[Event] = []
    for index, event in enumerate(extra, start=1):
        numbered.append(event._replace(seq=index, origin=f"u{index}"))
    return events + numbered


@settings(max_examples=60, deadline=None, phases=NO_SHRINK)
@given(st.integers(0, 2**32), st.integers(2, 3), st.integers(5, 60))
def test_merge_of_states_is_the_state_of_all_events(seed: int, node_count: int, steps: int) -> None:
    _nodes, events, clock = random_history(seed, node_count, steps)
    rnd = random.Random(seed ^ 0xF011)
    events = _with_users(rnd, events)
    picks = [[e for e in events if rnd.random() < 0.6] for _ in range(3)]
    a, b, c = (_replica(p) for p in picks)
    ab = _merged(a, b)
    assert state(ab) == state(_merged(b, a)), f"seed={seed}: not commutative"
    assert state(_merged(_merged(a, b), c)) == state(_merged(a, _merged(b, c))), (
        f"seed={seed}: not associative"
    )
    before = state(a)
    assert state(_merge(a, _replica(picks[0]))) == before, f"seed={seed}: not idempotent"
    union = [e for e in events if e in picks[0] or e in picks[1]]
    everything = _replica(union)
    assert state(ab) == state(everything), f"seed={seed}: merge differs from applying all"
    for now in (clock(), clock() + 120_000):
        assert view(ab, ALL_KEYS, now) == view(everything, ALL_KEYS, now), f"seed={seed}"
    assert_memory_exact(ab)


def test_merging_into_a_node_keeps_its_own_writes() -> None:
    clock = ManualClock(1_700_000_000_000)
    left, right = SimNode("left", clock), SimNode("right", clock)
    left.run("PUT", "shared", "old")
    right.deliver(left.run("SADD", "s", "a")[1])
    clock.advance(5)
    right.run("PUT", "shared", "new")
    right.run("RPUSH", "list", "r1", "r2")
    left.run("CINCRBY", "c", 5)
    right.run("CINCRBY", "c", 2)
    left.run("PUT", "only-left", "mine")
    _merge(left.keyspace, right.keyspace)
    now = clock()
    got = view(left.keyspace, [("", k) for k in ("shared", "list", "c", "only-left", "s")], now)
    assert got[("", "shared")][0] == "new"
    assert got[("", "list")][3] == ["r1", "r2"]
    assert got[("", "c")][5] == 7
    assert got[("", "only-left")][0] == "mine"
    assert got[("", "s")][4] == ["a"]
    assert left.keyspace.dots.vector.get("right") == right.seq


def test_a_delete_in_the_snapshot_prunes_older_elements_and_spares_newer() -> None:
    clock = ManualClock(1_700_000_000_000)
    left, right = SimNode("left", clock), SimNode("right", clock)
    pushed = left.run("RPUSH", "q", "old")[1]
    right.deliver(pushed)
    clock.advance(10)
    right.run("DEL", "q")
    clock.advance(10)
    left.run("RPUSH", "q", "new")  # after the delete: survives it
    _merge(left.keyspace, right.keyspace)
    assert view(left.keyspace, [("", "q")], clock())[("", "q")][3] == ["new"]


def _collected_replica(events: list[Event], stable: int) -> Keyspace:
    keyspace = _replica(events)
    collect_tombstones(keyspace, stable)
    return keyspace


def _assert_reads_as_union(
    merged: Keyspace, events: list[Event], held: list, sent: list, clock: Any, why: str
) -> None:
    """``merged`` reads, now and later, as applying every event of both sides."""
    union = _replica([e for e in events if e in held or e in sent])
    for now in (clock(), clock() + 120_000):
        assert view(merged, ALL_KEYS, now) == view(union, ALL_KEYS, now), why
    assert_memory_exact(merged)


@settings(max_examples=80, deadline=None, phases=NO_SHRINK)
@given(st.integers(0, 2**32), st.integers(2, 3), st.integers(5, 60))
def test_an_old_state_merged_after_collection_brings_nothing_back(
    seed: int, node_count: int, steps: int
) -> None:
    """The receiver holds every event at or below ``stable`` (and some later
    ones) and has collected its tombstones; the sender's state is any subset
    of the history. Merging with ``seen_hlc=stable`` reads as applying both."""
    _nodes, events, clock = random_history(seed, node_count, steps)
    rnd = random.Random(seed ^ 0x5EE)
    hlcs = sorted({e.hlc for e in events})
    stable = rnd.choice([0, *hlcs]) if hlcs else 0
    held = [e for e in events if e.hlc <= stable or rnd.random() < 0.5]
    sent = [e for e in events if rnd.random() < 0.6]
    receiver = _collected_replica(held, stable)
    sender = _replica(sent)
    items = [(n, copy_entry(e)) for s in sender.shards for n, e in s.entries.items()]
    merge_entries(receiver, items)  # the receiver's collected_hlc is the filter
    merge_dots(receiver, sender.dots)
    _assert_reads_as_union(receiver, events, held, sent, clock, f"seed={seed} stable={stable}")


@settings(max_examples=300, deadline=None, phases=NO_SHRINK)
@given(st.integers(0, 2**32), st.integers(2, 3), st.integers(5, 60))
def test_a_sender_that_collected_its_tombstones_still_removes_elements(
    seed: int, node_count: int, steps: int
) -> None:
    """Both sides hold every event at or below ``stable`` and have collected
    there: a removed element's tombstone goes once its *push* is stable, so
    the sender may lack both an element and its tombstone while the receiver
    still holds the element (it has not seen the removal). With the sender's
    ``their_seen_hlc`` the merge reads as applying both sides' events."""
    _nodes, events, clock = random_history(seed, node_count, steps)
    rnd = random.Random(seed ^ 0x7E11)
    hlcs = sorted({e.hlc for e in events})
    stable = rnd.choice([0, *hlcs]) if hlcs else 0
    held = [e for e in events if e.hlc <= stable or rnd.random() < 0.5]
    sent = [e for e in events if e.hlc <= stable or rnd.random() < 0.5]
    receiver = _collected_replica(held, stable)
    sender = _collected_replica(sent, stable)
    items = [(n, copy_entry(e)) for s in sender.shards for n, e in s.entries.items()]
    names = [n for s in receiver.shards for n in s.entries]
    merge_entries(receiver, items, their_seen_hlc=stable)
    forget_unsent(receiver, names, {n for n, _ in items}, stable)
    merge_dots(receiver, sender.dots)
    _assert_reads_as_union(receiver, events, held, sent, clock, f"seed={seed} stable={stable}")


def test_an_element_removed_on_the_sender_after_its_push_was_stable_stays_removed() -> None:
    clock = ManualClock(1_700_000_000_000)
    a, b = SimNode("a", clock), SimNode("b", clock)
    pushed = a.run("RPUSH", "q", "x", "y")[1] + a.run("SADD", "s", "m", "n")[1]
    pushed += a.run("HSET", "h", "f", "1", "g", "2")[1]
    b.deliver(pushed)
    stable = max(e.hlc for e in pushed)  # both hold every event up to here
    clock.advance(10)
    for write in (("LPOP", "q"), ("SREM", "s", "m"), ("HDEL", "h", "f")):
        b.run(*write)  # not delivered to a: not stable
    collect_tombstones(b.keyspace, stable)  # the removals' tombstones go: their pushes are stable
    keys = [("", k) for k in ("q", "s", "h")]
    expected = view(b.keyspace, keys, clock())

    def merged(their_seen_hlc: int) -> dict[Any, Any]:
        receiver = _replica(pushed)
        items = [(n, copy_entry(e)) for s in b.keyspace.shards for n, e in s.entries.items()]
        merge_entries(receiver, items, their_seen_hlc=their_seen_hlc)
        assert_memory_exact(receiver)
        return view(receiver, keys, clock())

    assert merged(their_seen_hlc=stable) == expected
    assert merged(their_seen_hlc=0) != expected  # the plain join keeps them


def test_forget_unsent_drops_old_elements_of_keys_the_sender_no_longer_has() -> None:
    clock = ManualClock(1_700_000_000_000)
    node = SimNode("a", clock)
    old = node.run("RPUSH", "gone", "x")[1]
    clock.advance(10)
    new = node.run("RPUSH", "kept", "y")[1] + node.run("RPUSH", "gone", "late")[1]
    receiver = _replica(old + new)
    names = [n for s in receiver.shards for n in s.entries]
    assert forget_unsent(receiver, names, {"kept"}, old[0].hlc) == 1
    got = view(receiver, [("", "gone"), ("", "kept")], clock())
    assert got[("", "gone")][3] == ["late"] and got[("", "kept")][3] == ["y"]
    assert_memory_exact(receiver)


def test_a_popped_element_stays_popped_when_its_tombstone_is_gone() -> None:
    clock = ManualClock(1_700_000_000_000)
    left = SimNode("left", clock)
    made: list[Event] = []
    for write in (("RPUSH", "q", "a", "b"), ("SADD", "s", "x", "y"), ("PUT", "gone", "v")):
        made += left.run(*write)[1]
    made += left.run("HSET", "h", "f", "1", "g", "2")[1]
    old = _replica(made)  # the sender's state, noted now
    clock.advance(10)
    for write in (("LPOP", "q"), ("SREM", "s", "x"), ("HDEL", "h", "f"), ("DEL", "gone")):
        made += left.run(*write)[1]
    stable = max(e.hlc for e in made)  # every node has every event
    keys = [("", k) for k in ("q", "s", "h", "gone")]
    expected = view(_replica(made), keys, clock())

    def merged(collected_hlc: int) -> dict[Any, Any]:
        receiver = _collected_replica(made, stable)
        assert receiver.collected_hlc == stable
        receiver.collected_hlc = collected_hlc
        items = [(n, copy_entry(e)) for s in old.shards for n, e in s.entries.items()]
        merge_entries(receiver, items)
        assert_memory_exact(receiver)
        return view(receiver, keys, clock())

    assert merged(collected_hlc=stable) == expected
    assert merged(collected_hlc=0) != expected  # the plain join resurrects: the filter matters


# --- tasks --------------------------------------------------------------------------------


def _task_history(rnd: random.Random) -> tuple[SimNode, list[list[list[Any]]]]:
    """One home node runs a random task life; the task view's rows after every step."""
    clock = ManualClock(1_700_000_000_000)
    home = SimNode("home", clock)
    home.run("TASK.CREATE", "t1", "work", b"\x90")
    home.run("TASK.CREATE", "t2", "work", b"\x90", {"max_attempts": 2})
    rows = [home.keyspace.tasks.to_wire()]
    for _ in range(rnd.randint(3, 30)):
        clock.advance(rnd.choice([1, 50, 40_000]))
        task_id = rnd.choice(["t1", "t2"])
        task = home.keyspace.tasks.get("", task_id)
        assert task is not None
        options: list[tuple[str, list[Any]]] = [
            ("TASK.CLAIMID", [task_id, "agent", 30_000]),
            ("TASK.RENEW", [task_id, task.attempt, 30_000]),
            ("TASK.COMPLETE", [task_id, task.attempt, b"\xc0"]),
            ("TASK.FAIL", [task_id, task.attempt, "boom", True]),
            ("TASK.EXPIRE", []),
            ("TASK.CANCEL", [task_id]),
            ("TASK.RETRY", [task_id]),
        ]
        command, args = rnd.choice(options)
        try:
            home.run(command, *args)
        except Exception:  # refused in this state: nothing changed
            continue
        rows.append(home.keyspace.tasks.to_wire())
    return home, rows


def _tasks_state(records: dict[Any, TaskRecord]) -> Any:
    return sorted((key, tuple(vars_of(t))) for key, t in records.items())


def vars_of(task: TaskRecord) -> list[Any]:
    return [getattr(task, name) for name in TaskRecord.__dataclass_fields__]


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32))
def test_task_copies_merge_to_the_one_furthest_along(seed: int) -> None:
    rnd = random.Random(seed)
    home, rows = _task_history(rnd)
    # Two replicas hold the home node's task rows as of two moments of its history.
    first, second = sorted(rnd.sample(range(len(rows)), 2) if len(rows) > 1 else [0, 0])
    for order in ((first, second), (second, first)):
        keyspace = Keyspace(4)
        for index in order:
            merge_tasks(keyspace.tasks, [task_from_wire(r) for r in rows[index]])
        merge_tasks(keyspace.tasks, [task_from_wire(r) for r in rows[order[0]]])  # again
        assert _tasks_state(keyspace.tasks.tasks) == _tasks_state(
            {key: task_from_wire(vars_of(t)) for key, t in _rows_view(rows[second]).items()}
        ), f"seed={seed}"
        pending = {k: list(v) for k, v in keyspace.tasks.pending.items()}
        assert pending == {k: list(v) for k, v in _rows_index(rows[second]).items()}
    assert rows[-1] == home.keyspace.tasks.to_wire()


def _rows_view(rows: list[list[Any]]) -> dict[Any, TaskRecord]:
    keyspace = Keyspace(1)
    keyspace.tasks.load_wire(rows)
    return keyspace.tasks.tasks


def _rows_index(rows: list[list[Any]]) -> dict[Any, Any]:
    keyspace = Keyspace(1)
    keyspace.tasks.load_wire(rows)
    return keyspace.tasks.pending


def test_merge_dots_is_a_union() -> None:
    keyspace = Keyspace(1)
    keyspace.dots = DotSet.from_wire([{"a": 3}, [["b", 2]]])
    merge_dots(keyspace, DotSet.from_wire([{"a": 1, "b": 1}, [["a", 5]]]))
    assert keyspace.dots.to_wire() == [{"a": 3, "b": 2}, [["a", 5]]]
