"""The peer handshake's cryptography: HMAC challenge-response over two nonces.

Theory of operation
-------------------
The dialing node D sends its id, the id it expects to reach and a fresh
nonce ``nd``. The answering node A replies with its id, its own nonce
``na`` and ``proof(secret, "answer", nd, na, D, A)``; D checks it and replies
with ``proof(secret, "dial", nd, na, D, A)``; A checks that. Each proof
covers both nonces and both ids, so neither can be replayed on another
connection or reflected back (the role label differs), and the secret never
crosses the wire. Comparison is constant-time.

Pure: nonces arrive as arguments (the shell draws them from
``secrets.token_bytes``).
"""

from __future__ import annotations

import hashlib
import hmac

ROLE_DIAL = b"dial"
ROLE_ANSWER = b"answer"

_CONTEXT = b"bolt-peer-v1"


def _field(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def proof(
    secret: bytes, role: bytes, dial_nonce: bytes, answer_nonce: bytes, dialer: str, answerer: str
) -> bytes:
    """The HMAC-SHA256 a node sends to prove it knows ``secret``.

    Every field is length-prefixed, so no two different inputs give the same
    message.
    """
    message = b"".join(
        _field(part)
        for part in (
            _CONTEXT,
            role,
            dial_nonce,
            answer_nonce,
            dialer.encode(),
            answerer.encode(),
        )
    )
    return hmac.new(secret, message, hashlib.sha256).digest()


def check_proof(
    received: bytes,
    secret: bytes,
    role: bytes,
    dial_nonce: bytes,
    answer_nonce: bytes,
    dialer: str,
    answerer: str,
) -> bool:
    """Whether ``received`` is the right proof (constant-time comparison)."""
    expected = proof(secret, role, dial_nonce, answer_nonce, dialer, answerer)
    return hmac.compare_digest(received, expected)
