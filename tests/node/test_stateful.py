"""Stateful test: a real persistent Engine against a plain-Python model.

Hypothesis drives an Engine (persist on, a temporary data directory, a
ManualClock) and a model made of dicts, lists, sets and ints with the same
commands, and checks that every reply agrees -- errors included (WRONGTYPE,
NOT_INTEGER, OVERFLOW). Rules also advance the clock (SETEX keys expire) and
close and reopen the engine through its real log and LMDB snapshot files:
cleanly (optionally after ``snapshot_now``), or from a crash image (the data
directory copied while the engine runs, so recovery replays the log after an
older snapshot). After every step the whole visible state and the exact
memory invariant are checked.

The engine is driven with the synchronous ``submit``; ``Engine.open`` and
``close`` run under ``trio.run`` (no flusher runs between steps, so
``close``/``flush`` do the writing).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import trio
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from bolt import limits
from bolt.errors import BoltError, IntegerOverflowError, NotIntegerError, WrongTypeError
from bolt.node import Engine
from bolt.testing._clock import ManualClock
from tests.node._support import START, config, crash_image
from tests.state._support import assert_memory_exact

DBS = ("", "db1")
KEYS = ("a", "b")
dbs = st.sampled_from(["", "", "db1"])
keys = st.sampled_from(KEYS)
values = st.sampled_from(
    ["x", "", "5", "-3", "abc", "a\nb", str(limits.int64_max), "99999999999999999999"]
)
elements = st.sampled_from(["p", "q", "", "r\ns"])
members = st.sampled_from(["m1", "m2", "m3"])
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)\Z")

TYPE_NAMES = {
    "string": "string",
    "counter": "counter",
    "list": "list",
    "set": "set",
    "crdt": "crdt_counter",
}


class Refused(Exception):
    """The model's way of saying: the engine must raise ``error``."""

    def __init__(self, error: type[BoltError]) -> None:
        super().__init__(error.__name__)
        self.error = error


class EngineVersusModel(RuleBasedStateMachine):
    """See the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="bolt-stateful-"))
        self.generation = 0
        self.clock = ManualClock(START)
        self.engine: Engine | None = None
        # (db, key) -> [type, value, expires_at_ms]
        self.model: dict[tuple[str, str], list[Any]] = {}

    # --- plumbing ------------------------------------------------------------

    def _config_for(self, directory: Path, fsync: str) -> Any:
        return config(directory, self.clock, fsync=fsync, shard_count=3)

    @initialize(fsync=st.sampled_from(["always", "off"]))
    def open_engine(self, fsync: str) -> None:
        self.fsync = fsync
        self.data_dir = self.tmp / "d0"
        self.engine = trio.run(Engine.open, self._config_for(self.data_dir, fsync))

    def teardown(self) -> None:
        try:
            if self.engine is not None:
                trio.run(self.engine.close)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _live(self, db: str, key: str) -> list[Any] | None:
        entry = self.model.get((db, key))
        if entry is not None and entry[2] and entry[2] <= self.clock():
            del self.model[(db, key)]
            return None
        return entry

    def check(self, command: str, args: list[Any], db: str, expected: Any) -> Any:
        """Run ``command`` on the engine; compare with the model's answer."""
        assert self.engine is not None
        if isinstance(expected, Refused):
            try:
                self.engine.submit(command, args, db)
            except BoltError as exc:
                assert type(exc) is expected.error, (command, args, exc)
                return None
            raise AssertionError(f"{command} {args} should raise {expected.error.__name__}")
        reply = self.engine.submit(command, args, db)[0]
        if command in ("SMEMBERS", "KEYS"):
            reply = sorted(reply)
        assert reply == expected, (command, args, db, reply, expected)
        return reply

    def _model_call(self, function: Any, *args: Any) -> Any:
        try:
            return function(*args)
        except Refused as refused:
            return refused

    # --- strings -------------------------------------------------------------

    @rule(db=dbs, key=keys, value=values, ttl=st.sampled_from([0, 0, 1, 2, 4]))
    def put(self, db: str, key: str, value: str, ttl: int) -> None:
        """PUT (ttl 0) or SETEX."""
        self.model[(db, key)] = ["string", value, self.clock() + ttl * 1000 if ttl else 0]
        if ttl:
            self.check("SETEX", [key, value, ttl], db, None)
        else:
            self.check("PUT", [key, value], db, None)

    def _get(self, db: str, key: str) -> Any:
        entry = self._live(db, key)
        if entry is None:
            return None
        if entry[0] == "string":
            return entry[1]
        if entry[0] == "counter":
            return str(entry[1])
        raise Refused(WrongTypeError)

    @rule(db=dbs, key=keys)
    def delete(self, db: str, key: str) -> None:
        entry = self._live(db, key)
        if entry is None:
            expected: Any = None
        elif entry[0] in ("string", "counter"):
            expected = str(entry[1]) if entry[0] == "counter" else entry[1]
        else:
            expected = True
        self.model.pop((db, key), None)
        self.check("DEL", [key], db, expected)

    @rule(db=dbs, pairs=st.lists(st.tuples(keys, values), min_size=1, max_size=3))
    def mset(self, db: str, pairs: list[tuple[str, str]]) -> None:
        for key, value in pairs:
            self.model[(db, key)] = ["string", value, 0]
        self.check("MSET", [x for pair in pairs for x in pair], db, len(pairs))

    @rule(db=dbs, chosen=st.lists(keys, max_size=4))
    def mget(self, db: str, chosen: list[str]) -> None:
        expected = []
        for key in chosen:
            entry = self._live(db, key)
            ok = entry is not None and entry[0] in ("string", "counter")
            expected.append(
                (str(entry[1]) if entry[0] == "counter" else entry[1]) if ok and entry else None
            )
        self.check("MGET", chosen, db, expected)

    @rule(db=dbs, chosen=st.lists(keys, min_size=1, max_size=4))
    def mdel(self, db: str, chosen: list[str]) -> None:
        count = 0
        for key in dict.fromkeys(chosen):
            if self._live(db, key) is not None:
                count += 1
                del self.model[(db, key)]
        self.check("MDEL", chosen, db, count)

    # --- counters --------------------------------------------------------------

    def _incr(self, db: str, key: str, delta: int) -> int:
        entry = self._live(db, key)
        current, expires = 0, 0
        if entry is not None:
            if entry[0] == "counter":
                current = entry[1]
            elif entry[0] == "string":
                text = entry[1]
                if (
                    not _INTEGER.match(text)
                    or not limits.int64_min <= int(text) <= limits.int64_max
                ):
                    raise Refused(NotIntegerError)
                current = int(text)
            else:
                raise Refused(WrongTypeError)
            expires = entry[2]
        result = current + delta
        if not limits.int64_min <= result <= limits.int64_max:
            raise Refused(IntegerOverflowError)
        self.model[(db, key)] = ["counter", result, expires]
        return result

    @rule(db=dbs, key=keys, delta=st.sampled_from([None, -3, 0, 2, 5]))
    def incr(self, db: str, key: str, delta: int | None) -> None:
        """INCR (delta None) or INCRBY."""
        if delta is None:
            self.check("INCR", [key], db, self._model_call(self._incr, db, key, 1))
        else:
            expected = self._model_call(self._incr, db, key, delta)
            self.check("INCRBY", [key, delta], db, expected)

    def _cincr(self, db: str, key: str, delta: int) -> int:
        entry = self._live(db, key)
        if entry is not None and entry[0] != "crdt":
            raise Refused(WrongTypeError)
        value = (entry[1] if entry else 0) + delta
        self.model[(db, key)] = ["crdt", value, 0]
        return value

    @rule(db=dbs, key=keys, command=st.sampled_from(["CINCR", "CDECR"]))
    def cincr(self, db: str, key: str, command: str) -> None:
        delta = 1 if command == "CINCR" else -1
        self.check(command, [key], db, self._model_call(self._cincr, db, key, delta))

    # --- lists -------------------------------------------------------------------

    def _list(self, db: str, key: str, create: bool = False) -> list[Any] | None:
        entry = self._live(db, key)
        if entry is None:
            if not create:
                return None
            entry = self.model[(db, key)] = ["list", [], 0]
        if entry[0] != "list":
            raise Refused(WrongTypeError)
        return entry[1]

    def _push(self, db: str, key: str, items: list[str], left: bool) -> int:
        current = self._list(db, key, create=True)
        assert current is not None
        for item in items:
            if left:
                current.insert(0, item)
            else:
                current.append(item)
        return len(current)

    @rule(db=dbs, key=keys, items=st.lists(elements, min_size=1, max_size=3), left=st.booleans())
    def push(self, db: str, key: str, items: list[str], left: bool) -> None:
        command = "LPUSH" if left else "RPUSH"
        self.check(command, [key, *items], db, self._model_call(self._push, db, key, items, left))

    def _pop(self, db: str, key: str, left: bool) -> Any:
        current = self._list(db, key)
        if not current:
            return None
        item = current.pop(0) if left else current.pop()
        if not current:
            del self.model[(db, key)]
        return item

    @rule(db=dbs, key=keys, left=st.booleans())
    def pop(self, db: str, key: str, left: bool) -> None:
        command = "LPOP" if left else "RPOP"
        self.check(command, [key], db, self._model_call(self._pop, db, key, left))

    def _lrange(self, db: str, key: str, start: int, stop: int) -> list[Any]:
        current = self._list(db, key) or []
        length = len(current)
        s = max(length + start, 0) if start < 0 else start
        e = length + stop if stop < 0 else stop
        return current[s : e + 1] if e >= 0 else []

    @rule(db=dbs, key=keys, start=st.integers(-4, 4), stop=st.integers(-4, 4))
    def lrange(self, db: str, key: str, start: int, stop: int) -> None:
        expected = self._model_call(self._lrange, db, key, start, stop)
        self.check("LRANGE", [key, start, stop], db, expected)

    # --- sets ----------------------------------------------------------------------

    def _set(self, db: str, key: str, create: bool = False) -> set[Any] | None:
        entry = self._live(db, key)
        if entry is None:
            if not create:
                return None
            entry = self.model[(db, key)] = ["set", set(), 0]
        if entry[0] != "set":
            raise Refused(WrongTypeError)
        return entry[1]

    def _sadd(self, db: str, key: str, items: list[str]) -> int:
        current = self._set(db, key, create=True)
        assert current is not None
        new = set(items) - current
        current |= new
        if not current:
            del self.model[(db, key)]
        return len(new)

    @rule(db=dbs, key=keys, items=st.lists(members, min_size=1, max_size=3))
    def sadd(self, db: str, key: str, items: list[str]) -> None:
        self.check("SADD", [key, *items], db, self._model_call(self._sadd, db, key, items))

    def _srem(self, db: str, key: str, items: list[str]) -> int:
        current = self._set(db, key)
        if current is None:
            return 0
        gone = current & set(items)
        current -= gone
        if not current:
            del self.model[(db, key)]
        return len(gone)

    @rule(db=dbs, key=keys, items=st.lists(members, min_size=1, max_size=3))
    def srem(self, db: str, key: str, items: list[str]) -> None:
        self.check("SREM", [key, *items], db, self._model_call(self._srem, db, key, items))

    # --- time and restarts ------------------------------------------------------------

    @rule(ms=st.sampled_from([1, 500, 1_000, 2_500]))
    def advance_clock(self, ms: int) -> None:
        self.clock.advance(ms)

    @rule(snapshot_first=st.booleans())
    def reopen(self, snapshot_first: bool) -> None:
        assert self.engine is not None
        if snapshot_first:
            trio.run(self.engine.snapshot_now)
        trio.run(self.engine.close)
        self.engine = None
        self.engine = trio.run(Engine.open, self._config_for(self.data_dir, self.fsync))

    @rule()
    @precondition(lambda self: self.engine is not None)
    def recover_from_a_crash_image(self) -> None:
        # What a crash leaves when every write was fsynced: the newest snapshot
        # (possibly old) and the whole log. Recovery must give the same state.
        assert self.engine is not None
        assert self.engine._log is not None
        trio.run(self.engine._log.flush)
        self.generation += 1
        image = crash_image(self.data_dir, self.tmp / f"d{self.generation}")
        trio.run(self.engine.close)
        self.engine = None
        self.data_dir = image
        self.engine = trio.run(Engine.open, self._config_for(image, self.fsync))

    @rule(db=dbs)
    def snapshot_now(self, db: str) -> None:
        assert self.engine is not None
        trio.run(self.engine.snapshot_now)

    # --- the whole state ------------------------------------------------------------------

    @invariant()
    def everything_agrees(self) -> None:
        if self.engine is None:
            return
        for db in DBS:
            for key in KEYS:
                entry = self._live(db, key)
                kind = None if entry is None else TYPE_NAMES[entry[0]]
                self.check("TYPE", [key], db, kind)
                self.check("EXISTS", [key], db, entry is not None)
                if entry is None:
                    ttl = None
                elif entry[2]:
                    ttl = -(-(entry[2] - self.clock()) // 1000)
                else:
                    ttl = -1
                self.check("TTL", [key], db, ttl)
                self.check("GET", [key], db, self._model_call(self._get, db, key))
                if kind == "list":
                    self.check("LRANGE", [key, 0, -1], db, list(entry[1]))  # type: ignore[index]
                if kind == "set":
                    self.check("SMEMBERS", [key], db, sorted(entry[1]))  # type: ignore[index]
                if kind == "crdt_counter":
                    self.check("CGET", [key], db, entry[1])  # type: ignore[index]
            expected_keys = sorted(k for k in KEYS if self._live(db, k) is not None)
            self.check("KEYS", [], db, expected_keys)
        assert_memory_exact(self.engine.keyspace)


EngineVersusModel.TestCase.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None
)
TestEngineVersusModel = EngineVersusModel.TestCase
