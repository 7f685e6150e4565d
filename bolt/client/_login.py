"""The client's half of the challenge login (see :mod:`bolt.wire._login`).

A client with a user name and password greets with ``HELLO`` carrying a
fresh ``client_nonce`` instead of the password. A server that requires a
login answers with a ``challenge``; the client derives the scrypt key from
the password (slow: remembered per process, so reconnecting is cheap),
sends ``LOGIN [proof]`` and checks the server's own proof. Both the sync and
the async connection run these steps; only the I/O differs.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from typing import Any

from bolt.client._options import Settings
from bolt.errors import AuthenticationError, ProtocolError
from bolt.wire import login as proofs

_KEYS: OrderedDict[tuple[bytes, bytes, int, int, int, int], bytes] = OrderedDict()
_KEYS_MAX = 64
_SCRYPT_COST_MAX = 2**20  # n * r * p: refuse a server asking for absurd work


def hello(settings: Settings) -> tuple[list[Any], str | None]:
    """``HELLO``'s arguments, and the client nonce when a challenge login is asked for."""
    if settings.username is None or settings.password is None:
        return settings.hello_args(), None
    nonce = proofs.new_nonce()
    args = settings.hello_args()
    options = dict(args[1])
    del options["password"]
    options["client_nonce"] = nonce
    return [args[0], options], nonce


class Challenge:
    """A server's ``challenge`` map, checked."""

    def __init__(self, raw: Any) -> None:
        try:
            self.salt = bytes.fromhex(raw["salt"])
            self.n, self.r, self.p = int(raw["n"]), int(raw["r"]), int(raw["p"])
            self.length = int(raw["length"])
            self.nonce = str(raw["nonce"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"malformed login challenge from the server: {raw!r}") from exc
        cost = self.n * self.r * self.p
        if min(self.n, self.r, self.p) < 1 or cost > _SCRYPT_COST_MAX:
            raise ProtocolError(f"the server's login challenge asks for absurd work: {raw!r}")
        if not 16 <= self.length <= 64:
            raise ProtocolError(f"the server's login challenge has a bad key length: {raw!r}")

    def cache_key(self, password: str) -> tuple[bytes, bytes, int, int, int, int]:
        digest = hashlib.sha256(self.salt + password.encode("utf-8", "surrogatepass")).digest()
        return digest, self.salt, self.n, self.r, self.p, self.length


def known_key(challenge: Challenge, password: str) -> bytes | None:
    """The scrypt key for ``password`` if this process derived it before."""
    key = _KEYS.get(challenge.cache_key(password))
    if key is not None:
        _KEYS.move_to_end(challenge.cache_key(password))
    return key


def derive(challenge: Challenge, password: str) -> bytes:
    """Derive (and remember) the scrypt key: slow, run it off an event loop."""
    c = challenge
    key = proofs.derive_key(password, c.salt, c.n, c.r, c.p, c.length)
    _KEYS[challenge.cache_key(password)] = key
    while len(_KEYS) > _KEYS_MAX:
        _KEYS.popitem(last=False)
    return key


def login_args(settings: Settings, nonce: str, challenge: Challenge, key: bytes) -> list[Any]:
    """``LOGIN``'s arguments: the proof for this exchange."""
    assert settings.username is not None
    message = proofs.auth_message(settings.username, nonce, challenge.nonce)
    return [proofs.client_proof(key, message).hex()]


def finish(
    settings: Settings, nonce: str, challenge: Challenge, key: bytes, reply: Any
) -> dict[str, Any]:
    """Check ``LOGIN``'s reply; the ``user``/``role`` it names.

    Raises:
        AuthenticationError: the server's proof is wrong (it does not hold this
            user's key: not the server the client meant to log in to).
    """
    assert settings.username is not None
    if not isinstance(reply, dict) or not isinstance(reply.get("server_proof"), str):
        raise ProtocolError(f"malformed LOGIN reply: {reply!r}")
    message = proofs.auth_message(settings.username, nonce, challenge.nonce)
    wanted = proofs.server_proof(proofs.server_key(key), message).hex()
    if not hmac.compare_digest(reply["server_proof"], wanted):
        raise AuthenticationError(
            "the server could not prove it knows this user's password: refusing the connection"
        )
    return {"user": reply.get("user"), "role": reply.get("role")}
