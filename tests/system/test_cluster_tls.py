"""TLS on the cluster port: peers replicate over it; a plain-TCP dialer gets nothing."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from bolt.testing import LocalCluster

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_test_certs.py"


def test_peers_replicate_over_tls(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    subprocess.run([sys.executable, str(SCRIPT), str(certs)], check=True, capture_output=True)
    env = {"BOLT_TLS_CERT": str(certs / "server.pem"), "BOLT_TLS_KEY": str(certs / "server.key")}
    with LocalCluster(tmp_path / "nodes", 2, env=env, proxies=False) as cluster:
        options = {"tls": True, "tls_ca_file": str(certs / "ca.pem")}
        with cluster.node(0).client(**options) as a, cluster.node(1).client(**options) as b:
            a.put("k", "over tls")
            deadline = time.monotonic() + 15
            while b.get("k") != "over tls":
                assert time.monotonic() < deadline, cluster.node(1).stderr_text()
                time.sleep(0.05)
            assert "(TLS)" in cluster.node(0).wait_for_stderr("cluster port")
        # a plain-TCP peer hello is not even read as a peer message
        with socket.create_connection(("127.0.0.1", cluster.cluster_ports[0]), timeout=5) as raw:
            raw.sendall(b"\x05\x00\x00\x00hello")
            assert raw.recv(100)[:1] in (b"", b"\x15")  # closed, or a TLS alert
