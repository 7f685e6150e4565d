"""Authentication and authorisation: modes, roles, scrypt hashes, back-off.

Theory of operation
-------------------
**Modes** (DESIGN §8), decided once at startup by :func:`resolve_security`:

* ``required`` -- ``BOLT_ADMIN_PASSWORD`` is set (or ``BOLT_AUTH=true`` with
  users already stored): every session must log in (``HELLO`` with
  credentials, or ``AUTH``); default host ``0.0.0.0``.
* ``protected`` -- no password and ``BOLT_AUTH`` not false: no login, but
  the server listens on loopback only and refuses to start on any other
  address.
* ``disabled`` -- ``BOLT_AUTH=false``: no login anywhere.

Without auth every session is ``admin``; credentials sent in ``HELLO`` are
accepted and ignored, so code written for an authenticated server runs
unchanged against a plain ``bolt``.

**Roles** map to integer levels (``readonly`` 1 < ``readwrite`` 2 <
``admin`` 3; a session that has not logged in is 0). Every command carries
the level it needs, so the hot path's permission check is one integer
comparison.

**Hashes** are ``scrypt$n$r$p$salt_hex$hash_hex`` (``hashlib.scrypt``),
computed and verified in worker threads through a small capacity limiter:
scrypt is slow and memory-hard on purpose and must never run on the event
loop, nor many at once. Successful verifications are remembered (keyed by
the stored hash and a salted SHA-256 of the password) so a reconnecting
client does not pay the KDF again; failures are never cached.

**Back-off** is per client address, not per connection: after
``limits.auth_failures_before_backoff`` failures from one address, each
further login attempt from it waits for a slot *before* its password is
checked. Slots are spaced by a delay that doubles with every failure, up to
``limits.auth_backoff_ms_max``, and shared by every connection of the
address, so 50 parallel connections get no more guesses than one (a correct
guess is not answered faster either). An attempt whose slot would be more
than ``limits.auth_backoff_queue_ms_max`` away is refused at once without a
check. Only the waiting connection sleeps (``trio.sleep``); a success from the
address resets it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import trio

from bolt import limits
from bolt.config import Config
from bolt.errors import AuthenticationError, BadRequestError, ConfigError, TooLargeError

logger = logging.getLogger("bolt.server.auth")

MODE_REQUIRED = "required"
MODE_PROTECTED = "protected"
MODE_DISABLED = "disabled"

ROLES = ("readonly", "readwrite", "admin")
LEVEL_NONE = 0
LEVELS = {"readonly": 1, "readwrite": 2, "admin": 3}
LEVEL_ADMIN = LEVELS["admin"]
ROLE_OF_LEVEL = {level: role for role, level in LEVELS.items()}

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_SALT_BYTES = 16
SCRYPT_HASH_BYTES = 32
_SCRYPT_MEMORY_MAX = 64 * limits.MIB  # refuses stored parameters that would need more

USER_NAME_BYTES_MAX = 256
"""Longest user name (UTF-8 bytes)."""
PASSWORD_BYTES_MAX = 1024
"""Longest password (UTF-8 bytes)."""
_VERIFIED_CACHE_MAX = 1024  # remembered successful (hash, password) checks
_BACKOFF_INITIAL_MS = 100  # first delay once the failure threshold is passed
_BACKOFF_ADDRESSES_MAX = 10_000  # client addresses remembered by the back-off

# --- modes and hosts -----------------------------------------------------------


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``localhost`` counts)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_security(config: Config) -> tuple[str, str]:
    """Decide the auth mode and the listen host from the configuration.

    Returns:
        ``(mode, host)``.

    Raises:
        ConfigError: protected mode (no ``BOLT_ADMIN_PASSWORD``, ``BOLT_AUTH``
            not false) with a non-loopback ``BOLT_HOST``.
    """
    if config.auth is False:
        return MODE_DISABLED, config.host or "127.0.0.1"
    if config.admin_password or config.auth is True:
        return MODE_REQUIRED, config.host or "0.0.0.0"
    host = config.host or "127.0.0.1"
    if not is_loopback(host):
        raise ConfigError(
            f"invalid BOLT_HOST={host!r}: authentication is off (protected mode: no "
            "BOLT_ADMIN_PASSWORD), so Bolt listens on loopback only. Set "
            "BOLT_ADMIN_PASSWORD to turn authentication on, or BOLT_AUTH=false to "
            "serve the network without authentication"
        )
    return MODE_PROTECTED, host


# --- argument checks -------------------------------------------------------------


def check_user_name(name: Any) -> str:
    """A user name: a non-empty str of printable characters, at most 256 bytes.

    Raises:
        BadRequestError: not a str, empty, or holding control characters.
        TooLargeError: longer than :data:`USER_NAME_BYTES_MAX`.
    """
    if type(name) is not str:
        raise BadRequestError(f"user name must be a string, not {type(name).__name__}")
    if not name or not name.isprintable():
        raise BadRequestError("user name must be non-empty printable text")
    if len(name.encode("utf-8", "surrogatepass")) > USER_NAME_BYTES_MAX:
        raise TooLargeError(f"user name is longer than {USER_NAME_BYTES_MAX} bytes")
    return name


def check_password(password: Any) -> str:
    """A password: a non-empty str of at most 1024 bytes.

    Raises:
        BadRequestError: not a str, or empty.
        TooLargeError: longer than :data:`PASSWORD_BYTES_MAX`.
    """
    if type(password) is not str:
        raise BadRequestError(f"password must be a string, not {type(password).__name__}")
    if not password:
        raise BadRequestError("password must not be empty")
    if len(password.encode("utf-8", "surrogatepass")) > PASSWORD_BYTES_MAX:
        raise TooLargeError(f"password is longer than {PASSWORD_BYTES_MAX} bytes")
    return password


def check_role(role: Any) -> str:
    """A role name: ``admin``, ``readwrite`` or ``readonly``.

    Raises:
        BadRequestError: anything else.
    """
    if type(role) is not str or role not in LEVELS:
        raise BadRequestError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


# --- hashing -----------------------------------------------------------------------


def hash_password(password: str, salt: bytes | None = None) -> str:
    """Hash ``password`` with scrypt (slow: call it off the event loop).

    Returns:
        ``"scrypt$n$r$p$salt_hex$hash_hex"``.
    """
    salt = os.urandom(SCRYPT_SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        dklen=SCRYPT_HASH_BYTES,
        maxmem=_SCRYPT_MEMORY_MAX,
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the stored hash (slow: off the event loop).

    A malformed stored hash, or one whose parameters need more than 64 MiB,
    never matches.
    """
    parsed = parse_hash(stored)
    if parsed is None:
        return False
    salt, n, r, p, expected = parsed
    try:
        digest = hashlib.scrypt(
            password.encode("utf-8", "surrogatepass"),
            salt=salt,
            n=n,
            r=r,
            p=p,
            dklen=len(expected),
            maxmem=_SCRYPT_MEMORY_MAX,
        )
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(digest, expected)


def parse_hash(stored: str) -> tuple[bytes, int, int, int, bytes] | None:
    """``(salt, n, r, p, key)`` of a stored ``scrypt$...`` hash, or None if malformed
    (or if its parameters would need more than 64 MiB to check)."""
    try:
        scheme, n, r, p, salt_hex, hash_hex = stored.split("$")
        parsed = (bytes.fromhex(salt_hex), int(n), int(r), int(p), bytes.fromhex(hash_hex))
    except (ValueError, TypeError, AttributeError):
        return None
    _, n_, r_, p_, key = parsed
    if scheme != "scrypt" or min(n_, r_, p_) < 1 or not key:
        return None
    if 128 * n_ * r_ * p_ > _SCRYPT_MEMORY_MAX:
        return None
    return parsed


def _cache_key(stored: str, password: str) -> tuple[str, bytes]:
    salted = stored.encode() + b"\0" + password.encode("utf-8", "surrogatepass")
    return stored, hashlib.sha256(salted).digest()


class PasswordChecker:
    """Hashes and verifies passwords in worker threads, remembering successes."""

    def __init__(self) -> None:
        self._verified: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self._dummy_hash: str | None = None
        self._limiter = trio.CapacityLimiter(limits.auth_hash_runs_max)

    async def hash(self, password: str) -> str:
        """Hash ``password`` off the loop (see :func:`hash_password`)."""
        return await trio.to_thread.run_sync(hash_password, password, limiter=self._limiter)

    async def verify(self, password: str, stored: str | None) -> bool:
        """Check ``password`` against ``stored`` off the loop.

        ``stored`` None (no such user) still costs one scrypt run, so the
        reply time does not tell whether a user exists.
        """
        if stored is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self.hash(os.urandom(8).hex())
            await trio.to_thread.run_sync(
                verify_password, password, self._dummy_hash, limiter=self._limiter
            )
            return False
        key = _cache_key(stored, password)
        if key in self._verified:
            self._verified.move_to_end(key)
            return True
        ok = await trio.to_thread.run_sync(verify_password, password, stored, limiter=self._limiter)
        if ok:
            self._verified[key] = None
            if len(self._verified) > _VERIFIED_CACHE_MAX:
                self._verified.popitem(last=False)
        return ok


# --- back-off ------------------------------------------------------------------------


class BackOff:
    """Counts authentication failures per client address and spaces them out."""

    def __init__(
        self,
        threshold: int = limits.auth_failures_before_backoff,
        maximum_ms: int = limits.auth_backoff_ms_max,
        queue_ms: int = limits.auth_backoff_queue_ms_max,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.maximum_ms = maximum_ms
        self.queue_ms = queue_ms
        self._clock = clock
        self._failures: dict[str, int] = {}
        self._next_slot: dict[str, float] = {}  # earliest start of the next check
        self._in_flight: dict[str, int] = {}  # admitted checks not finished yet

    def failures(self, address: str) -> int:
        """Failures recorded for ``address`` since its last success."""
        return self._failures.get(address, 0)

    def delay(self, failures: int) -> float:
        """Seconds between checks of an address with ``failures`` failures."""
        excess = failures - self.threshold
        if excess < 0:
            return 0.0
        return min(_BACKOFF_INITIAL_MS * 2 ** min(excess, 30), self.maximum_ms) / 1000

    def admit(self, address: str) -> float | None:
        """Reserve the next login check of ``address``.

        Checks still in flight count as failures, so a burst of parallel
        attempts is spaced out from its first one. Every admitted attempt
        must call :meth:`finished` when its check ends (or is abandoned).

        Returns:
            Seconds to wait before checking the password (0.0 when the
            address is not backing off), or None: refuse without a check,
            the address has attempts queued further than ``queue_ms`` ahead.
        """
        in_flight = self._in_flight.get(address, 0)
        delay = self.delay(self._failures.get(address, 0) + in_flight)
        wait = 0.0
        if delay:
            now = self._clock()
            start = max(now + delay, self._next_slot.get(address, 0.0))
            if start - now > max(self.queue_ms / 1000, delay):
                return None
            self._next_slot[address] = start + delay
            wait = start - now
        self._in_flight[address] = in_flight + 1
        return wait

    def finished(self, address: str) -> None:
        """An admitted check of ``address`` ended (see :meth:`admit`)."""
        left = self._in_flight.pop(address, 0) - 1
        if left > 0:
            self._in_flight[address] = left

    def failed(self, address: str) -> None:
        """Record a failed login of ``address``."""
        failures = self._failures.pop(address, 0) + 1
        self._failures[address] = failures  # re-inserted last: oldest first for pruning
        if len(self._failures) > _BACKOFF_ADDRESSES_MAX:
            oldest = next(iter(self._failures))
            del self._failures[oldest]
            self._next_slot.pop(oldest, None)
        if failures == self.threshold:
            logger.warning(
                "%d failed logins from %s: spacing out its further attempts", failures, address
            )

    def succeeded(self, address: str) -> None:
        """Forget the failures of ``address``."""
        self._failures.pop(address, None)
        self._next_slot.pop(address, None)


def auth_failed(message: str = "wrong user name or password") -> AuthenticationError:
    """The error every failed login gets (it never says which part was wrong)."""
    return AuthenticationError(message)
