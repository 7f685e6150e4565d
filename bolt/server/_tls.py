"""TLS for the client port: build the server's ``ssl.SSLContext`` from the config.

Theory of operation
-------------------
TLS is on when ``BOLT_TLS_CERT`` and ``BOLT_TLS_KEY`` are both set; setting
only one is a configuration error (a half-configured TLS server must not
quietly serve plain TCP). Both files are read at startup, so a missing,
unreadable or mismatched file stops the daemon with a message naming the
variable, instead of failing on the first client. The context requires
TLS 1.2 or later; the connection loop wraps each accepted stream in a
``trio.SSLStream`` and completes the handshake under a timeout.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from bolt.config import Config
from bolt.errors import ConfigError

HANDSHAKE_TIMEOUT_SECONDS = 10.0
"""A client that has not finished the TLS handshake by then is dropped."""


def _check_file(variable: str, path: Path) -> None:
    if not path.is_file():
        raise ConfigError(f"invalid {variable}={str(path)!r}: no such file")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"invalid {variable}={str(path)!r}: the file is not readable")


def server_ssl_context(config: Config) -> ssl.SSLContext | None:
    """The TLS context of the client port, or None when TLS is not configured.

    Raises:
        ConfigError: only one of ``BOLT_TLS_CERT``/``BOLT_TLS_KEY`` is set, a
            file is missing or unreadable, or they do not form a valid pair.
    """
    cert, key = config.tls_cert, config.tls_key
    if cert is None and key is None:
        return None
    if cert is None:
        raise ConfigError("BOLT_TLS_KEY is set but BOLT_TLS_CERT is not: set both to enable TLS")
    if key is None:
        raise ConfigError("BOLT_TLS_CERT is set but BOLT_TLS_KEY is not: set both to enable TLS")
    _check_file("BOLT_TLS_CERT", cert)
    _check_file("BOLT_TLS_KEY", key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(
            f"invalid BOLT_TLS_CERT={str(cert)!r} / BOLT_TLS_KEY={str(key)!r}: "
            f"cannot load the certificate and key ({exc})"
        ) from exc
    return context
