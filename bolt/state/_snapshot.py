"""LMDB snapshots of the keyspace, written shard by shard.

Theory of operation
-------------------
The snapshot environment lives in ``DATA_DIR/snapshot`` with three named
databases:

* ``meta``: ``format`` (version), ``node_id``, ``shard_count``.
* ``shards``: shard index (u32 big-endian) → ``u32 crc32c | msgpack``
  ``{"covered": offset, "dots": dotset, "hlc": int, "users": [...], "keys": n}``
  (shard 0 also ``"tasks": [...]``, the task view: ``bolt.state._tasks``).
  ``covered`` is the log offset the shard's contents include: every event at
  or below it that touches the shard is in the snapshot.
* ``data:N``: one database per shard ``N``: u32 sequence number →
  ``u32 crc32c | u32 name length | UTF-8 name | encoded entry`` (LMDB keys
  are limited to 511 bytes; Bolt keys to 64 KiB, so names live in the value).
  A shard is replaced by emptying its database (one ``drop`` in C) and
  writing it with ``putmulti``, so the worker thread spends little time
  holding the GIL the event loop needs.

Each shard is replaced in **one** write transaction, begun and committed
inside one thread call (py-lmdb forbids a write transaction crossing
threads): a crash leaves every shard either old or new, each labelled with
its own ``covered`` offset, so recovery replays from the smallest one and
skips, per shard, what that shard already holds (a shard never written
counts as covering nothing). A change of layout (``shard_count``) is
written by :meth:`SnapshotStore.replace_all` in a single transaction.

``map_size`` is set explicitly and doubled when LMDB reports it full.

Checks
------
LMDB checks nothing of the data it returns, so every value carries a CRC32C
of the rest of it (each entry, each shard's metadata), and a shard must hold
as many entries as its metadata says. A mismatch raises
:class:`~bolt.errors.SnapshotCorruptionError` naming the file, the shard and
the key; so does any error LMDB itself reports while reading. Before the
file is mapped, its size is checked against the size its newest meta page
says it has: reading a page past the end of a truncated ``data.mdb`` through
the map would kill the process with SIGBUS.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lmdb
import msgpack
from crc32c import crc32c

from bolt import limits
from bolt.crdt import ORMap, ORSet, PNCounter, Sequence
from bolt.errors import FormatVersionError, SnapshotCorruptionError, StorageError
from bolt.state._entry import CRDT_COUNTER, HASH, LIST, SET, Entry

# 2: one LMDB database per shard (1 kept every shard in one "data" database),
# and list/set bodies with (member, tag) tombstones and their own reset floor.
# 3: a CRC32C in front of every entry and every shard's metadata.
SNAPSHOT_FORMAT = 3
_U32 = struct.Struct(">I")
# A hash body (HASH, an ORMap) is one more body kind: older snapshots simply
# hold none, so they read unchanged.
_BODY_CLASSES: dict[int, Any] = {
    LIST: Sequence,
    SET: ORSet,
    CRDT_COUNTER: PNCounter,
    HASH: ORMap,
}


def encode_entry(entry: Entry) -> bytes:
    """Serialize one entry (reset stamp, value, expiry and containers)."""
    bodies = {k: b.to_wire() for k, b in entry.bodies.items()} if entry.bodies else None
    return msgpack.packb(
        [entry.hlc, entry.origin, entry.kind, entry.value, entry.expires_at, bodies],
        use_bin_type=True,
    )


def decode_entry(data: bytes) -> Entry:
    """Rebuild an entry from :func:`encode_entry` bytes."""
    hlc, origin, kind, value, expires_at, bodies = msgpack.unpackb(
        data, raw=False, strict_map_key=False
    )
    entry = Entry()
    entry.hlc, entry.origin, entry.kind, entry.value, entry.expires_at = (
        hlc,
        origin,
        kind,
        value,
        expires_at,
    )
    if bodies:
        entry.bodies = {int(k): _BODY_CLASSES[int(k)].from_wire(b) for k, b in bodies.items()}
    return entry


@dataclass
class ShardSnapshot:
    """One shard as read back from LMDB."""

    index: int
    covered: int
    dots: list[Any]
    hlc: int
    users: list[Any]
    entries: list[tuple[str, bytes]] = field(default_factory=list)
    tasks: list[Any] = field(default_factory=list)  # kept with shard 0, as the users
    collected_hlc: int = 0  # the keyspace's collected_hlc when written (0: absent)


@dataclass
class LoadedSnapshot:
    """Everything a snapshot holds: its node id, shard count and shards."""

    node_id: str | None
    shard_count: int
    shards: dict[int, ShardSnapshot]


class SnapshotStore:
    """The LMDB environment holding the latest snapshot of every shard.

    Args:
        path: the directory of the LMDB environment (created if missing).
        readonly: open without writing (offline tools).
        register_reader: with ``readonly``, take a slot in LMDB's reader
            table (writes ``lock.mdb``): required while a daemon writes the
            environment, so its writer keeps the pages being read.
    """

    def __init__(
        self, path: Path, *, readonly: bool = False, register_reader: bool = False
    ) -> None:
        self.path = path
        if not readonly:
            path.mkdir(parents=True, exist_ok=True)
        elif not (path / "data.mdb").exists():
            raise StorageError(f"no snapshot in {path}")
        self._readonly = readonly
        # A read-only reader of a LIVE environment must register in lock.mdb,
        # or the daemon's writer recycles pages the reader is still walking.
        # Offline, the lock-less open changes no byte at all.
        self._lock = not readonly or register_reader
        self._data: dict[int, Any] = {}
        self.writes_total = 0
        self.bytes_total = 0
        self._open()

    def _open(self) -> None:
        """Open the environment and its two fixed databases (file size checked first)."""
        check_data_file(self.path / "data.mdb")
        try:
            self._env = lmdb.open(
                str(self.path),
                map_size=limits.lmdb_map_bytes_initial,
                max_dbs=limits.shard_count_max + 8,
                readonly=self._readonly,
                lock=self._lock,
                subdir=True,
                metasync=True,
                sync=True,
            )
            self._meta = self._env.open_db(b"meta", create=not self._readonly)
            self._shards = self._env.open_db(b"shards", create=not self._readonly)
        except (lmdb.CorruptedError, lmdb.InvalidError, lmdb.PageNotFoundError) as error:
            raise SnapshotCorruptionError(
                f"the snapshot {self.path / 'data.mdb'} is damaged: {error}",
                str(self.path / "data.mdb"),
            ) from error

    def close(self) -> None:
        """Close the environment."""
        self._env.close()

    def reopen(self) -> None:
        """Close and open the environment again (after a failed commit: LMDB may
        refuse every later transaction of an environment that saw one)."""
        self._env.close()
        self._data = {}
        self._open()

    def load(self) -> LoadedSnapshot | None:
        """Read every shard (None if no snapshot was ever written).

        Everything is read in ONE read transaction, so a shard's entries
        always match the covered offset read with them, even while a live
        daemon rewrites the snapshot.
        """
        for _ in range(5):
            with self._env.begin() as txn:
                if not self._check_format(txn):
                    return None
                indexes = [
                    _U32.unpack(k)[0]
                    for k in txn.cursor(db=self._shards).iternext(keys=True, values=False)
                ]
            for index in indexes:
                self._shard_db(index)  # named databases are opened outside the read
            try:
                loaded = self._load_once()
            except (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.BadValsizeError) as error:
                raise SnapshotCorruptionError(
                    f"the snapshot {self.path / 'data.mdb'} is damaged: {error}",
                    str(self.path / "data.mdb"),
                ) from error
            if not isinstance(loaded, bool):
                return loaded
        raise StorageError(f"the snapshot in {self.path} kept changing shape while being read")

    def _load_once(self) -> LoadedSnapshot | bool | None:
        """One consistent read; False if a shard appeared mid-way (try again)."""
        with self._env.begin() as txn:
            if not self._check_format(txn):
                return None
            node = txn.get(b"node_id", db=self._meta)
            count = int(txn.get(b"shard_count", db=self._meta) or b"0")
            shards: dict[int, ShardSnapshot] = {}
            for raw_index, raw_meta in txn.cursor(db=self._shards):
                index = _U32.unpack(raw_index)[0]
                meta = self._unpack_meta(raw_meta, index)
                data = self._data.get(index)
                if data is None:
                    return False  # a shard appeared since the databases were opened
                shard = shards[index] = ShardSnapshot(
                    index, meta["covered"], meta["dots"], meta["hlc"], meta["users"]
                )
                shard.tasks = meta.get("tasks", [])
                shard.collected_hlc = meta.get("gc", 0)
                shard.entries = [
                    self._split_item(value, index)
                    for value in txn.cursor(db=data).iternext(keys=False, values=True)
                ]
                if len(shard.entries) != meta["keys"]:
                    raise self._damaged(
                        index,
                        "",
                        f"holds {len(shard.entries)} entries but its metadata says {meta['keys']}",
                    )
        return LoadedSnapshot(node.decode() if node else None, count, shards)

    def _damaged(self, shard: int, key: str, what: str) -> SnapshotCorruptionError:
        path = self.path / "data.mdb"
        where = f"shard {shard}" + (f", key {key!r}" if key else "")
        return SnapshotCorruptionError(
            f"the snapshot {path} is damaged: {where} {what}", str(path), shard, key
        )

    def _unpack_meta(self, raw: bytes, index: int) -> dict[str, Any]:
        """A shard's metadata, its checksum checked."""
        if len(raw) < 4 or _U32.unpack_from(raw)[0] != crc32c(raw[4:]):
            raise self._damaged(index, "", "metadata fails its checksum")
        meta: dict[str, Any] = msgpack.unpackb(raw[4:], raw=False, strict_map_key=False)
        return meta

    def _split_item(self, value: bytes, index: int) -> tuple[str, bytes]:
        """``(name, encoded entry)`` of one stored item, its checksum checked."""
        if len(value) < 8 or _U32.unpack_from(value)[0] != crc32c(value[4:]):
            length = _U32.unpack_from(value, 4)[0] if len(value) >= 8 else 0
            name = value[8 : 8 + length].decode("utf-8", "replace")
            raise self._damaged(index, name, "fails its checksum")
        length = _U32.unpack_from(value, 4)[0]
        return value[8 : 8 + length].decode("utf-8", "surrogatepass"), value[8 + length :]

    def _check_format(self, txn: Any) -> bool:
        """False if no snapshot was ever written; raise if it is not this format."""
        fmt = txn.get(b"format", db=self._meta)
        if fmt is None:
            return False
        version = int(fmt)
        if version > SNAPSHOT_FORMAT:
            raise FormatVersionError(
                f"snapshot in {self.path} has format {version}; this Bolt reads {SNAPSHOT_FORMAT}"
            )
        if version < SNAPSHOT_FORMAT:
            # Read as this layout, an older snapshot would look like empty
            # shards that still claim their covered offsets: keys lost silently.
            raise FormatVersionError(
                f"snapshot in {self.path} has format {version}, written by an older Bolt; "
                f"this Bolt reads {SNAPSHOT_FORMAT}. Move the snapshot directory away to "
                "rebuild the state from the log (recovery refuses if the log no longer "
                "reaches back far enough)"
            )
        return True

    def _shard_db(self, index: int) -> Any:
        """The LMDB database holding shard ``index``'s entries."""
        db = self._data.get(index)
        if db is None:
            db = self._data[index] = self._env.open_db(
                b"data:%d" % index, create=not self._readonly
            )
        return db

    def covered(self) -> dict[int, int]:
        """Shard index → covered offset, for every shard written."""
        with self._env.begin() as txn:
            return {
                _U32.unpack(k)[0]: self._unpack_meta(v, _U32.unpack(k)[0])["covered"]
                for k, v in txn.cursor(db=self._shards)
            }

    def write_shard(
        self,
        node_id: str,
        shard_count: int,
        shard: ShardSnapshot,
        changed: bool = True,
    ) -> int:
        """Replace one shard's snapshot in one transaction; returns bytes written.

        With ``changed`` False only the shard's metadata (its covered offset)
        is rewritten: nothing in it changed since the last snapshot. The
        snapshot's layout must already be ``shard_count`` shards (see
        :meth:`replace_all` for a change of layout).
        """
        return self._write(node_id, shard_count, [(shard, changed)], retire=False)

    def replace_all(self, node_id: str, shard_count: int, shards: list[ShardSnapshot]) -> int:
        """Write every shard of a new layout and drop the shards beyond it, atomically.

        After a shard count change, shards of the old layout must never sit
        next to shards of the new one (recovery maps keys to shards by the
        count): one transaction replaces the whole snapshot, so a crash
        leaves either the old layout or the new one. Returns bytes written.
        """
        return self._write(node_id, shard_count, [(shard, True) for shard in shards], retire=True)

    def _write(
        self,
        node_id: str,
        shard_count: int,
        shards: list[tuple[ShardSnapshot, bool]],
        *,
        retire: bool,
    ) -> int:
        while True:
            try:
                written = self._write_once(node_id, shard_count, shards, retire)
            except lmdb.MapFullError:
                size = self._env.info()["map_size"] * 2
                if size > limits.lmdb_map_bytes_max:
                    raise
                self._env.set_mapsize(size)
                continue
            self.writes_total += len(shards)
            self.bytes_total += written
            return written

    def _write_once(
        self,
        node_id: str,
        shard_count: int,
        shards: list[tuple[ShardSnapshot, bool]],
        retire: bool,
    ) -> int:
        stale = [i for i in self.covered() if i >= shard_count] if retire else []
        # Named databases are opened before the write transaction begins.
        databases = {i: self._shard_db(i) for i in [s.index for s, _ in shards] + stale}
        written = 0
        with self._env.begin(write=True) as txn:
            txn.put(b"format", str(SNAPSHOT_FORMAT).encode(), db=self._meta)
            txn.put(b"node_id", node_id.encode(), db=self._meta)
            txn.put(b"shard_count", str(shard_count).encode(), db=self._meta)
            for shard, changed in shards:
                data = databases[shard.index]
                if changed:
                    txn.drop(data, delete=False)
                    items = [
                        (_U32.pack(i), _join_item(name, entry))
                        for i, (name, entry) in enumerate(shard.entries)
                    ]
                    txn.cursor(db=data).putmulti(items, dupdata=False, overwrite=True)
                    written += sum(len(v) + 4 for _, v in items)
                    keys = len(items)
                else:
                    keys = txn.stat(data)["entries"]  # unchanged: as many as stored
                meta = {
                    "covered": shard.covered,
                    "dots": shard.dots,
                    "hlc": shard.hlc,
                    "users": shard.users,
                    "keys": keys,
                }
                if shard.tasks:
                    meta["tasks"] = shard.tasks
                if shard.collected_hlc:
                    meta["gc"] = shard.collected_hlc
                packed = msgpack.packb(meta, use_bin_type=True)
                txn.put(_U32.pack(shard.index), _U32.pack(crc32c(packed)) + packed, db=self._shards)
            for index in stale:
                txn.drop(databases[index], delete=True)
                txn.delete(_U32.pack(index), db=self._shards)
        for index in stale:
            self._data.pop(index, None)
        return written

    def size_bytes(self) -> int:
        """Bytes of the LMDB data file."""
        try:
            return (self.path / "data.mdb").stat().st_size
        except OSError:
            return 0


def _join_item(name: str, entry: bytes) -> bytes:
    encoded = name.encode("utf-8", "surrogatepass")
    body = _U32.pack(len(encoded)) + encoded + entry
    return _U32.pack(crc32c(body)) + body


_META_PAGE = struct.Struct("<II")  # magic, version: after the 16-byte page header
_LMDB_MAGIC = 0xBEEFC0DE


def check_data_file(path: Path) -> None:
    """Refuse a ``data.mdb`` shorter than its newest meta page says it is.

    LMDB maps the file and reads pages through the map: a page past the end of
    a truncated file is a SIGBUS that kills the process, not an error. The two
    meta pages (pages 0 and 1) hold the page size, the last page used and a
    transaction id; the newer one (valid magic, higher id) must fit. A file
    that does not exist yet is fine (LMDB creates it).

    Raises:
        bolt.errors.SnapshotCorruptionError: the file is truncated or its meta
            pages are not LMDB's.
    """
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(0)
            head = file.read(2 * 65536)
    except FileNotFoundError:
        return
    if size == 0:
        return  # created, never written: LMDB initialises it
    newest: tuple[int, int, int] | None = None  # (txnid, last page, page size)
    page_size = struct.unpack_from("<I", head, 40)[0] if len(head) >= 44 else 0
    for base in (0, page_size):
        if not 4096 <= page_size <= 65536 or len(head) < base + 152:
            continue
        magic, _version = _META_PAGE.unpack_from(head, base + 16)
        if magic != _LMDB_MAGIC:
            continue
        last_page, txnid = struct.unpack_from("<QQ", head, base + 136)
        if newest is None or txnid > newest[0]:
            newest = (txnid, last_page, page_size)
    if newest is None:
        raise SnapshotCorruptionError(
            f"the snapshot {path} is damaged: no valid LMDB meta page ({size} bytes)", str(path)
        )
    needed = (newest[1] + 1) * newest[2]
    if size < needed:
        raise SnapshotCorruptionError(
            f"the snapshot {path} is truncated: {size} bytes, but its last transaction "
            f"uses {needed} bytes (pages 0 to {newest[1]} of {newest[2]} bytes)",
            str(path),
        )


def iter_shard_entries(snapshot: LoadedSnapshot) -> Iterator[tuple[int, str, Entry]]:
    """Every ``(shard index, name, entry)`` of a loaded snapshot, decoded."""
    for index, shard in snapshot.shards.items():
        for name, data in shard.entries:
            yield index, name, decode_entry(data)
