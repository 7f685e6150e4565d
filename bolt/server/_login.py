"""Logging a session in: by password, or by challenge without sending one.

Theory of operation
-------------------
Both ways share :func:`log_in_by`: the per-address back-off slot is taken
*before* anything is checked, a failure is counted against the address, and
a success resets it (see :class:`bolt.server._auth.LoginBackoff`).

The challenge (the proofs are in :mod:`bolt.wire._login`): ``HELLO`` with
``user`` and ``client_nonce`` and no ``password`` makes the server answer
with a ``challenge`` map (salt, scrypt parameters, server nonce) and keep
what it needs to check the proof on the session. ``LOGIN [proof]`` then
logs in or fails; each challenge allows one ``LOGIN``. The server runs no
scrypt for this login at all (the client does), so it cannot be made to
burn CPU by it. For a user that does not exist the challenge carries a salt
made up from the name and a server secret, so the reply looks the same.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

import trio

from bolt.errors import BadRequestError
from bolt.server._auth import (
    LEVEL_NONE,
    LEVELS,
    SCRYPT_HASH_BYTES,
    SCRYPT_N,
    SCRYPT_P,
    SCRYPT_R,
    SCRYPT_SALT_BYTES,
    auth_failed,
    parse_hash,
)
from bolt.server._session import Session
from bolt.wire import login as proofs

if TYPE_CHECKING:
    from bolt.server._server import Server

_FAKE_SALT_SECRET = os.urandom(32)  # per process: salts made up for unknown users
_NONCE_HEX_MIN = 2 * proofs.NONCE_BYTES
_NONCE_HEX_MAX = 4 * proofs.NONCE_BYTES


class PendingLogin(NamedTuple):
    """What a challenged session needs to check its proof."""

    user: str
    message: bytes
    stored: bytes | None  # None: no such user (no proof matches)
    server_key: bytes
    password_hash: str | None  # the hash challenged (a change meanwhile fails the login)


Result = tuple[Any, int]


async def log_in_by(
    server: Server, session: Session, check: Callable[[], Awaitable[str | None]]
) -> None:
    """Log ``session`` in as the user ``check`` names, or back off and raise.

    ``check`` runs once the address's back-off slot has come and returns the
    user name, or None for wrong credentials.
    """
    wait = server.backoff.admit(session.host)
    if wait is None:
        raise auth_failed(
            f"too many failed logins from {session.host}: wait a few seconds and try again"
        )
    try:
        if wait:
            await trio.sleep(wait)
        user = await check()
        record = server.engine.user(user) if user is not None else None
        if user is None or record is None:
            refuse(server, session)
    finally:
        server.backoff.finished(session.host)
    server.backoff.succeeded(session.host)
    session.log_in(user, LEVELS.get(record.role, LEVEL_NONE))


def refuse(server: Server, session: Session) -> NoReturn:
    """Count a failed login against the session's address and raise."""
    server.backoff.failed(session.host)
    raise auth_failed()


def begin_challenge(server: Server, session: Session, user: Any, client_nonce: Any) -> dict:
    """The ``challenge`` map of a ``HELLO`` reply; remember it on the session."""
    if type(user) is not str or not user:
        raise BadRequestError("a challenge login needs a user name")
    if type(client_nonce) is not str or not _NONCE_HEX_MIN <= len(client_nonce) <= _NONCE_HEX_MAX:
        raise BadRequestError(
            f"HELLO client_nonce must be {_NONCE_HEX_MIN} to {_NONCE_HEX_MAX} hex digits"
        )
    record = server.engine.user(user)
    parsed = parse_hash(record.password_hash) if record is not None else None
    nonce = proofs.new_nonce()
    message = proofs.auth_message(user, client_nonce, nonce)
    if parsed is None:
        made_up = hmac.new(_FAKE_SALT_SECRET, user.encode("utf-8", "surrogatepass"), "sha256")
        salt, n, r, p = made_up.digest()[:SCRYPT_SALT_BYTES], SCRYPT_N, SCRYPT_R, SCRYPT_P
        length, stored, signing = SCRYPT_HASH_BYTES, None, os.urandom(32)
    else:
        salt, n, r, p, key = parsed
        length, stored, signing = len(key), proofs.stored_key(key), proofs.server_key(key)
    session.pending_login = PendingLogin(
        user, message, stored, signing, record.password_hash if record else None
    )
    return {"salt": salt.hex(), "n": n, "r": r, "p": p, "length": length, "nonce": nonce}


async def cmd_login(server: Server, session: Session, args: list[Any]) -> Result:
    """``LOGIN [proof_hex]`` → ``{"user", "role", "server_proof"}`` (after a challenge)."""
    if len(args) != 1 or type(args[0]) is not str:
        raise BadRequestError("'LOGIN' takes 1 argument: the proof, as hex")
    pending, session.pending_login = session.pending_login, None
    if pending is None:
        raise BadRequestError(
            "LOGIN without a challenge: send HELLO with user and client_nonce first"
        )
    try:
        proof = bytes.fromhex(args[0])
    except ValueError:
        proof = b""

    async def check() -> str | None:
        record = server.engine.user(pending.user)
        if (
            pending.stored is None
            or record is None
            or record.password_hash != pending.password_hash
            or not proofs.check_client_proof(pending.stored, pending.message, proof)
        ):
            return None
        return pending.user

    await log_in_by(server, session, check)
    answer = proofs.server_proof(pending.server_key, pending.message).hex()
    return {"user": session.user, "role": session.role, "server_proof": answer}, -1


LOGIN_COMMANDS: dict[str, tuple[Callable[..., Any], bool, int]] = {
    "LOGIN": (cmd_login, True, LEVEL_NONE),
}
"""``name -> (handler, is_async, required_level)``, merged into the server's table."""
