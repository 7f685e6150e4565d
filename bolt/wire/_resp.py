"""Sans-IO RESP (the Redis protocol): bytes in, commands out; replies in, bytes out.

Theory of operation
-------------------
A Redis client sends each command as an array of bulk strings
(``*2\\r\\n$3\\r\\nGET\\r\\n$1\\r\\nk\\r\\n``); a person at ``telnet`` (and
``redis-cli`` for a few commands) sends an *inline* command: one line of
words separated by spaces, with ``"..."`` and ``'...'`` quoting as Redis's
``sdssplitargs`` reads it. :class:`RespCodec` owns one byte buffer per
connection, like the Bolt :class:`~bolt.wire.Codec`: the glue hands it what
it read (:meth:`RespCodec.receive_data`) and takes every complete command
out at once (:meth:`RespCodec.next_commands`, the hot path: one ``recv`` →
every command in it). A command is a ``list[bytes]``; the empty inline
line is skipped, as Redis does.

Guarantees, and why (the same as the Bolt codec's):

* **Limits before buffering.** An array may announce at most
  :data:`RESP_ARGUMENTS_MAX` elements and a bulk string at most the codec's
  ``max_frame_bytes``; both are checked as soon as the header line is read,
  before the payload is waited for. A header or inline line longer than
  :data:`RESP_INLINE_BYTES_MAX` without its ``\\r\\n`` is refused too, so a
  peer cannot make us buffer an endless line.
* **One exception type.** Anything wrong with the bytes raises
  :class:`~bolt.errors.ProtocolError` whose message is Redis's own
  (``Protocol error: invalid multibulk length``); the codec then stays
  failed. Like Redis, the whole commands before the bad bytes are still
  handed out first (the error is then in :attr:`RespCodec.failure`, and the
  next call raises). The server answers ``-ERR <message>`` and closes that
  connection.

Encoding is a set of pure functions. :func:`encode_reply` turns a Python
value into RESP2 or RESP3: ``None`` → null, ``int`` → integer, ``str`` /
``bytes`` → bulk string, ``list``/``tuple`` → array, ``dict`` → map (a flat
array in RESP2), ``set``/``frozenset`` → set (an array in RESP2),
``bool`` → boolean (an integer in RESP2), :class:`Status` → simple string,
:class:`RespError` → error.
"""

from __future__ import annotations

from typing import Any, NamedTuple, NoReturn

from bolt import limits
from bolt.errors import ProtocolError

RESP_ARGUMENTS_MAX = 1024 * 1024
"""Most elements one command array may announce (Redis's own limit)."""
RESP_INLINE_BYTES_MAX = 64 * limits.KIB
"""Longest inline command or header line (Redis's ``PROTO_INLINE_MAX_SIZE``)."""

_CRLF = b"\r\n"


class Status(NamedTuple):
    """A RESP simple string reply (``+OK``)."""

    text: str


class RespError(NamedTuple):
    """A RESP error reply; ``text`` starts with its prefix (``ERR``, ``WRONGTYPE``)."""

    text: str


OK = b"+OK\r\n"
PONG = b"+PONG\r\n"
NULL2 = b"$-1\r\n"
NULL3 = b"_\r\n"
_NULL = (NULL2, NULL2, NULL2, NULL3)  # indexed by protocol version (2 or 3)


class RespCodec:
    """Reads RESP commands from one connection's bytes (no I/O inside).

    Args:
        max_frame_bytes: the largest bulk string accepted, and the most bytes
            one command may hold in all (:data:`bolt.limits.frame_bytes_max`).
    """

    __slots__ = ("_buffer", "_failure", "max_frame_bytes")

    def __init__(self, max_frame_bytes: int = limits.frame_bytes_max) -> None:
        if max_frame_bytes < 1:
            raise ValueError("max_frame_bytes must be positive")
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._failure: str | None = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet returned as commands."""
        return len(self._buffer)

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes read from the peer (cut anywhere).

        Raises:
            ProtocolError: the codec failed earlier.
        """
        if self._failure is not None:
            raise ProtocolError(self._failure)
        self._buffer += data

    def next_commands(self) -> list[list[bytes]]:
        """Take every complete command buffered, in order (possibly none).

        Raises:
            ProtocolError: the bytes are not RESP, or break a limit, and no
                whole command came before them (if some did, they are
                returned and :attr:`failure` is set).
        """
        if self._failure is not None:
            raise ProtocolError(self._failure)
        buffer = self._buffer
        size = len(buffer)
        position = 0
        commands: list[list[bytes]] = []
        append = commands.append
        try:
            while position < size:
                if buffer[position] == 42:  # "*": an array of bulk strings
                    parsed = self._array(buffer, position, size)
                else:
                    parsed = self._inline(buffer, position, size)
                if parsed is None:
                    break
                command, position = parsed
                if command:
                    append(command)
        except ProtocolError:
            if not commands:
                raise
            # Answer the good commands first, as Redis does; :attr:`failure` tells
            # the glue to send the error after them, and every later call raises.
            del buffer[:]
            return commands
        if position:
            del buffer[:position]
        return commands

    @property
    def failure(self) -> str | None:
        """Why the stream failed (the Redis error text), or None while it is fine."""
        return self._failure

    def _line_end(self, buffer: bytearray, start: int, size: int) -> int:
        """Index of the ``\\r`` ending the line at ``start``, or -1 if not yet here."""
        end = buffer.find(b"\r\n", start, start + RESP_INLINE_BYTES_MAX + 2)
        if end < 0 and size - start > RESP_INLINE_BYTES_MAX:
            self._fail("Protocol error: too big inline request")
        return end

    def _array(self, buffer: bytearray, position: int, size: int) -> tuple[list[bytes], int] | None:
        end = self._line_end(buffer, position, size)
        if end < 0:
            return None
        count = _header_number(buffer, position + 1, end)
        if count is None or count > RESP_ARGUMENTS_MAX:
            self._fail("Protocol error: invalid multibulk length")
        count = max(count, 0)  # "*-1" (a null array) is an empty command, as in Redis
        position = end + 2
        arguments: list[bytes] = []
        total = 0
        max_bytes = self.max_frame_bytes
        for _ in range(count):
            if position >= size:
                return None
            if buffer[position] != 36:  # "$"
                found = chr(buffer[position])
                self._fail(f"Protocol error: expected '$', got '{found}'")
            end = self._line_end(buffer, position, size)
            if end < 0:
                return None
            length = _header_number(buffer, position + 1, end)
            if length is None or length < 0 or length > max_bytes:
                self._fail("Protocol error: invalid bulk length")
            total += length
            if total > max_bytes:
                self._fail(f"Protocol error: command larger than {max_bytes} bytes")
            start = end + 2
            stop = start + length
            if stop + 2 > size:
                return None
            if buffer[stop] != 13 or buffer[stop + 1] != 10:
                self._fail("Protocol error: bulk string not followed by CRLF")
            arguments.append(bytes(buffer[start:stop]))
            position = stop + 2
        return arguments, position

    def _inline(
        self, buffer: bytearray, position: int, size: int
    ) -> tuple[list[bytes], int] | None:
        end = buffer.find(b"\n", position, position + RESP_INLINE_BYTES_MAX + 1)
        if end < 0:
            if size - position > RESP_INLINE_BYTES_MAX:
                self._fail("Protocol error: too big inline request")
            return None
        line = bytes(buffer[position:end])
        if line.endswith(b"\r"):
            line = line[:-1]
        words = split_inline(line)
        if words is None:
            self._fail("Protocol error: unbalanced quotes in request")
        return words, end + 1

    def _fail(self, reason: str) -> NoReturn:
        self._failure = reason
        raise ProtocolError(reason)


def _header_number(buffer: bytearray, start: int, end: int) -> int | None:
    """The decimal between ``start`` and ``end`` (a natural number or -1), or None."""
    text = bytes(buffer[start:end])
    if not text or len(text) > 20:
        return None
    if text.isdigit():
        return int(text)
    return -1 if text == b"-1" else None


_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}


def split_inline(line: bytes) -> list[bytes] | None:
    """Split an inline command like Redis's ``sdssplitargs``; None: unbalanced quotes."""
    if b'"' not in line and b"'" not in line:
        return line.split()
    words: list[bytes] = []
    index, size = 0, len(line)
    while True:
        while index < size and line[index] in b" \t\n\r\v\f":
            index += 1
        if index >= size:
            return words
        word = bytearray()
        quote = 0
        while True:
            if index >= size:
                if quote:
                    return None
                break
            char = line[index]
            if quote == 34 and char == 92 and index + 1 < size:  # backslash in "..."
                index, decoded = _escape(line, index)
                word.append(decoded)
            elif quote and char == quote:
                index += 1
                if index < size and line[index] not in b" \t\n\r\v\f":
                    return None  # a closing quote must be followed by a space
                break
            elif quote:
                word.append(char)
            elif char in b" \t\n\r\v\f":
                break
            elif char in (34, 39):
                quote = char
            else:
                word.append(char)
            index += 1
        words.append(bytes(word))


def _escape(line: bytes, index: int) -> tuple[int, int]:
    """Decode the escape at ``line[index]`` (a backslash); return (last index, byte)."""
    following = line[index + 1]
    if following == ord("x") and index + 3 < len(line):
        digits = line[index + 2 : index + 4]
        try:
            return index + 3, int(digits, 16)
        except ValueError:
            pass
    return index + 1, _ESCAPES.get(following, following)


# --- encoding -------------------------------------------------------------------


def encode_bulk(data: bytes) -> bytes:
    """``$len\\r\\ndata\\r\\n``."""
    return b"$%d\r\n%b\r\n" % (len(data), data)


def encode_integer(number: int) -> bytes:
    """``:n\\r\\n``."""
    return b":%d\r\n" % number


def encode_error_line(text: str) -> bytes:
    """``-TEXT\\r\\n``, with line breaks in ``text`` made spaces (an error is one line)."""
    return b"-" + text.replace("\r", " ").replace("\n", " ").encode("utf-8", "replace") + _CRLF


def null(protocol: int) -> bytes:
    """The null reply of RESP ``protocol`` (2 or 3)."""
    return _NULL[protocol]


def encode_reply(value: Any, protocol: int = 2) -> bytes:
    """Encode a Python value as one RESP reply (see the module docstring).

    Raises:
        TypeError: a value of a type RESP cannot carry.
    """
    kind = type(value)
    if kind is bytes:
        return b"$%d\r\n%b\r\n" % (len(value), value)
    if kind is str:
        data = value.encode("utf-8", "surrogateescape")
        return b"$%d\r\n%b\r\n" % (len(data), data)
    if value is None:
        return _NULL[protocol]
    if kind is bool:
        if protocol == 3:
            return b"#t\r\n" if value else b"#f\r\n"
        return b":1\r\n" if value else b":0\r\n"
    if kind is int:
        return b":%d\r\n" % value
    if kind is list or kind is tuple:
        parts = [b"*%d\r\n" % len(value)]
        parts.extend(encode_reply(item, protocol) for item in value)
        return b"".join(parts)
    if kind is Status:
        return b"+" + value.text.encode("utf-8", "replace") + _CRLF
    if kind is RespError:
        return encode_error_line(value.text)
    if kind is dict:
        head = b"%%%d\r\n" % len(value) if protocol == 3 else b"*%d\r\n" % (2 * len(value))
        parts = [head]
        for key, item in value.items():
            parts.append(encode_reply(key, protocol))
            parts.append(encode_reply(item, protocol))
        return b"".join(parts)
    if kind is set or kind is frozenset:
        head = b"~%d\r\n" % len(value) if protocol == 3 else b"*%d\r\n" % len(value)
        return head + b"".join(encode_reply(item, protocol) for item in value)
    raise TypeError(f"RESP cannot carry a {kind.__name__}")


def wrong_port_line(resp_port: int | None) -> bytes:
    """The one-line RESP error the Bolt port gives a Redis client."""
    where = (
        f"port {resp_port}"
        if resp_port
        else "BOLT_RESP_PORT (off on this server: start bolt with BOLT_RESP_PORT=6379)"
    )
    return encode_error_line(
        f"ERR this is Bolt's own protocol port; Redis clients (RESP) connect to {where}"
    )


def encode_command(args: list[bytes] | list[str] | list[bytes | str]) -> bytes:
    """A command as a client sends it: an array of bulk strings (str as UTF-8)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode("utf-8") if isinstance(arg, str) else arg
        parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)
