"""Re-measure the attack figures of issue 10 against a real daemon.

Usage: ``python scripts/attack_figures.py [--only NAME ...]``. Each attack
starts its own daemon (temporary data directory, free ports) and prints one
line:

* ``prefixes``: RSS before/after 6 unauthenticated connections each send a
  64 MiB length prefix and then 63 MiB of zeros.
* ``silent``: with ``BOLT_MAX_CONNECTIONS=100``, 100 silent TCP sockets are
  opened; how long until an admin client is served (or refused at 30 s).
* ``guesses``: with a password set, 50 parallel connections guess the admin
  password for 10 s; passwords checked per second (answers that refuse an
  attempt without checking it, "too many failed logins", are not guesses).
* ``pipeline``: a readonly client writes 1,500 pipelined ``GET big`` (1 MiB
  value) and never reads; RSS before and 5 s after.
"""

from __future__ import annotations

import argparse
import socket
import struct
import tempfile
import threading
import time
from pathlib import Path

from bolt.testing import BoltDaemon
from bolt.wire import PROTOCOL_VERSION, Codec, ErrorReply, encode_request

MIB = 1024 * 1024


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def attack_prefixes(root: Path) -> str:
    with BoltDaemon.start(root / "prefixes") as daemon:
        before = rss_mb(daemon.pid)
        peak = before
        socks = []
        zeros = bytes(MIB)
        for _ in range(6):
            sock = socket.create_connection((daemon.host, daemon.port), timeout=5)
            socks.append(sock)
            try:
                sock.sendall(struct.pack("<I", 64 * MIB))
                for _ in range(63):
                    sock.sendall(zeros)
            except OSError:
                pass  # the server closed it: that is the point
            peak = max(peak, rss_mb(daemon.pid))
        time.sleep(1)
        peak = max(peak, rss_mb(daemon.pid))
        for sock in socks:
            sock.close()
        return f"prefixes: RSS {before:.0f} MB -> peak {peak:.0f} MB"


def attack_silent(root: Path) -> str:
    env = {"BOLT_MAX_CONNECTIONS": "100"}
    with BoltDaemon.start(root / "silent", env=env) as daemon:
        socks = [socket.create_connection((daemon.host, daemon.port)) for _ in range(100)]
        time.sleep(0.5)
        started = time.monotonic()
        outcome = "refused for 30 s"
        while time.monotonic() - started < 30:
            try:
                with daemon.client(timeout=5) as client:
                    client.ping()
                outcome = f"admin served after {time.monotonic() - started:.1f} s"
                break
            except Exception:
                time.sleep(0.5)
        for sock in socks:
            sock.close()
        return f"silent: 100 silent sockets at BOLT_MAX_CONNECTIONS=100: {outcome}"


def _guesser(daemon: BoltDaemon, stop: float, counts: list[int]) -> None:
    sock = socket.create_connection((daemon.host, daemon.port), timeout=30)
    codec = Codec(MIB)
    request_id = 0
    try:
        while time.monotonic() < stop:
            request_id += 1
            options = {"user": "admin", "password": f"guess-{request_id}"}
            sock.sendall(encode_request(request_id, "HELLO", [PROTOCOL_VERSION, options], None))
            while (reply := codec.next_message()) is None:
                data = sock.recv(65536)
                if not data:
                    return
                codec.receive_data(data)
            refused_unchecked = isinstance(reply, ErrorReply) and "too many failed" in reply.message
            if time.monotonic() < stop and not refused_unchecked:
                counts.append(1)
    except OSError:
        return
    finally:
        sock.close()


def attack_guesses(root: Path) -> str:
    env = {"BOLT_ADMIN_PASSWORD": "the-real-one"}
    with BoltDaemon.start(root / "guesses", env=env) as daemon:
        counts: list[int] = []
        duration = 10.0
        stop = time.monotonic() + duration
        threads = [
            threading.Thread(target=_guesser, args=(daemon, stop, counts)) for _ in range(50)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(40)
        return f"guesses: 50 parallel connections: {len(counts) / duration:.1f} guesses/s"


def attack_pipeline(root: Path) -> str:
    env = {"BOLT_ADMIN_PASSWORD": "pw"}
    with BoltDaemon.start(root / "pipeline", env=env) as daemon:
        with daemon.client() as admin:
            admin.put("big", "x" * MIB)
            admin.useradd("reader", "rpw", "readonly")
        before = rss_mb(daemon.pid)
        sock = socket.create_connection((daemon.host, daemon.port), timeout=5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hello = [PROTOCOL_VERSION, {"user": "reader", "password": "rpw"}]
        payload = encode_request(1, "HELLO", hello, None) + b"".join(
            encode_request(i, "GET", ["big"], None) for i in range(2, 1502)
        )
        sock.sendall(payload)
        peak = before
        for _ in range(25):
            time.sleep(0.2)
            peak = max(peak, rss_mb(daemon.pid))
        sock.close()
        return (
            f"pipeline: {len(payload)} bytes of 1,500 GET big (1 MiB), never read: "
            f"RSS {before:.0f} MB -> peak {peak:.0f} MB"
        )


ATTACKS = {
    "prefixes": attack_prefixes,
    "silent": attack_silent,
    "guesses": attack_guesses,
    "pipeline": attack_pipeline,
}


def main() -> None:
    """Run the chosen attacks (default: all) and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(ATTACKS), default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        for name in args.only or list(ATTACKS):
            print(ATTACKS[name](Path(directory)), flush=True)


if __name__ == "__main__":
    main()
