"""Opening data directories: typed errors for bad input, newer formats, never a change."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import lmdb
import msgpack
import pytest
import trio

from bolt.errors import FormatVersionError
from bolt.events import KeyPut, encode_record
from bolt.log import Log, LogOptions
from bolt.replay import NotADataDirectoryError, dump, open_data_dir

from .conftest import run_cli, tree_fingerprint


def test_not_a_data_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "segments").mkdir()
    (tmp_path / "segments" / "00000000000000000000.seg").write_bytes(b"")
    cases = {
        tmp_path / "missing": "does not exist",
        tmp_path / "file": "is not a directory",
        tmp_path: "is not a Bolt data directory",
        tmp_path / "segments": "pass its parent",
    }
    for path, message in cases.items():
        with pytest.raises(NotADataDirectoryError, match=message):
            open_data_dir(path)
        for command in ("info", "verify", "dump", "state", "history"):
            args = [command, path] + (["k"] if command == "history" else [])
            result = run_cli(*args)
            assert result.code == 2, (command, path)
            assert message in result.err
    assert run_cli("state", tmp_path / "missing").out == ""


def _log_with_a_newer_record(directory: Path) -> None:
    directory.mkdir()
    (directory / "NODE_ID").write_text("n1\n")

    async def write() -> None:
        log = Log.open(LogOptions(directory=directory / "log", fsync="off"))
        log.append(encode_record([KeyPut("n1", 1, 1 << 16, "", "k", "v", 0)]))
        log.append(msgpack.packb([99, [[1, "n1", 2, 2 << 16, "", "k", "w", 0]]]))
        await log.close()

    trio.run(write)


def test_a_record_from_a_newer_format(tmp_path: Path) -> None:
    _log_with_a_newer_record(tmp_path / "d")
    result = run_cli("dump", tmp_path / "d", "--json")
    assert result.code == 2
    assert [e["seq"] for e in result.json_lines()] == [1]  # what precedes it is dumped
    assert "record at offset 1" in result.err and "format 99" in result.err
    with pytest.raises(FormatVersionError):
        list(dump(open_data_dir(tmp_path / "d")))
    assert run_cli("state", tmp_path / "d").code == 2
    verify = run_cli("verify", tmp_path / "d")
    assert verify.code == 1 and "does not decode" in verify.out


def test_a_segment_from_a_newer_format(fixtures: Any, tmp_path: Path) -> None:
    copy = tmp_path / "newer"
    shutil.copytree(fixtures.full, copy)
    first = sorted((copy / "log").glob("*.seg"))[0]
    data = bytearray(first.read_bytes())
    data[8:12] = (7).to_bytes(4, "little")
    first.write_bytes(bytes(data))
    for command in ("info", "verify", "dump", "state"):
        result = run_cli(command, copy)
        assert result.code == 2, command
        assert "version 7" in result.err or "format" in result.err


def test_a_snapshot_from_a_newer_format(fixtures: Any, tmp_path: Path) -> None:
    copy = tmp_path / "newer-snapshot"
    shutil.copytree(fixtures.snapshotted, copy)
    env = lmdb.open(str(copy / "snapshot"), max_dbs=4, map_size=1 << 30)
    with env.begin(write=True) as txn:
        txn.put(b"format", b"9", db=env.open_db(b"meta", txn=txn))
    env.close()
    result = run_cli("state", copy)
    assert result.code == 2 and "format 9" in result.err
    assert run_cli("verify", copy).code == 1


def test_no_subcommand_changes_anything(fixtures: Any) -> None:
    directories = [fixtures.full, fixtures.snapshotted, fixtures.torn, fixtures.corrupt]
    before = {d: tree_fingerprint(d) for d in directories}
    for directory in directories:
        for args in (
            ["info"],
            ["verify"],
            ["dump", "--json"],
            ["state"],
            ["state", "--use-snapshot"],
            ["history", "profile"],
        ):
            run_cli(args[0], directory, *args[1:])
        run_cli("diff", directory, fixtures.full)
    for directory in directories:
        assert tree_fingerprint(directory) == before[directory], directory
