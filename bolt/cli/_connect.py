"""Connection options of ``boltctl``: flags, environment variables, defaults.

Theory of operation
-------------------
Every subcommand that talks to a server takes the same options. They are
declared once by :func:`add_connection_options` and may be given before the
subcommand (``boltctl --port 9000 get k``) or after it (``boltctl get k
--port 9000``): the main parser holds the real defaults, and each
subparser re-declares the flags with ``default=SUPPRESS`` so that a flag
given after the subcommand overrides one given before it, and an absent one
overrides nothing.

:func:`resolve` then merges, in order of precedence, the flags, the
environment (``BOLT_HOST``, ``BOLT_PORT``, ``BOLT_USER``, ``BOLT_PASSWORD``,
``BOLT_DB``, ``BOLT_TLS``, ``BOLT_TLS_CA_FILE``, ``BOLT_TLS_VERIFY``) and the
defaults into one validated :class:`ConnectionOptions`. A bad value (a port
that is not a number, a timeout below zero) raises :class:`UsageError`
naming the flag or variable; nothing is sent. Building the client
(:func:`open_client`) imports :mod:`bolt.client` only then, so importing
this module stays cheap.
"""

from __future__ import annotations

import argparse
import getpass
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bolt import limits

if TYPE_CHECKING:
    from bolt.client import BoltClient

DEFAULT_HOST = "127.0.0.1"
DEFAULT_TIMEOUT_SECONDS = 10.0
CLIENT_NAME = "boltctl"

ENVIRONMENT_HELP = """\
environment:
  BOLT_HOST         server address (default 127.0.0.1)
  BOLT_PORT         server port (default 8518)
  BOLT_USER         user name
  BOLT_PASSWORD     password (safer than --password, which other users can see in ps)
  BOLT_DB           database (namespace) of data commands
  BOLT_TLS          true to speak TLS
  BOLT_TLS_CA_FILE  CA bundle (PEM) that signs the server certificate; implies TLS
  BOLT_TLS_VERIFY   false to skip certificate and host name checks (testing only)
flags win over the environment."""


class UsageError(Exception):
    """A flag, variable or argument of ``boltctl`` is invalid (exit status 2)."""


@dataclass(frozen=True)
class ConnectionOptions:
    """Where and how to connect, after flags, environment and defaults are merged."""

    host: str
    port: int
    user: str | None
    password: str | None
    database: str | None
    tls: bool
    tls_ca_file: str | None
    tls_verify: bool
    timeout: float | None

    @property
    def address(self) -> str:
        """``host:port`` for messages (IPv6 hosts in brackets)."""
        from bolt.wire import format_address

        return format_address(self.host, self.port)


def add_connection_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """Declare the connection flags on ``parser``.

    Args:
        parser: the main parser, or a subcommand's parser.
        suppress: ``True`` for subcommand parsers: absent flags then leave the
            value parsed before the subcommand alone.
    """

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("connection")
    group.add_argument("--host", default=default(None), help="server address [BOLT_HOST]")
    group.add_argument("-p", "--port", default=default(None), help="server port [BOLT_PORT]")
    group.add_argument("-u", "--user", default=default(None), help="user name [BOLT_USER]")
    group.add_argument("-a", "--password", default=default(None), help="password [BOLT_PASSWORD]")
    group.add_argument(
        "--askpass",
        action="store_true",
        default=default(False),
        help="prompt for the password",
    )
    group.add_argument("-n", "--db", default=default(None), help="database (namespace) [BOLT_DB]")
    group.add_argument(
        "--tls", action="store_true", default=default(False), help="speak TLS [BOLT_TLS]"
    )
    group.add_argument(
        "--tls-ca-file",
        default=default(None),
        metavar="PEM",
        help="CA bundle for the server certificate; implies --tls [BOLT_TLS_CA_FILE]",
    )
    group.add_argument(
        "--tls-insecure",
        action="store_true",
        default=default(False),
        help="do not verify the server certificate (testing only) [BOLT_TLS_VERIFY=false]",
    )
    group.add_argument(
        "--timeout",
        default=default(None),
        metavar="SECONDS",
        help=f"connect and reply timeout, 0 for none (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print the reply as JSON (errors as JSON on stderr)",
    )


def _parse_bool(text: str, name: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise UsageError(f"{name}: expected true or false, got {text!r}")


def _parse_port(text: str, name: str) -> int:
    try:
        port = int(text.strip())
    except ValueError:
        raise UsageError(f"{name}: expected a port number, got {text!r}") from None
    if not 0 < port < 65536:
        raise UsageError(f"{name}: port must be between 1 and 65535, got {port}")
    return port


def _parse_timeout(text: str, name: str) -> float | None:
    try:
        seconds = float(text)
    except ValueError:
        raise UsageError(f"{name}: expected seconds, got {text!r}") from None
    if math.isnan(seconds) or seconds < 0:
        raise UsageError(f"{name}: must be zero (no timeout) or positive seconds")
    return None if seconds == 0 else seconds


def _pick(flag: object, environ: Mapping[str, str], variable: str) -> tuple[str | None, str]:
    """The flag's value if given, else the variable's; plus the name to blame."""
    if flag is not None:
        return str(flag), f"--{variable.removeprefix('BOLT_').lower().replace('_', '-')}"
    return environ.get(variable), variable


def resolve(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> ConnectionOptions:
    """Merge flags, environment and defaults into validated options.

    Args:
        args: the parsed command line (attributes of :func:`add_connection_options`).
        environ: the environment (default ``os.environ``).

    Returns:
        The options to connect with.

    Raises:
        UsageError: a flag or variable holds an invalid value.
    """
    env = os.environ if environ is None else environ
    host, _ = _pick(getattr(args, "host", None), env, "BOLT_HOST")
    port_text, port_name = _pick(getattr(args, "port", None), env, "BOLT_PORT")
    port = limits.port_default if port_text is None else _parse_port(port_text, port_name)
    user, _ = _pick(getattr(args, "user", None), env, "BOLT_USER")
    password, _ = _pick(getattr(args, "password", None), env, "BOLT_PASSWORD")
    if getattr(args, "askpass", False):
        password = getpass.getpass(f"password for {user or 'default user'}: ")
    database, _ = _pick(getattr(args, "db", None), env, "BOLT_DB")
    ca_file, _ = _pick(getattr(args, "tls_ca_file", None), env, "BOLT_TLS_CA_FILE")
    if ca_file is not None and not os.path.isfile(ca_file):
        raise UsageError(f"TLS CA file not found: {ca_file}")
    tls = bool(getattr(args, "tls", False)) or _parse_bool(env.get("BOLT_TLS", ""), "BOLT_TLS")
    tls = tls or ca_file is not None
    verify = not getattr(args, "tls_insecure", False)
    if verify and "BOLT_TLS_VERIFY" in env:
        verify = _parse_bool(env["BOLT_TLS_VERIFY"], "BOLT_TLS_VERIFY")
    timeout_text = getattr(args, "timeout", None)
    timeout = (
        DEFAULT_TIMEOUT_SECONDS
        if timeout_text is None
        else _parse_timeout(str(timeout_text), "--timeout")
    )
    return ConnectionOptions(
        host=host or DEFAULT_HOST,
        port=port,
        user=user or None,
        password=password,
        database=database or None,
        tls=tls,
        tls_ca_file=ca_file or None,
        tls_verify=verify,
        timeout=timeout,
    )


def open_client(options: ConnectionOptions) -> BoltClient:
    """Connect and greet the server.

    Returns:
        A connected :class:`~bolt.client.BoltClient`; the caller closes it.

    Raises:
        BoltConnectionError: the server is unreachable.
        AuthenticationError: the credentials were refused.
    """
    from bolt.client import BoltClient

    client = BoltClient(
        host=options.host,
        port=options.port,
        username=options.user,
        password=options.password,
        database=options.database,
        timeout=options.timeout,
        auto_reconnect=False,
        tls=options.tls,
        tls_ca_file=options.tls_ca_file,
        tls_verify=options.tls_verify,
        client_name=CLIENT_NAME,
    )
    try:
        client.connect()
    except BaseException:
        client.close()
        raise
    return client


def read_secret(prompt: str) -> str:
    """A password from the terminal (not echoed), or one line of piped stdin.

    Raises:
        UsageError: stdin is closed or empty.
    """
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("again: ") != first:
            raise UsageError("the passwords do not match")
        return first
    line = sys.stdin.readline()
    if not line:
        raise UsageError("no password given (pass it as an argument or on stdin)")
    return line.rstrip("\r\n")
