"""The peer role of the wire protocol: the messages nodes send each other.

Theory of operation
-------------------
The cluster port uses the client port's framing unchanged -- a 4-byte
little-endian length, then one msgpack array whose first element is the
message kind -- and the same guarantees (length checked before buffering,
bounded msgpack, one :class:`~bolt.errors.ProtocolError` for anything wrong,
a failed codec stays failed). Only the message set differs; peer kinds start
at 10 so a client frame sent to the cluster port (or the reverse) is refused
as an unknown kind rather than misread.

========  ==================================================  =====================
kind      array                                               sent by
========  ==================================================  =====================
10        ``[10, version, node_id, expected_id, nonce]``      the dialing node
11        ``[11, version, node_id, nonce, proof]``            the answering node
12        ``[12, proof, status]``                             the dialing node
13        ``[13, status]``                                    the answering node
14        ``[14, hlc, last_offset, acked_offset, stability]`` either (heartbeat)
15        ``[15, first_offset, last_offset, records]``        the dialing node
16        ``[16, offset]``                                    the answering node
17        ``[17, code, name, message]``                       either, then closes
18        ``[18, sync_id, covered_offset, dots, users, seen]`` the dialing node
19        ``[19, sync_id, number, entries, tasks, seen]``      the dialing node
20        ``[20, sync_id, chunks, entries_total]``            the dialing node
21        ``[21, sync_id, number]``                           the answering node
22        ``[22, request_id, command, args, db]``             a task link's dialer
23        ``[23, request_id, ok, value]``                     a task link's answerer
24        ``[24, channel, message]``                          the dialing node
========  ==================================================  =====================

Kind 24 is a Redis ``PUBLISH`` made on the sender, for the receiver's own
subscribers (:mod:`bolt.server._resp_pubsub`): both fields are bytes, and
nothing of it is logged, acknowledged or relayed further.

Kinds 22 and 23 travel only on a **task link** (a connection whose
``PeerProof`` status says ``"purpose": "tasks"``): a node forwards a task
command to the node that decides the task (``bolt.cluster._tasks``); the
reply's ``value`` is the command's reply when ``ok``, else ``[code, name,
message]`` of its error.

Kinds 18-21 are a **full sync** (:mod:`bolt.cluster._fullsync_send`): the
state of the sender as of ``covered_offset`` of its log (``dots`` is the
dot set it covers, ``[vector, exceptions]``; ``users`` the user rows), in
chunks of ``[name, encoded entry]`` pairs and task rows, each acknowledged
by a kind 21 (flow control), closed by a kind 20 that says how many chunks
and entries were sent. ``seen`` is the HLC at or below which the sender held
every event when it noted its keys (kind 18) or encoded that chunk (kind 19):
an element that old which the sent state lacks was removed there. Its Ack
(kind 16) for ``covered_offset`` comes once the receiver has merged and
persisted it.

``status`` is a map ``{"version_vector": {origin: seq}, "hlc": int,
"last_offset": int, "client_port": int}``, optionally with ``"stability"``.
``stability`` is a map ``{"vector": {origin: seq}, "seq": int, "seq_hlc":
int, "stable_hlc": int}`` (:mod:`bolt.cluster._stability`); a heartbeat
without it (three fields) is accepted too. ``records`` is a list of record
payloads exactly as :func:`bolt.events.encode_record` writes them; the
receiver decodes them with :func:`bolt.events.decode_record`, which has its
own strict checks.

The dialing node ships its log over its link; the answering node applies
the batches and acknowledges them, so each direction of replication has its
own connection and its own flow control.
"""

from __future__ import annotations

from typing import Any, NamedTuple, NoReturn

from bolt import limits
from bolt.errors import ProtocolError
from bolt.wire._codec import _ZERO_COPY_BYTES, Codec, _encode_payload, _unpack

PEER_PROTOCOL_VERSION = 3
"""Version of the peer protocol; peers with another version are refused.

2: the full sync messages (kinds 18-21)."""

KIND_PEER_HELLO = 10
KIND_PEER_CHALLENGE = 11
KIND_PEER_PROOF = 12
KIND_PEER_READY = 13
KIND_HEARTBEAT = 14
KIND_BATCH = 15
KIND_ACK = 16
KIND_PEER_REFUSAL = 17
KIND_FULL_SYNC_BEGIN = 18
KIND_FULL_SYNC_CHUNK = 19
KIND_FULL_SYNC_END = 20
KIND_FULL_SYNC_ACK = 21
KIND_TASK_REQUEST = 22
KIND_TASK_REPLY = 23
KIND_PUBLISH = 24


class PeerHello(NamedTuple):
    """The dialing node's opening: who it is, whom it expects, its nonce."""

    version: int
    node_id: str
    expected_id: str
    nonce: bytes


class PeerChallenge(NamedTuple):
    """The answer: the answering node's id, its nonce, and its proof."""

    version: int
    node_id: str
    nonce: bytes
    proof: bytes


class PeerProof(NamedTuple):
    """The dialing node's proof, with its status."""

    proof: bytes
    status: dict[str, Any]


class PeerReady(NamedTuple):
    """The answering node accepts the link; its status."""

    status: dict[str, Any]


class Heartbeat(NamedTuple):
    """Liveness, with the sender's HLC, last offset and the offset it acknowledged,
    and its stability report (see :mod:`bolt.cluster._stability`)."""

    hlc: int
    last_offset: int
    acked_offset: int
    stability: dict[str, Any] | None = None


class Batch(NamedTuple):
    """Log records ``first_offset..last_offset`` of the sender (some may be left out)."""

    first_offset: int
    last_offset: int
    records: list[bytes]


class Ack(NamedTuple):
    """Everything up to ``offset`` of the receiver's peer is durable here."""

    offset: int


class PeerRefusal(NamedTuple):
    """Why the link is refused or closed (a :mod:`bolt.errors` code and name)."""

    code: int
    name: str
    message: str


class FullSyncBegin(NamedTuple):
    """A full sync starts: the sender's state covers its log up to ``covered_offset``."""

    sync_id: int
    covered_offset: int
    dots: list[Any]
    users: list[list[Any]]
    seen_hlc: int  # the sender held every event at or below it (for keys it does not send)


class FullSyncChunk(NamedTuple):
    """Chunk ``number`` of a full sync: ``[name, encoded entry]`` pairs and task rows."""

    sync_id: int
    number: int
    entries: list[list[Any]]
    tasks: list[list[Any]]
    seen_hlc: int  # the sender held every event at or below it when it encoded these


class FullSyncEnd(NamedTuple):
    """The last chunk was ``chunks - 1``; ``entries_total`` entries were sent."""

    sync_id: int
    chunks: int
    entries_total: int


class FullSyncAck(NamedTuple):
    """The receiver staged chunk ``number`` of full sync ``sync_id``."""

    sync_id: int
    number: int


class TaskRequest(NamedTuple):
    """A task command forwarded to the node that decides the task."""

    request_id: int
    command: str
    args: list[Any]
    db: str


class TaskReply(NamedTuple):
    """The answer to a :class:`TaskRequest`: the reply, or ``[code, name, message]``."""

    request_id: int
    ok: bool
    value: Any


class Publish(NamedTuple):
    """A pub/sub message published on the sender, for the receiver's subscribers."""

    channel: bytes
    message: bytes


PeerMessage = (
    PeerHello
    | PeerChallenge
    | PeerProof
    | PeerReady
    | Heartbeat
    | Batch
    | Ack
    | PeerRefusal
    | FullSyncBegin
    | FullSyncChunk
    | FullSyncEnd
    | FullSyncAck
    | TaskRequest
    | TaskReply
    | Publish
)

_KINDS: dict[type, int] = {
    PeerHello: KIND_PEER_HELLO,
    PeerChallenge: KIND_PEER_CHALLENGE,
    PeerProof: KIND_PEER_PROOF,
    PeerReady: KIND_PEER_READY,
    Heartbeat: KIND_HEARTBEAT,
    Batch: KIND_BATCH,
    Ack: KIND_ACK,
    PeerRefusal: KIND_PEER_REFUSAL,
    FullSyncBegin: KIND_FULL_SYNC_BEGIN,
    FullSyncChunk: KIND_FULL_SYNC_CHUNK,
    FullSyncEnd: KIND_FULL_SYNC_END,
    FullSyncAck: KIND_FULL_SYNC_ACK,
    TaskRequest: KIND_TASK_REQUEST,
    TaskReply: KIND_TASK_REPLY,
    Publish: KIND_PUBLISH,
}

_STATUS_INTS = ("hlc", "last_offset", "client_port")


def _bad(kind: int, what: str) -> NoReturn:
    raise ProtocolError(f"malformed peer message of kind {kind}: {what}")


def _is_int(value: Any, low: int = 0) -> bool:
    return type(value) is int and value >= low


def _check_status(kind: int, status: Any) -> dict[str, Any]:
    if type(status) is not dict:
        _bad(kind, "status must be a map")
    for name in _STATUS_INTS:
        if not _is_int(status.get(name), -1):
            _bad(kind, f"status {name} must be an integer")
    vector = status.get("version_vector")
    if type(vector) is not dict or not all(
        type(origin) is str and _is_int(seq) for origin, seq in vector.items()
    ):
        _bad(kind, "status version_vector must map node ids to seqs")
    if "stability" in status:
        _check_stability(kind, status["stability"])
    return status


_STABILITY_INTS = ("seq", "seq_hlc", "stable_hlc")


def _check_stability(kind: int, stability: Any) -> dict[str, Any]:
    if type(stability) is not dict:
        _bad(kind, "stability must be a map")
    for name in _STABILITY_INTS:
        if not _is_int(stability.get(name)):
            _bad(kind, f"stability {name} must be a non-negative integer")
    vector = stability.get("vector")
    if type(vector) is not dict or not all(
        type(origin) is str and _is_int(seq) for origin, seq in vector.items()
    ):
        _bad(kind, "stability vector must map node ids to seqs")
    return stability


def _check_id(kind: int, value: Any) -> str:
    if type(value) is not str or not value or len(value) > 256:
        _bad(kind, "a node id must be a non-empty string of at most 256 characters")
    return value


def _check_nonce(kind: int, value: Any) -> bytes:
    if type(value) is not bytes or len(value) != limits.peer_nonce_bytes:
        _bad(kind, f"a nonce must be {limits.peer_nonce_bytes} bytes")
    return value


def to_peer_message(obj: Any) -> PeerMessage:
    """Check a decoded payload's shape and build the peer message.

    Raises:
        ProtocolError: not a peer message, or a field of the wrong type.
    """
    if type(obj) is not list or not obj or type(obj[0]) is not int:
        raise ProtocolError("a message must be a msgpack array starting with its kind")
    kind, fields = obj[0], obj[1:]
    arity = {
        10: 4,
        11: 4,
        12: 2,
        13: 1,
        14: 3,
        15: 3,
        16: 1,
        17: 3,
        **_FULL_SYNC_ARITY,
        KIND_TASK_REQUEST: 4,
        KIND_TASK_REPLY: 3,
        KIND_PUBLISH: 2,
    }.get(kind)
    if arity is None:
        raise ProtocolError(f"unknown peer message kind {kind}")
    if kind == KIND_HEARTBEAT and len(fields) == 4:
        arity = 4  # with the stability report
    if len(fields) != arity:
        _bad(kind, f"{len(fields)} fields, expected {arity}")
    if kind == KIND_PEER_HELLO:
        version, node_id, expected, nonce = fields
        if not _is_int(version):
            _bad(kind, "version must be an integer")
        return PeerHello(
            version, _check_id(kind, node_id), _check_id(kind, expected), _check_nonce(kind, nonce)
        )
    if kind == KIND_PEER_CHALLENGE:
        version, node_id, nonce, proof = fields
        if not _is_int(version) or type(proof) is not bytes:
            _bad(kind, "version must be an integer and proof bytes")
        return PeerChallenge(version, _check_id(kind, node_id), _check_nonce(kind, nonce), proof)
    if kind == KIND_PEER_PROOF:
        if type(fields[0]) is not bytes:
            _bad(kind, "proof must be bytes")
        return PeerProof(fields[0], _check_status(kind, fields[1]))
    if kind == KIND_PEER_READY:
        return PeerReady(_check_status(kind, fields[0]))
    if kind == KIND_HEARTBEAT:
        if not all(_is_int(value, -1) for value in fields[:3]):
            _bad(kind, "hlc and offsets must be integers")
        if len(fields) == 4 and fields[3] is not None:
            _check_stability(kind, fields[3])
        return Heartbeat(*fields)
    if kind == KIND_BATCH:
        first, last, records = fields
        if not (_is_int(first) and _is_int(last) and first <= last and type(records) is list):
            _bad(kind, "offsets must be 0 <= first <= last and records a list")
        if len(records) > last - first + 1 or not all(type(r) is bytes and r for r in records):
            _bad(kind, "records must be non-empty byte strings, at most one per offset")
        return Batch(first, last, records)
    if kind == KIND_ACK:
        if not _is_int(fields[0], -1):
            _bad(kind, "offset must be an integer")
        return Ack(fields[0])
    if kind in _FULL_SYNC_ARITY:
        return _full_sync_message(kind, fields)
    if kind in (KIND_TASK_REQUEST, KIND_TASK_REPLY):
        return _task_message(kind, fields)
    if kind == KIND_PUBLISH:
        if type(fields[0]) is not bytes or type(fields[1]) is not bytes:
            _bad(kind, "channel and message must be bytes")
        return Publish(fields[0], fields[1])
    code, name, message = fields
    if type(code) is not int or type(name) is not str or type(message) is not str:
        _bad(kind, "code must be an integer, name and message strings")
    return PeerRefusal(code, name, message)


_FULL_SYNC_ARITY = {18: 5, 19: 5, 20: 3, 21: 2}


def _check_dots(kind: int, dots: Any) -> list[Any]:
    if type(dots) is not list or len(dots) != 2:
        _bad(kind, "dots must be [vector, exceptions]")
    vector, exceptions = dots
    if type(vector) is not dict or not all(
        type(o) is str and _is_int(s) for o, s in vector.items()
    ):
        _bad(kind, "the dots' vector must map node ids to seqs")
    if type(exceptions) is not list or not all(
        type(d) is list and len(d) == 2 and type(d[0]) is str and _is_int(d[1], 1)
        for d in exceptions
    ):
        _bad(kind, "the dots' exceptions must be [node id, seq] pairs")
    return dots


def _full_sync_message(kind: int, fields: list[Any]) -> PeerMessage:
    """Kinds 18-21 (see the module docstring); only their shape is checked here:
    the entries and rows inside are checked when they are decoded."""
    if not (_is_int(fields[0]) and _is_int(fields[1], -1)):
        _bad(kind, "the sync id and the offset, index or count must be integers")
    if kind in (KIND_FULL_SYNC_BEGIN, KIND_FULL_SYNC_CHUNK) and not _is_int(fields[4]):
        _bad(kind, "seen_hlc must be a non-negative integer")
    if kind == KIND_FULL_SYNC_BEGIN:
        if type(fields[3]) is not list or not all(type(u) is list for u in fields[3]):
            _bad(kind, "users must be a list of rows")
        return FullSyncBegin(
            fields[0], fields[1], _check_dots(kind, fields[2]), fields[3], fields[4]
        )
    if kind == KIND_FULL_SYNC_CHUNK:
        entries, tasks = fields[2], fields[3]
        if type(entries) is not list or not all(
            type(e) is list and len(e) == 2 and type(e[0]) is str and type(e[1]) is bytes
            for e in entries
        ):
            _bad(kind, "entries must be [name, bytes] pairs")
        if type(tasks) is not list or not all(type(t) is list for t in tasks):
            _bad(kind, "tasks must be a list of rows")
        return FullSyncChunk(fields[0], fields[1], entries, tasks, fields[4])
    if kind == KIND_FULL_SYNC_END:
        if not _is_int(fields[2]):
            _bad(kind, "entries_total must be a non-negative integer")
        return FullSyncEnd(*fields)
    return FullSyncAck(*fields)


def _task_message(kind: int, fields: list[Any]) -> PeerMessage:
    if not _is_int(fields[0]):
        _bad(kind, "request_id must be a non-negative integer")
    if kind == KIND_TASK_REQUEST:
        request_id, command, args, db = fields
        if type(command) is not str or type(args) is not list or type(db) is not str:
            _bad(kind, "command and db must be strings, args a list")
        return TaskRequest(request_id, command, args, db)
    request_id, ok, value = fields
    if type(ok) is not bool:
        _bad(kind, "ok must be a boolean")
    if not ok and not (
        type(value) is list
        and len(value) == 3
        and type(value[0]) is int
        and all(type(v) is str for v in value[1:])
    ):
        _bad(kind, "an error must be [code, name, message]")
    return TaskReply(request_id, ok, value)


class PeerCodec(Codec):
    """The sans-IO codec of one cluster-port connection (no I/O inside).

    The same framing and limits as :class:`~bolt.wire.Codec`; messages are
    the peer role's (see the module docstring). ``max_frame_bytes`` starts
    at :data:`bolt.limits.peer_handshake_frame_bytes_max` and is raised to
    :data:`bolt.limits.peer_frame_bytes_max` by :meth:`authenticated`, so an
    unauthenticated connection can never make us buffer a large frame.
    """

    __slots__ = ()

    def __init__(self, max_frame_bytes: int = limits.peer_handshake_frame_bytes_max) -> None:
        super().__init__(max_frame_bytes)

    def authenticated(self) -> None:
        """Accept frames up to ``peer_frame_bytes_max`` from now on."""
        self.max_frame_bytes = limits.peer_frame_bytes_max

    def _decode(self, buffer: bytearray, start: int, end: int, size: int) -> Any:
        try:
            if size < _ZERO_COPY_BYTES:
                obj = _unpack(buffer[start:end], size)
            else:
                with memoryview(buffer) as whole, whole[start:end] as view:
                    obj = _unpack(view, size)
        except Exception as exc:  # msgpack raises several ValueError kinds; all mean "bad bytes"
            self._fail(f"undecodable payload: {exc}")
        try:
            return to_peer_message(obj)
        except ProtocolError as exc:
            self._fail(str(exc))

    def next_peer_message(self) -> PeerMessage | None:
        """The next complete peer message, or None until more bytes arrive.

        Raises:
            ProtocolError: the bytes do not form a valid peer message.
        """
        return self.next_message()  # type: ignore[return-value]


def encode_peer(message: PeerMessage, max_frame_bytes: int = limits.peer_frame_bytes_max) -> bytes:
    """Frame one peer message.

    Raises:
        BadRequestError: a field is not msgpack-encodable.
        TooLargeError: the frame would be over ``max_frame_bytes``.
    """
    kind = _KINDS.get(type(message))
    if kind is None:
        raise TypeError(f"not a peer message: {type(message).__name__}")
    return _encode_payload([kind, *message], max_frame_bytes)
