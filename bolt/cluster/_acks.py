"""Acknowledged offsets per peer, kept in the data directory across restarts.

The file ``cluster/acked.json`` maps peer ids to the last offset of this
node's log each peer made durable. It is replaced atomically (write a
temporary file, fsync, rename, fsync the directory), so a crash leaves the
old map or the new one, never a torn one. Losing the newest few updates is
harmless: the sender then re-sends records the peer skips by dot. A file
that does not parse is reported and ignored (everything is re-sent).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from bolt.log import sync_directory, sync_file, write_fully

logger = logging.getLogger("bolt.cluster")

FILE_NAME = "acked.json"


class AckStore:
    """Reads and writes ``acked.json`` under ``directory`` (None: memory only)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def load(self) -> dict[str, int]:
        """The stored map (empty if there is none or it is unreadable)."""
        if self.directory is None:
            return {}
        path = self.directory / FILE_NAME
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            logger.warning("ignoring %s (%s): every peer is sent the whole log again", path, exc)
            return {}
        if not isinstance(data, dict):
            return {}
        return {
            str(peer): offset
            for peer, offset in data.items()
            if type(offset) is int and offset >= -1
        }

    def save(self, acked: dict[str, int]) -> None:
        """Replace the stored map atomically and durably (blocking: run in a thread)."""
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self.directory / (FILE_NAME + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_fully(fd, json.dumps(acked, sort_keys=True).encode())
            sync_file(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.directory / FILE_NAME)
        sync_directory(self.directory)
