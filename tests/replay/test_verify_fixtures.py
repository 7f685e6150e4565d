"""The committed ``fixtures/`` are what ``scripts/make_fixtures.py`` makes, and mean what
they say: to the log, to the engine's recovery and to ``replay verify``."""

from __future__ import annotations

import json
import shutil
import ssl
from pathlib import Path
from typing import Any

import pytest
import trio

from bolt.errors import CorruptionError, SnapshotCorruptionError
from bolt.log import Log, LogOptions
from bolt.node import Engine, EngineConfig, open_engine

from .conftest import REPO, _load_script, run_cli

FIXTURES = REPO / "fixtures"
make_fixtures = _load_script("make_fixtures")


@pytest.fixture(scope="module")
def facts() -> dict[str, Any]:
    return json.loads((FIXTURES / "facts.json").read_text())


def copy(name: str, tmp_path: Path) -> Path:
    """A copy of one fixture data directory (opening one may repair it)."""
    target = tmp_path / name
    shutil.copytree(FIXTURES / "data" / name, target)
    return target


def test_the_committed_fixtures_are_what_the_script_makes(tmp_path: Path) -> None:
    made = tmp_path / "made"
    made.mkdir()
    facts = make_fixtures.generate_data(made)
    (made / "facts.json").write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")
    assert make_fixtures.differences(made, FIXTURES) == ["extra: " + n for n in _tls_files()]
    # And the script leaves an up-to-date directory alone.
    out = tmp_path / "out"
    shutil.copytree(FIXTURES, out)
    assert make_fixtures.generate(out) == []


def _tls_files() -> list[str]:
    return sorted(f"tls/{p.name}" for p in (FIXTURES / "tls").iterdir())


def test_the_tls_files_are_a_ca_and_a_server_certificate_it_signed() -> None:
    tls = FIXTURES / "tls"
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tls / "server.pem", tls / "server.key")  # key matches cert
    client = ssl.create_default_context(cafile=str(tls / "ca.pem"))
    assert client.cert_store_stats()["x509_ca"] == 1


def test_a_torn_tail_is_cut_and_the_log_opens(tmp_path: Path, facts: dict[str, Any]) -> None:
    directory = copy("torn-tail", tmp_path)
    assert run_cli("verify", directory).code == 1
    assert run_cli("verify", directory, "--allow-torn-tail").code == 0
    log = Log.open(LogOptions(directory=directory / "log"))
    torn = log.recovery.torn_tail
    trio.run(log.close)
    assert torn is not None and torn.position == facts["torn-tail"]["position"]


@pytest.mark.parametrize("name", ["bad-crc-tail", "damaged-middle"])
def test_damage_to_whole_records_is_refused_and_named(
    tmp_path: Path, facts: dict[str, Any], name: str
) -> None:
    directory = copy(name, tmp_path)
    where = facts[name]
    with pytest.raises(CorruptionError) as caught:  # recovery reads every record
        trio.run(Engine.open, EngineConfig(data_dir=directory, shard_count=4))
    assert caught.value.path.endswith(where["segment"])
    assert caught.value.position == where["position"]
    result = run_cli("verify", directory, "--json")
    assert result.code == 1
    first = result.json()["problems"][0]
    assert where["segment"] in first and f"at byte {where['position']}" in first


def test_the_bad_crc_tail_is_not_called_a_torn_tail(tmp_path: Path) -> None:
    result = run_cli("verify", copy("bad-crc-tail", tmp_path), "--allow-torn-tail")
    assert result.code == 1
    assert "complete but fails its checksum" in result.out


def test_the_clean_and_snapshotted_fixtures_verify_and_open(tmp_path: Path) -> None:
    for name in ("clean", "snapshotted"):
        directory = copy(name, tmp_path)
        assert run_cli("verify", directory).code == 0, name

    async def read() -> Any:
        config = EngineConfig(data_dir=tmp_path / "snapshotted", shard_count=4)
        async with open_engine(config) as engine:
            return await engine.execute("GET", ["greeting"])

    assert trio.run(read) == "after the snapshot"


def test_the_damaged_snapshot_is_named_by_verify_and_stops_recovery(
    tmp_path: Path, facts: dict[str, Any]
) -> None:
    directory = copy("snapshot-damaged", tmp_path)
    result = run_cli("verify", directory, "--json")
    assert result.code == 1
    problems = " ".join(result.json()["problems"])
    assert f"key {facts['snapshot-damaged']['key']!r}" in problems and "shard" in problems
    # Its log was trimmed by the snapshot: nothing can rebuild the damaged shard.
    with pytest.raises(SnapshotCorruptionError, match="refusing to start"):
        trio.run(Engine.open, EngineConfig(data_dir=directory, shard_count=4))
