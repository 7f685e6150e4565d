"""SIGKILL the real daemon under write load: every acknowledged write survives.

README (Durability): a crash of the *process* loses nothing acknowledged in
any fsync mode. With ``BOLT_WAL_FSYNC=always`` a reply is sent only after
its record is fsynced; with ``batch`` only after it was written to the OS,
whose page cache outlives the process; the test runs in both. Several
client threads write (PUT, INCR, RPUSH, SADD, CINCR and MSET of several
keys) into their own keys and record each write as *attempted* before
sending it and *acknowledged* when its reply arrives. The daemon is killed
with SIGKILL at a random moment, restarted on the same data directory, and
the state is checked against the records: for each key the last
acknowledged write or the one in flight when the daemon died (each thread
has at most one), counters at least the acknowledged count, and no MSET
half-applied.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bolt.client import BoltClient
from bolt.errors import BoltError
from bolt.testing import BoltDaemon

THREADS = 4
MSET_KEYS = 4
PUT_KEYS = 5


@dataclass
class Ledger:
    """What one writer thread attempted and what was acknowledged."""

    name: str
    puts: dict[str, int] = field(default_factory=dict)  # key -> last acked value
    put_inflight: tuple[str, int] | None = None
    incr_acked: int = 0
    cincr_acked: int = 0
    pushed: list[str] = field(default_factory=list)
    added: set[str] = field(default_factory=set)
    mset_acked: int = -1
    inflight: str | None = None  # operation that was sent and not answered
    acked_total: int = 0
    error: BaseException | None = None


def writer(port: int, ledger: Ledger, stop: threading.Event) -> None:
    client = BoltClient(port=port, timeout=10, auto_reconnect=False)
    name = ledger.name
    step = 0
    try:
        client.connect()
        while not stop.is_set():
            step += 1
            kind = step % 6
            ledger.inflight = ("put", "incr", "rpush", "sadd", "cincr", "mset")[kind]
            if kind == 0:
                key = f"{name}:put:{step % PUT_KEYS}"
                ledger.put_inflight = (key, step)
                client.put(key, str(step))
                ledger.puts[key] = step
            elif kind == 1:
                client.incr(f"{name}:incr")
                ledger.incr_acked += 1
            elif kind == 2:
                client.rpush(f"{name}:list", str(step))
                ledger.pushed.append(str(step))
            elif kind == 3:
                client.sadd(f"{name}:set", str(step))
                ledger.added.add(str(step))
            elif kind == 4:
                client.cincr(f"{name}:cincr")
                ledger.cincr_acked += 1
            else:
                client.mset({f"{name}:mset:{i}": str(step) for i in range(MSET_KEYS)})
                ledger.mset_acked = step
            ledger.inflight = None
            ledger.acked_total += 1
    except (BoltError, OSError):
        pass  # the daemon died under us: the write in flight has an unknown outcome
    except BaseException as exc:  # a test bug must not pass silently
        ledger.error = exc
    finally:
        client.close()


def check(client: BoltClient, ledger: Ledger) -> None:
    name = ledger.name
    inflight = ledger.inflight
    for key, acked in ledger.puts.items():
        stored = int(client.get(key))
        allowed = {acked}
        if inflight == "put" and ledger.put_inflight and ledger.put_inflight[0] == key:
            allowed.add(ledger.put_inflight[1])
        assert stored in allowed, (key, stored, allowed)
    counter = int(client.get(f"{name}:incr") or 0)
    assert ledger.incr_acked <= counter <= ledger.incr_acked + (inflight == "incr")
    crdt = client.cget(f"{name}:cincr")
    assert ledger.cincr_acked <= crdt <= ledger.cincr_acked + (inflight == "cincr")
    items = client.lrange(f"{name}:list")
    assert items[: len(ledger.pushed)] == ledger.pushed
    assert len(items) <= len(ledger.pushed) + (inflight == "rpush")
    members = set(client.smembers(f"{name}:set"))
    assert ledger.added <= members
    assert len(members) <= len(ledger.added) + (inflight == "sadd")
    values = client.mget([f"{name}:mset:{i}" for i in range(MSET_KEYS)])
    if ledger.mset_acked >= 0 or inflight == "mset":
        assert len(set(values)) == 1, f"MSET half-applied: {values}"
        if ledger.mset_acked >= 0:
            assert values[0] is not None and int(values[0]) >= ledger.mset_acked
    else:
        assert values == [None] * MSET_KEYS


@pytest.mark.parametrize("fsync", ["always", "batch"])
def test_sigkill_under_write_load_loses_no_acknowledged_write(tmp_path: Path, fsync: str) -> None:
    data_dir = tmp_path / "data"
    env = {"BOLT_WAL_FSYNC": fsync}
    ledgers = [Ledger(f"w{index}") for index in range(THREADS)]
    stop = threading.Event()
    with BoltDaemon.start(data_dir, env=env) as daemon:
        threads = [
            threading.Thread(target=writer, args=(daemon.port, ledger, stop), daemon=True)
            for ledger in ledgers
        ]
        for thread in threads:
            thread.start()
        time.sleep(random.uniform(0.5, 1.5))
        daemon.kill()  # SIGKILL: no flush, no snapshot, no goodbye
        stop.set()
        for thread in threads:
            thread.join(15)
            assert not thread.is_alive()
    for ledger in ledgers:
        assert ledger.error is None, ledger.error
    acknowledged = sum(ledger.acked_total for ledger in ledgers)
    assert acknowledged >= 20, "too little load to test anything"
    print(f"{acknowledged} acknowledged writes before SIGKILL ({fsync})")

    with BoltDaemon.start(data_dir, env=env) as restarted, restarted.client() as client:
        for ledger in ledgers:
            check(client, ledger)
        stats = client.stats()
        assert stats["keys"] >= THREADS
        assert restarted.node_id == daemon.node_id
