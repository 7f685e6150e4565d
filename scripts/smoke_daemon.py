#!/usr/bin/env python3
"""Start the installed ``bolt`` console script, run the README's Basic Usage, stop it.

Exits non-zero if the daemon does not start, an answer is wrong, or SIGTERM
does not stop it cleanly (exit 0). CI runs this right after installing, so the
README's first command is checked the way a newcomer runs it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

READY = re.compile(r"bolt ready: host=(\S+) port=(\d+) metrics_port=(\d+)")


def main() -> int:
    exe = shutil.which("bolt")
    if exe is None:
        print("smoke: the `bolt` console script is not on PATH", file=sys.stderr)
        return 1
    data_dir = tempfile.mkdtemp(prefix="bolt-smoke-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOLT_")}
    env.update(BOLT_ADMIN_PASSWORD="secret", BOLT_HOST="127.0.0.1", BOLT_DATA_DIR=data_dir)
    proc = subprocess.Popen(
        [exe, "--port", "0", "--metrics-port", "0"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        port = 0
        lines = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            match = READY.search(line)
            if match:
                port = int(match.group(2))
                break
        if not port:
            print("smoke: bolt did not print its ready line:\n" + "".join(lines), file=sys.stderr)
            return 1
        from bolt_client import BoltClient

        client = BoltClient(host="127.0.0.1", port=port, username="admin", password="secret")
        client.connect()
        client.put("key", "value")
        assert client.get("key") == "value"
        client.setex("session:token", "data", 300)
        assert 299 <= client.ttl("session:token") <= 300
        client.mset({"k1": "v1", "k2": "v2", "k3": "v3"})
        assert client.mget(["k1", "k2", "k3"]) == ["v1", "v2", "v3"]
        client.put("counter", "0")
        assert client.incr("counter") == 1
        assert client.incrby("counter", 10) == 11
        client.rpush("queue", "task1", "task2", "task3")
        assert client.lpop("queue") == "task1"
        assert client.lrange("queue", 0, -1) == ["task2", "task3"]
        client.sadd("tags", "python", "ai", "agents")
        assert sorted(client.smembers("tags")) == ["agents", "ai", "python"]
        assert client.cincr("distributed_counter") == 1
        client.close()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        if code != 0:
            print(f"smoke: bolt exited {code} after SIGTERM", file=sys.stderr)
            return 1
        print(f"smoke: bolt started on port {port}, served the README example, stopped cleanly")
        return 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
