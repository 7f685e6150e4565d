"""TLS for dialing peers: trust the cluster's own certificate.

With ``BOLT_TLS_CERT``/``BOLT_TLS_KEY`` set, the cluster port serves TLS with
the client port's context, and a dialing node verifies the peer's
certificate against ``BOLT_TLS_CERT`` (the cluster's certificate, or the CA
that signed every node's). Host names are not checked -- peers are often
addressed by IP -- because the peer is authenticated by the cluster-secret
challenge on top; TLS adds the encryption and rules out a stranger's
certificate.
"""

from __future__ import annotations

import ssl

from bolt.config import Config
from bolt.errors import ConfigError


def peer_client_ssl_context(config: Config) -> ssl.SSLContext | None:
    """The context for dialing peers, or None when TLS is not configured.

    Raises:
        ConfigError: ``BOLT_TLS_CERT`` cannot be loaded as a trust anchor.
    """
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    # The node's own (leaf) certificate may be the trust anchor, not only a CA.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    try:
        context.load_verify_locations(cafile=str(config.tls_cert))
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(
            f"invalid BOLT_TLS_CERT={str(config.tls_cert)!r}: cannot trust it for peers ({exc})"
        ) from exc
    return context
