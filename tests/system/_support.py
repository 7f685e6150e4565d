"""Helpers shared by the system tests."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from bolt import limits
from bolt.testing import BoltDaemon, clean_environment
from bolt.wire import Codec, Message, Response, encode_request


def run_bolt(
    tmp_path: Path, env: dict[str, str], args: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bolt`` to its exit (for configurations it must refuse).

    Ports 0 and a data directory under ``tmp_path`` are set as ``BOLT_*``
    variables, so ``env`` and ``args`` override them.
    """
    defaults = {"BOLT_PORT": "0", "BOLT_METRICS_PORT": "0", "BOLT_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "-m", "bolt", *(args or [])],
        env=clean_environment({**defaults, **env}),
        capture_output=True,
        check=False,
        text=True,
        timeout=30,
    )


class RawConnection:
    """A blocking wire-level connection that can send anything."""

    def __init__(self, daemon: BoltDaemon, hello: bool = True) -> None:
        self.sock = socket.create_connection((daemon.host, daemon.port), timeout=10)
        self.codec = Codec(limits.reply_bytes_max)
        self.next_id = 1
        if hello:
            reply = self.call("HELLO", [1, {"client_name": "raw"}])
            assert isinstance(reply, Response), reply

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self) -> Message | None:
        """The next message, or None at EOF (or a reset)."""
        while True:
            message = self.codec.next_message()
            if message is not None:
                return message
            try:
                data = self.sock.recv(1 << 20)
            except ConnectionResetError:
                return None
            if not data:
                return None
            self.codec.receive_data(data)

    def call(self, command: str, args: list[Any], db: str | None = None) -> Message | None:
        request_id = self.next_id
        self.next_id += 1
        self.send(encode_request(request_id, command, args, db))
        reply = self.read()
        assert reply is not None, f"connection closed instead of answering {command}"
        assert getattr(reply, "id", None) == request_id
        return reply

    def close(self) -> None:
        self.sock.close()
