"""How a network address is written: ``host:port``, IPv6 hosts in brackets.

Every message, log line, status reply and screen that names an address
(the server's client list, the cluster's peers, the SDK's node list,
``boltctl``, the dashboard) writes it with :func:`format_address`, the
inverse of :func:`bolt.client.parse_node`, so ``[::1]:8518`` reads back as
``("::1", 8518)`` everywhere.
"""

from __future__ import annotations

from typing import Any


def format_address(host: Any, port: Any) -> str:
    """``host:port``; a host holding a colon (IPv6) is put in brackets: ``[::1]:8518``."""
    host = str(host)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
