#!/usr/bin/env python3
"""Generate the committed test data in ``fixtures/`` (idempotent: run it again, nothing changes).

Every data directory is written by a real :class:`bolt.node.Engine` driven by
a manual clock with a fixed node id, so the logs are the same bytes on every
run. Into ``fixtures/`` (or ``OUT_DIR``) it writes:

* ``data/clean/`` -- node ``fixture``: a few kinds of writes over several
  small segments, no snapshot. ``replay verify`` passes.
* ``data/torn-tail/`` -- ``clean`` with half a record at the end of the last
  segment (an interrupted write: the daemon truncates it and starts).
* ``data/bad-crc-tail/`` -- ``clean`` with one payload byte of the **last,
  complete** record flipped (acknowledged data damaged: refused at start).
* ``data/damaged-middle/`` -- ``clean`` with one byte flipped in a record of
  a middle segment (valid records follow: refused at start).
* ``data/snapshotted/`` -- the same writes, a snapshot, then more writes.
* ``data/snapshot-damaged/`` -- ``snapshotted`` with a value patched inside
  ``snapshot/data.mdb`` (its checksum no longer matches).
* ``tls/`` -- ``ca.pem``, ``server.pem``, ``server.key`` from
  ``scripts/make_test_certs.py`` for ``localhost``. Keys cannot be made
  deterministically, so they are only written when missing (``--new-certs``
  replaces them).
* ``facts.json`` -- positions and offsets of the damage, for the tests.

The damage is made by the functions ``scripts/make_replay_fixtures.py`` uses
(``_tear``, ``_corrupt``). LMDB does not write byte-identical files for the
same transactions, so an existing ``data.mdb`` is kept when it holds the same
snapshot as the one just made (compared entry by entry, or -- for the
damaged one -- when it fails its check the same way); everything else must
match byte for byte. ``tests/replay/test_verify_fixtures.py`` checks that the
committed fixtures are what this script makes.

Usage::

    python scripts/make_fixtures.py [OUT_DIR] [--new-certs]
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import trio

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS.parent))
sys.path.insert(0, str(SCRIPTS))

from make_replay_fixtures import _corrupt, _tear  # noqa: E402
from make_test_certs import make_test_certs  # noqa: E402

from bolt.errors import SnapshotCorruptionError  # noqa: E402
from bolt.log import SEGMENT_HEADER_BYTES, scan_records  # noqa: E402
from bolt.node import EngineConfig, open_engine  # noqa: E402
from bolt.state._snapshot import SnapshotStore  # noqa: E402
from bolt.testing._clock import ManualClock  # noqa: E402

REPO = SCRIPTS.parent
DEFAULT_OUT = REPO / "fixtures"
START_MS = 1_714_572_000_000
NODE_ID = "fixture"
SEGMENT_BYTES = 1024
SNAPSHOT_VALUE = "value-in-the-snapshot"
_TRANSIENT = ("LOCK", "lock.mdb")


def _config(path: Path, clock: ManualClock) -> EngineConfig:
    return EngineConfig(
        data_dir=path,
        node_id=NODE_ID,
        fsync="off",
        shard_count=4,
        segment_bytes_max=SEGMENT_BYTES,
        snapshot_interval_events=10**12,
        snapshot_interval_ms=10**9,
        now_ms=clock,
    )


async def _writes(path: Path, *, snapshot: bool) -> None:
    clock = ManualClock(START_MS)
    async with open_engine(_config(path, clock)) as engine:

        async def run(command: str, *args: Any) -> None:
            clock.advance(10)
            await engine.execute(command, list(args))

        await run("PUT", "greeting", "hello")
        await run("PUT", "snapshotted", SNAPSHOT_VALUE)
        await run("INCRBY", "hits", 5)
        await run("RPUSH", "queue", "a", "b", "c")
        await run("SADD", "tags", "red", "blue")
        await run("CINCRBY", "likes", 3)
        for index in range(40):
            await run("PUT", f"bulk:{index:02d}", f"payload-{index:02d}-" + "x" * 20)
        await run("DEL", "bulk:07")
        if snapshot:
            await engine.snapshot_now()
            await run("PUT", "greeting", "after the snapshot")
            await run("INCR", "hits")
            await engine.snapshot_now()
        await engine.close(final_snapshot=False)


def _tidy(path: Path) -> None:
    for name in _TRANSIENT:
        for found in path.rglob(name):
            found.unlink()


def _flip_last(clean: Path, target: Path) -> dict[str, Any]:
    """Copy ``clean`` and flip one payload byte of the last, complete record."""
    shutil.copytree(clean, target)
    last = sorted((target / "log").glob("*.seg"))[-1]
    data = bytearray(last.read_bytes())
    records, _end = scan_records(data, SEGMENT_HEADER_BYTES)
    position = records[-1][0]
    data[position + 8 + 2] ^= 0x20
    last.write_bytes(bytes(data))
    offset = int(last.name.split(".")[0]) + len(records) - 1
    return {"segment": last.name, "position": position, "offset": offset}


def _patch_snapshot(snapshotted: Path, target: Path) -> dict[str, Any]:
    shutil.copytree(snapshotted, target)
    path = target / "snapshot" / "data.mdb"
    # Every copy: LMDB may also hold the value in a page it no longer uses.
    data = path.read_bytes().replace(
        SNAPSHOT_VALUE.encode(), b"VALUE" + SNAPSHOT_VALUE[5:].encode()
    )
    path.write_bytes(data)
    return {"key": "snapshotted"}


def generate_data(root: Path) -> dict[str, Any]:
    """Write every data directory under ``root/data`` and return the facts."""
    data = root / "data"
    data.mkdir(parents=True)
    trio.run(lambda: _writes(data / "clean", snapshot=False))
    trio.run(lambda: _writes(data / "snapshotted", snapshot=True))
    _tidy(data)
    return {
        "node_id": NODE_ID,
        "torn-tail": _tear(data / "clean", data / "torn-tail"),
        "bad-crc-tail": _flip_last(data / "clean", data / "bad-crc-tail"),
        "damaged-middle": _corrupt(data / "clean", data / "damaged-middle"),
        "snapshot-damaged": _patch_snapshot(data / "snapshotted", data / "snapshot-damaged"),
    }


def snapshot_content(snapshot_dir: Path) -> Any:
    """What a snapshot holds, comparable across runs (or the text of its check error)."""
    try:
        store = SnapshotStore(snapshot_dir, readonly=True)
    except SnapshotCorruptionError as error:
        return f"error: {error}".replace(str(snapshot_dir), "<snapshot>")
    try:
        loaded = store.load()
    except SnapshotCorruptionError as error:
        return f"error: {error}".replace(str(snapshot_dir), "<snapshot>")
    finally:
        store.close()
    if loaded is None:
        return None
    shards = {
        index: [shard.covered, shard.dots, shard.hlc, shard.users, shard.entries]
        for index, shard in sorted(loaded.shards.items())
    }
    return [loaded.node_id, loaded.shard_count, shards]


def same_file(made: Path, kept: Path) -> bool:
    """True if ``kept`` is what ``made`` is (``data.mdb``: the same snapshot)."""
    if not kept.exists():
        return False
    if made.name == "data.mdb":
        return snapshot_content(made.parent) == snapshot_content(kept.parent)
    return filecmp.cmp(made, kept, shallow=False)


def differences(made: Path, kept: Path) -> list[str]:
    """Files of ``made`` missing or different in ``kept``, and extra files in ``kept``."""
    made_files = {p.relative_to(made) for p in made.rglob("*") if p.is_file()}
    kept_files = {p.relative_to(kept) for p in kept.rglob("*") if p.is_file()}
    found = [f"extra: {name}" for name in sorted(kept_files - made_files)]
    for name in sorted(made_files):
        if not same_file(made / name, kept / name):
            found.append(f"differs: {name}")
    return found


def generate(out: Path, *, new_certs: bool = False) -> list[str]:
    """Bring ``out`` up to date; returns the files that were written or removed."""
    changed: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        made = Path(scratch)
        facts = generate_data(made)
        (made / "facts.json").write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")
        out.mkdir(parents=True, exist_ok=True)
        for change in differences(made, out):
            kind, name = change.split(": ", 1)
            if kind == "extra" and not name.startswith("tls/"):
                (out / name).unlink()
            elif kind == "differs":
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(made / name, out / name)
            else:
                continue
            changed.append(change)
    tls = out / "tls"
    if new_certs or not all((tls / n).exists() for n in ("ca.pem", "server.pem", "server.key")):
        make_test_certs(tls, ("localhost", "127.0.0.1", "::1"))
        changed.append("written: tls/")
    return changed


def main() -> None:
    """Command line: bring ``fixtures/`` (or OUT_DIR) up to date."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path, nargs="?", default=DEFAULT_OUT)
    parser.add_argument("--new-certs", action="store_true", help="replace the TLS files too")
    args = parser.parse_args()
    changed = generate(args.out_dir, new_certs=args.new_certs)
    for line in changed:
        print(line)
    print(f"{args.out_dir}: {'up to date' if not changed else f'{len(changed)} changes'}")


if __name__ == "__main__":
    main()
