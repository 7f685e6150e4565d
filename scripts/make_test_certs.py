#!/usr/bin/env python3
"""Write a throw-away CA, a server certificate and its key into a directory (for tests).

Usage::

    python scripts/make_test_certs.py DIR [NAME ...]

writes ``DIR/ca.pem`` (the CA certificate clients trust), ``DIR/server.pem``
(the server certificate chain, for ``BOLT_TLS_CERT``) and ``DIR/server.key``
(its private key, for ``BOLT_TLS_KEY``). The certificate is valid for the
given host names/addresses (default: ``localhost 127.0.0.1 ::1``). It uses
``trustme``: the keys are generated fresh each run and are only good for
tests.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")


def make_test_certs(directory: Path, names: tuple[str, ...] = DEFAULT_NAMES) -> dict[str, Path]:
    """Create the CA, certificate and key in ``directory``; return their paths.

    Returns:
        ``{"ca": ..., "cert": ..., "key": ...}``.
    """
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA()
    issued = authority.issue_cert(*names)
    paths = {
        "ca": directory / "ca.pem",
        "cert": directory / "server.pem",
        "key": directory / "server.key",
    }
    authority.cert_pem.write_to_path(str(paths["ca"]))
    with paths["cert"].open("wb") as chain:
        for blob in issued.cert_chain_pems:
            chain.write(blob.bytes())
    issued.private_key_pem.write_to_path(str(paths["key"]))
    paths["key"].chmod(0o600)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``make_test_certs.py DIR [NAME ...]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("names", nargs="*", default=list(DEFAULT_NAMES))
    args = parser.parse_args(argv)
    paths = make_test_certs(args.directory, tuple(args.names))
    for role, path in paths.items():
        print(f"{role}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
