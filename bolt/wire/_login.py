"""Challenge-response login: the proofs both sides compute (pure, no I/O).

Theory of operation
-------------------
The server stores, per user, ``scrypt(password, salt)`` (``dk``; see
``bolt.server._auth``). Logging in by challenge (after SCRAM, RFC 5802, with
scrypt as the key function) never sends the password, nor anything a
listener could replay:

1. The client sends ``HELLO`` with its user name and a fresh random
   ``client_nonce`` (and no password).
2. The server answers with the user's ``salt`` and scrypt parameters and a
   fresh ``server_nonce`` (for a user that does not exist it makes up a
   salt from the name, so the answer does not tell whether the user exists).
3. Both sides hold ``client_key = HMAC(dk, "Bolt client key")``: the client
   derives ``dk`` from the password (slow: scrypt, once per process and
   password), the server reads it from the stored hash. The client sends
   ``proof = client_key XOR HMAC(SHA256(client_key), auth_message)``, where
   ``auth_message`` binds the user and both nonces.
4. The server recovers ``client_key`` from the proof and checks that its
   SHA-256 is the stored key. It answers with ``HMAC(server_key,
   auth_message)``, ``server_key = HMAC(dk, "Bolt server key")``, which the
   client checks: the server, too, has shown that it knows ``dk``.

A captured exchange is useless on another connection (the server nonce is
new each time); guessing the password from it costs one scrypt run per
guess, like guessing it from the stored hash. The stored ``dk`` is still
password-equivalent for this login, as it was for the plain one: protect
the data directory.
"""

from __future__ import annotations

import hashlib
import hmac
import os

NONCE_BYTES = 16
"""Random bytes in each side's nonce."""

_CLIENT_KEY_LABEL = b"Bolt client key"
_SERVER_KEY_LABEL = b"Bolt server key"
_DIGEST = hashlib.sha256


def new_nonce() -> str:
    """A fresh random nonce, as hex."""
    return os.urandom(NONCE_BYTES).hex()


def derive_key(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    """``scrypt(password, salt)``: the key the server stores (slow on purpose)."""
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=length,
        maxmem=128 * n * r * p + 2 * 1024 * 1024,
    )


def client_key(key: bytes) -> bytes:
    """The secret only someone who knows ``key`` can compute."""
    return hmac.new(key, _CLIENT_KEY_LABEL, _DIGEST).digest()


def stored_key(key: bytes) -> bytes:
    """What the proof is checked against: ``SHA256(client_key(key))``."""
    return _DIGEST(client_key(key)).digest()


def server_key(key: bytes) -> bytes:
    """The key the server signs its answer with."""
    return hmac.new(key, _SERVER_KEY_LABEL, _DIGEST).digest()


def auth_message(user: str, client_nonce: str, server_nonce: str) -> bytes:
    """The bytes both proofs sign: the user and both nonces."""
    return f"{user}\0{client_nonce}\0{server_nonce}".encode("utf-8", "surrogatepass")


def client_proof(key: bytes, message: bytes) -> bytes:
    """The client's proof for ``message``, given the scrypt ``key``."""
    secret = client_key(key)
    signature = hmac.new(_DIGEST(secret).digest(), message, _DIGEST).digest()
    return bytes(a ^ b for a, b in zip(secret, signature, strict=True))


def check_client_proof(stored: bytes, message: bytes, proof: bytes) -> bool:
    """Whether ``proof`` was made by someone who knows the key behind ``stored``."""
    signature = hmac.new(stored, message, _DIGEST).digest()
    if len(proof) != len(signature):
        return False
    recovered = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
    return hmac.compare_digest(_DIGEST(recovered).digest(), stored)


def server_proof(key_of_server: bytes, message: bytes) -> bytes:
    """The server's answer for ``message`` (from :func:`server_key`)."""
    return hmac.new(key_of_server, message, _DIGEST).digest()
