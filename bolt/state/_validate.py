"""Argument checks shared by every command: types, sizes, 64-bit integers.

Each check raises a typed :mod:`bolt.errors` exception and has no effect, so
a command validates everything before it takes a stamp or builds an event.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bolt import limits
from bolt.errors import BadRequestError, IntegerOverflowError, NotIntegerError, TooLargeError

_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)\Z")
_KEY_CHARS_SAFE = limits.key_bytes_max // 4
_VALUE_CHARS_SAFE = limits.value_bytes_max // 4


def arity(command: str, args: Sequence[Any], least: int, most: int | None = None) -> None:
    """Check the number of arguments (``most`` None = same as ``least``; -1 = any)."""
    count = len(args)
    most = least if most is None else most
    if count < least or (most >= 0 and count > most):
        raise BadRequestError(f"wrong number of arguments for '{command}'")


def plain_key(value: Any) -> bool:
    """True for a key the engine's fast paths may take without :func:`key`.

    A str that is ASCII, has no NUL (so its internal name is itself) and is
    short enough to be within the limit whatever it holds. False says only
    "use the general path", never "invalid".
    """
    return (
        type(value) is str
        and len(value) <= _KEY_CHARS_SAFE
        and value.isascii()
        and "\0" not in value
    )


def plain_value(item: Any) -> bool:
    """True for a value :func:`value` surely accepts as it is (str ASCII or bytes, short)."""
    kind = type(item)
    if kind is str:
        return len(item) <= _VALUE_CHARS_SAFE and item.isascii()
    return kind is bytes and len(item) <= limits.value_bytes_max


def _utf8_length(text: str, what: str) -> int:
    """Bytes of ``text`` in UTF-8; lone surrogates (not encodable) are refused."""
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise BadRequestError(f"{what} is not valid Unicode (lone surrogate)") from None


def key(value: Any) -> str:
    """A key: a str of at most ``limits.key_bytes_max`` UTF-8 bytes."""
    if type(value) is not str:
        raise BadRequestError(f"key must be a string, not {type(value).__name__}")
    if (len(value) > _KEY_CHARS_SAFE or not value.isascii()) and _utf8_length(
        value, "key"
    ) > limits.key_bytes_max:
        raise TooLargeError(f"key is longer than {limits.key_bytes_max} bytes")
    return value


def value(item: Any, what: str = "value") -> str | bytes:
    """A stored value: str or bytes of at most ``limits.value_bytes_max`` bytes."""
    kind = type(item)
    if kind is str:
        if (len(item) > _VALUE_CHARS_SAFE or not item.isascii()) and _utf8_length(
            item, what
        ) > limits.value_bytes_max:
            raise TooLargeError(f"{what} is larger than {limits.value_bytes_max} bytes")
        return item
    if kind is bytes:
        if len(item) > limits.value_bytes_max:
            raise TooLargeError(f"{what} is larger than {limits.value_bytes_max} bytes")
        return item
    raise BadRequestError(f"{what} must be str or bytes, not {kind.__name__}")


def database(name: Any) -> str:
    """A database (namespace) name; None means the default database ``""``."""
    if name is None:
        return ""
    if type(name) is not str:
        raise BadRequestError("database must be a string")
    if "\0" in name:
        raise BadRequestError("database name may not contain NUL")
    if _utf8_length(name, "database name") > limits.database_name_bytes_max:
        raise TooLargeError(f"database name is longer than {limits.database_name_bytes_max} bytes")
    return name


def integer(item: Any, what: str = "value") -> int:
    """A 64-bit signed integer argument (bools are refused)."""
    if type(item) is not int:
        raise NotIntegerError(f"{what} is not an integer")
    if not limits.int64_min <= item <= limits.int64_max:
        raise IntegerOverflowError(f"{what} does not fit in a 64-bit signed integer")
    return item


def stored_integer(item: Any) -> int:
    """Parse a stored string value as a 64-bit integer (for INCR on a string)."""
    text = item.decode("ascii", "replace") if isinstance(item, bytes) else str(item)
    if not _INTEGER.match(text):
        raise NotIntegerError("value is not an integer or out of range")
    number = int(text)
    if not limits.int64_min <= number <= limits.int64_max:
        raise NotIntegerError("value is not an integer or out of range")
    return number


def checked_sum(a: int, b: int) -> int:
    """``a + b``, refusing results outside 64-bit signed range."""
    total = a + b
    if not limits.int64_min <= total <= limits.int64_max:
        raise IntegerOverflowError("increment or decrement would overflow")
    return total


def batch(command: str, items: Sequence[Any]) -> None:
    """Limit the number of keys/values one command may carry."""
    if len(items) > limits.batch_keys_max:
        raise TooLargeError(
            f"'{command}' carries {len(items)} items; the limit is {limits.batch_keys_max}"
        )
