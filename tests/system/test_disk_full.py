"""A full disk under the real daemon (a small tmpfs): refused, never visible, cleared by itself.

Needs root to mount the tmpfs (skipped otherwise would hide a failure, so the
test fails loudly instead when it cannot mount). The data directory lives on
a 4 MiB tmpfs; a filler file takes the rest of it. While it is full, writes
are answered ``DISK_ERROR``, a refused write is never readable, ``/ready``
says 503 and snapshot rounds fail without taking the daemon down. Once the
filler is removed the daemon takes writes again by itself, and a restart
shows exactly the acknowledged writes.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bolt.errors import DiskError

from .conftest import DaemonFactory


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the file system is full."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def ready_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/ready", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_a_full_disk_is_survived_and_cleared(
    bolt_daemon_factory: DaemonFactory, small_disk: Path
) -> None:
    data_dir = small_disk / "data"
    env = {"BOLT_SNAPSHOT_INTERVAL_EVENTS": "1", "BOLT_SNAPSHOT_INTERVAL_MS": "100"}
    daemon = bolt_daemon_factory(env=env, data_dir=data_dir)
    with daemon.client() as client:
        acked: dict[str, str] = {}
        for index in range(20):
            client.put(f"before:{index}", "v" * 100)
            acked[f"before:{index}"] = "v" * 100
        time.sleep(0.5)  # a snapshot round or more
        filler = fill(small_disk)
        refused: list[str] = []
        for index in range(2000):  # the last page of the segment may take a few more
            key = f"during:{index}"
            try:
                client.put(key, "w" * 1000)
            except DiskError:
                refused.append(key)
                break
            acked[key] = "w" * 1000
        assert refused, "the full disk never refused a write"
        for key in refused:
            try:
                assert client.get(key) is None  # never the refused value
            except DiskError:
                pass  # the views were being rebuilt
        assert ready_status(daemon.metrics_url) == 503
        time.sleep(1.5)  # snapshot rounds fail meanwhile; the daemon serves on
        assert daemon.process.poll() is None
        with pytest.raises(DiskError):
            client.put("still-full", "x")
        os.unlink(filler)
        deadline = time.monotonic() + 20
        while ready_status(daemon.metrics_url) != 200:
            assert time.monotonic() < deadline, "the daemon never took writes again"
            time.sleep(0.1)
        client.put("after", "1")
        acked["after"] = "1"
        for key in [*refused, "still-full"]:
            assert client.get(key) is None
        assert daemon.process.poll() is None
    assert daemon.terminate() == 0
    restarted = bolt_daemon_factory(env=env, data_dir=data_dir)
    with restarted.client() as client:
        for key, value in acked.items():
            assert client.get(key) == value, key
        for key in [*refused, "still-full"]:
            assert client.get(key) is None
