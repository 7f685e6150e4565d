"""Sans-IO framing and msgpack coding of Bolt messages.

Theory of operation
-------------------

A frame is a 4-byte little-endian unsigned payload length followed by that
many bytes of msgpack. The payload is one array (see :mod:`._messages`).

:class:`Codec` owns one byte buffer per connection and no I/O: the glue (the
server, the sync client, the trio client) reads bytes from wherever it likes,
hands them to :meth:`Codec.receive_data`, and takes whole messages out with
:meth:`Codec.next_messages` (everything complete, for the server's hot path:
one ``recv`` → every frame in it) or :meth:`Codec.next_message`. Encoding is a
pure function of the message, so the module-level ``encode_*`` functions are
the fast paths and ``Codec.encode`` is a convenience over them.

Guarantees, and why:

* **Limits before buffering.** A frame's length prefix is checked against the
  codec's ``max_frame_bytes`` as soon as its four bytes are known, before any
  of its payload is waited for, so a peer cannot make us buffer a huge frame.
  A zero length is invalid too (no message is empty).
* **No library defaults.** msgpack is unpacked with explicit limits: no string,
  binary, array or map may claim more entries than the payload has bytes.
  msgpack pre-allocates containers from their headers, so without this a
  9-byte frame could make the decoder allocate gigabytes. Extension types
  (including msgpack timestamps) are not part of the protocol and are refused.
  ``str`` stays ``str`` and ``bytes`` stay ``bytes`` (``use_bin_type=True`` /
  ``raw=False``).
* **One exception type.** Anything wrong with the bytes -- an oversized or
  empty frame, undecodable msgpack, trailing bytes in a payload, a non-array,
  an unknown kind, a field of the wrong type -- raises
  :class:`~bolt.errors.ProtocolError` and nothing else. The stream is then out
  of sync, so the codec stays failed and every later call raises again; the
  glue closes that one connection.
* **Cheap per message.** Per frame the decoder does one ``struct`` read, one
  ``unpackb`` and a type check of the top-level fields. Consumed bytes are cut
  from the front of the ``bytearray`` once per call (CPython makes
  ``del buf[:n]`` O(1) by moving the buffer's start), and large payloads are
  decoded through a ``memoryview`` instead of being copied.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn, Protocol

import msgpack

from bolt import limits
from bolt.errors import (
    BadRequestError,
    BoltError,
    ProtocolError,
    TooLargeError,
    WrongProtocolError,
)
from bolt.wire._messages import (
    KIND_ERROR,
    KIND_PUSH,
    KIND_REQUEST,
    KIND_RESPONSE,
    ErrorReply,
    Message,
    Push,
    Request,
    Response,
)

HEADER_BYTES = 4
"""Size of the length prefix in front of every payload."""

_HEADER = struct.Struct("<I")
_HEADER_PLACEHOLDER = bytes(4)  # room for a length prefix, written in place once known
_FRAME_BYTES_CEILING = 0xFFFF_FFFF  # what a u32 prefix can express
_ZERO_COPY_BYTES = 64 * limits.KIB  # bigger payloads are decoded in place, not copied

_new_tuple = tuple.__new__  # builds a named tuple without its Python-level __new__


def _refuse_extension(code: int, data: bytes) -> NoReturn:
    raise ValueError(f"msgpack extension type {code} is not part of the Bolt protocol")


def _unpack(payload: Any, size: int) -> Any:
    """Decode one payload with every msgpack limit bounded by its size."""
    return msgpack.unpackb(
        payload,
        raw=False,
        strict_map_key=True,
        max_str_len=size,
        max_bin_len=size,
        max_array_len=size,
        max_map_len=size,
        max_ext_len=0,
        ext_hook=_refuse_extension,
    )


def _looks_like_resp(buffer: bytearray) -> bool:
    """Whether an oversized "length prefix" is really a Redis client's first bytes:
    a RESP array header (``*3\r\n``) or an inline command (``PING``)."""
    head = bytes(buffer[:4])
    if head[:1] == b"*" and head[1:2].isdigit():
        return True
    return len(head) == 4 and head.isalpha()


def _to_message(obj: Any) -> Message:
    """Check the top-level shape of a decoded payload and wrap it."""
    if type(obj) is not list or not obj or type(obj[0]) is not int:
        raise ProtocolError("a message must be a msgpack array starting with its kind")
    kind = obj[0]
    size = len(obj)
    if kind == KIND_REQUEST and size == 5:
        _, request_id, command, args, db = obj
        if (
            type(request_id) is int
            and request_id >= 0
            and type(command) is str
            and type(args) is list
            and (db is None or type(db) is str)
        ):
            return _new_tuple(Request, (request_id, command, args, db))
    elif kind == KIND_RESPONSE and size == 3:
        request_id = obj[1]
        if type(request_id) is int and request_id >= 0:
            return _new_tuple(Response, (request_id, obj[2]))
    elif kind == KIND_ERROR and size == 5:
        _, request_id, code, name, message = obj
        if (
            type(request_id) is int
            and request_id >= 0
            and type(code) is int
            and type(name) is str
            and type(message) is str
        ):
            return _new_tuple(ErrorReply, (request_id, code, name, message))
    elif kind == KIND_PUSH and size == 3:
        if type(obj[1]) is str:
            return _new_tuple(Push, (obj[1], obj[2]))
    else:
        raise ProtocolError(f"unknown message kind {kind} with {size} fields")
    raise ProtocolError(f"malformed message of kind {kind}")


class Codec:
    """Frames and unframes Bolt messages for one connection (no I/O inside).

    Args:
        max_frame_bytes: largest payload accepted from the peer. Servers use
            :data:`bolt.limits.frame_bytes_max`; clients
            :data:`bolt.limits.reply_bytes_max` (replies can be big).

    Raises:
        ValueError: ``max_frame_bytes`` is not between 1 and 2**32 - 1.
    """

    __slots__ = ("_buffer", "_failure", "max_frame_bytes", "server_side")

    def __init__(
        self, max_frame_bytes: int = limits.frame_bytes_max, *, server_side: bool = False
    ) -> None:
        if not 1 <= max_frame_bytes <= _FRAME_BYTES_CEILING:
            raise ValueError(f"max_frame_bytes must be in 1..{_FRAME_BYTES_CEILING}")
        self.max_frame_bytes = max_frame_bytes
        self.server_side = server_side
        """A server's codec tells a Redis client's first bytes from a frame
        (``WrongProtocolError``); a client's codec does not (an HTTP reply
        also starts with four letters)."""
        self._buffer = bytearray()
        self._failure: str | None = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet returned as messages (a partial frame at EOF)."""
        return len(self._buffer)

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes read from the peer.

        Args:
            data: any number of bytes, cut anywhere (partial frames are kept).

        Raises:
            ProtocolError: the next frame's length prefix is zero or over
                ``max_frame_bytes`` (checked here, before its payload
                arrives), or the codec failed earlier.
        """
        if self._failure is not None:
            raise ProtocolError(f"the stream failed earlier: {self._failure}")
        buffer = self._buffer
        buffer += data
        if len(buffer) >= HEADER_BYTES:
            self._check_length(_HEADER.unpack_from(buffer, 0)[0])

    def next_message(self) -> Message | None:
        """Take the next complete message, or ``None`` until more bytes arrive.

        Raises:
            ProtocolError: the bytes do not form a valid message.
        """
        if self._failure is not None:
            raise ProtocolError(f"the stream failed earlier: {self._failure}")
        buffer = self._buffer
        available = len(buffer)
        if available < HEADER_BYTES:
            return None
        size = self._check_length(_HEADER.unpack_from(buffer, 0)[0])
        end = HEADER_BYTES + size
        if end > available:
            return None
        message = self._decode(buffer, HEADER_BYTES, end, size)
        del buffer[:end]
        return message

    def next_messages(self) -> list[Message]:
        """Take every complete message buffered, in order (possibly none).

        Raises:
            ProtocolError: some frame is invalid. Messages before it in the
                buffer are discarded too: the connection is to be closed, and
                none of them has been answered yet.
        """
        if self._failure is not None:
            raise ProtocolError(f"the stream failed earlier: {self._failure}")
        buffer = self._buffer
        available = len(buffer)
        position = 0
        messages: list[Message] = []
        append = messages.append
        unpack_header = _HEADER.unpack_from
        max_frame_bytes = self.max_frame_bytes
        while available - position >= HEADER_BYTES:
            size = unpack_header(buffer, position)[0]
            if size > max_frame_bytes or size == 0:
                self._check_length(size)
            start = position + HEADER_BYTES
            end = start + size
            if end > available:
                break
            append(self._decode(buffer, start, end, size))
            position = end
        if position:
            del buffer[:position]
        return messages

    def encode(self, message: Message) -> bytes:
        """Frame one message (requests up to ``request_bytes_max``, others up to
        ``reply_bytes_max``).

        Raises:
            BadRequestError: a field is not msgpack-encodable.
            TooLargeError: the payload is over its limit.
        """
        if type(message) is Request:
            return encode_request(message.id, message.command, message.args, message.db)
        if type(message) is Response:
            return encode_response(message.id, message.result)
        if type(message) is ErrorReply:
            return _encode_payload(
                [KIND_ERROR, message.id, message.code, message.name, message.message],
                limits.reply_bytes_max,
            )
        if type(message) is Push:
            return encode_push(message.topic, message.payload)
        raise TypeError(f"not a Bolt message: {type(message).__name__}")

    def encode_many(self, messages: Iterable[Message]) -> bytes:
        """Frame several messages into one buffer, for a single ``send``.

        Raises:
            BadRequestError, TooLargeError: as :meth:`encode`.
        """
        return b"".join([self.encode(message) for message in messages])

    def _check_length(self, size: int) -> int:
        if size > self.max_frame_bytes:
            if self.server_side and _looks_like_resp(self._buffer):
                self._failure = "a Redis (RESP) client on the Bolt port"
                raise WrongProtocolError(self._failure)
            self._fail(f"frame of {size} bytes is over the limit of {self.max_frame_bytes}")
        if size == 0:
            self._fail("frame of length 0")
        return size

    def _decode(self, buffer: bytearray, start: int, end: int, size: int) -> Message:
        try:
            if size < _ZERO_COPY_BYTES:
                obj = _unpack(buffer[start:end], size)
            else:
                with memoryview(buffer) as whole, whole[start:end] as view:
                    obj = _unpack(view, size)
        except Exception as exc:  # msgpack raises several ValueError kinds; all mean "bad bytes"
            self._fail(f"undecodable payload: {exc}")
        try:
            return _to_message(obj)
        except ProtocolError as exc:
            self._fail(str(exc))

    def _fail(self, reason: str) -> NoReturn:
        self._failure = reason
        raise ProtocolError(reason)


# --- encoding: pure functions, the server's fast paths --------------------------

_local = threading.local()  # one msgpack Packer per thread: a Packer is not thread-safe


def _packer() -> Any:
    try:
        return _local.packer
    except AttributeError:
        _local.packer = msgpack.Packer(use_bin_type=True, autoreset=True)
        return _local.packer


def _encode_payload(obj: list[Any], max_frame_bytes: int) -> bytes:
    try:
        payload: bytes = _packer().pack(obj)
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadRequestError(f"cannot encode message: {exc}") from exc
    size = len(payload)
    if size > max_frame_bytes:
        raise TooLargeError(f"message of {size} bytes is over the limit of {max_frame_bytes}")
    return _HEADER.pack(size) + payload


def encode_request(
    request_id: int,
    command: str,
    args: list[Any],
    db: str | None,
    *,
    max_frame_bytes: int = limits.request_bytes_max,
) -> bytes:
    """Frame a request ``[1, id, command, args, db]``.

    Raises:
        BadRequestError: an argument is not msgpack-encodable, or ``db`` is
            neither ``None`` nor a ``str`` (the decoder refuses such a request
            as malformed, so it is never put on the wire).
        TooLargeError: the frame would be over ``max_frame_bytes``.
    """
    if db is not None and type(db) is not str:
        raise BadRequestError(f"a request's database must be str or None, not {type(db).__name__}")
    return _encode_payload([KIND_REQUEST, request_id, command, args, db], max_frame_bytes)


class RequestLike(Protocol):
    """What :func:`encode_requests` reads of each request (a client's queued call)."""

    @property
    def command(self) -> str: ...
    @property
    def args(self) -> list[Any]: ...
    @property
    def db(self) -> str | None: ...


def encode_requests(
    first_id: int,
    requests: Sequence[RequestLike],
    *,
    max_frame_bytes: int = limits.request_bytes_max,
) -> bytes | bytearray:
    """Frame ``requests`` with ids ``first_id``, ``first_id + 1``, ... into one buffer.

    A client's pipeline (or any batch) is written with one ``send``: each
    payload is packed once and appended, its length prefix written in place
    in front of it, with no per-request frame built and joined afterwards.
    One request is framed as :func:`encode_request` does.

    Raises:
        BadRequestError, TooLargeError: as :func:`encode_request`, for the
            first request that cannot be framed (nothing is returned).
    """
    if len(requests) == 1:
        only = requests[0]
        return encode_request(first_id, only.command, only.args, only.db)
    out = bytearray()
    pack = _packer().pack
    pack_header = _HEADER.pack_into
    request_id = first_id
    for request in requests:
        db = request.db
        if db is not None and type(db) is not str:
            raise BadRequestError(
                f"a request's database must be str or None, not {type(db).__name__}"
            )
        try:
            payload = pack([KIND_REQUEST, request_id, request.command, request.args, db])
        except (TypeError, ValueError, OverflowError) as exc:
            raise BadRequestError(f"cannot encode message: {exc}") from exc
        size = len(payload)
        if size > max_frame_bytes:
            raise TooLargeError(f"message of {size} bytes is over the limit of {max_frame_bytes}")
        at = len(out)
        out += _HEADER_PLACEHOLDER
        pack_header(out, at, size)
        out += payload
        request_id += 1
    return out


def encode_response(
    request_id: int, result: Any, *, max_frame_bytes: int = limits.reply_bytes_max
) -> bytes:
    """Frame a response ``[2, id, result]`` (the server's hot path).

    Raises:
        BadRequestError: ``result`` is not msgpack-encodable.
        TooLargeError: the frame would be over ``max_frame_bytes``.
    """
    try:
        payload: bytes = _packer().pack([KIND_RESPONSE, request_id, result])
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadRequestError(f"cannot encode message: {exc}") from exc
    size = len(payload)
    if size > max_frame_bytes:
        raise TooLargeError(f"message of {size} bytes is over the limit of {max_frame_bytes}")
    return _HEADER.pack(size) + payload


def encode_error(request_id: int, error: BoltError) -> bytes:
    """Frame an error reply ``[3, id, code, name, message]`` for ``error``.

    Args:
        request_id: the failed request's id, or 0 for a connection-level error.
        error: any Bolt error; its class's ``code`` and ``name`` travel.
    """
    return _encode_payload(
        [KIND_ERROR, request_id, error.code, error.name, error.message], limits.reply_bytes_max
    )


def encode_push(topic: str, payload: Any) -> bytes:
    """Frame a server-initiated push ``[4, topic, payload]``.

    Raises:
        BadRequestError: ``payload`` is not msgpack-encodable.
        TooLargeError: the frame would be over ``reply_bytes_max``.
    """
    return _encode_payload([KIND_PUSH, topic, payload], limits.reply_bytes_max)
