"""Acknowledged offsets survive restarts; a damaged file is ignored."""

from __future__ import annotations

from pathlib import Path

from bolt.cluster._acks import FILE_NAME, AckStore


def test_save_and_load(tmp_path: Path) -> None:
    store = AckStore(tmp_path / "cluster")
    assert store.load() == {}
    store.save({"n2": 41, "n3": -1})
    assert AckStore(tmp_path / "cluster").load() == {"n2": 41, "n3": -1}
    assert not (tmp_path / "cluster" / (FILE_NAME + ".tmp")).exists()


def test_a_damaged_file_means_resend_everything(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text("{not json")
    assert AckStore(tmp_path).load() == {}
    (tmp_path / FILE_NAME).write_text('{"n2": "x", "n3": 7}')
    assert AckStore(tmp_path).load() == {"n3": 7}
    assert AckStore(None).load() == {}
