"""The Bolt wire protocol: length-prefixed msgpack frames, sans-IO.

``Codec`` turns bytes into :class:`Request`, :class:`Response`,
:class:`ErrorReply` and :class:`Push` messages and back; the ``encode_*``
functions are the allocation-light paths the server uses to build one
``send`` per batch of replies. See :mod:`bolt.wire._codec` for the theory of
operation and :mod:`bolt.wire._messages` for the message shapes;
:mod:`bolt.wire._stats` is the schema of the ``STATS`` reply.
"""

from bolt.wire._codec import (
    HEADER_BYTES,
    Codec,
    encode_error,
    encode_push,
    encode_request,
    encode_response,
)
from bolt.wire._messages import (
    CONNECTION_ERROR_ID,
    KIND_ERROR,
    KIND_PUSH,
    KIND_REQUEST,
    KIND_RESPONSE,
    PROTOCOL_VERSION,
    ErrorReply,
    Message,
    Push,
    Reply,
    Request,
    Response,
)
from bolt.wire._stats import (
    ClientStats,
    CommandStats,
    ConnectionStats,
    ErrorCount,
    LatencyStats,
    MemoryStats,
    OpsStats,
    ShardStats,
    SnapshotStats,
    StatsReply,
    WalStats,
    as_stats_reply,
)

__all__ = [
    "CONNECTION_ERROR_ID",
    "HEADER_BYTES",
    "KIND_ERROR",
    "KIND_PUSH",
    "KIND_REQUEST",
    "KIND_RESPONSE",
    "PROTOCOL_VERSION",
    # the STATS reply's schema (bolt.wire._stats)
    "ClientStats",
    "Codec",
    "CommandStats",
    "ConnectionStats",
    "ErrorCount",
    "ErrorReply",
    "LatencyStats",
    "MemoryStats",
    "Message",
    "OpsStats",
    "Push",
    "Reply",
    "Request",
    "Response",
    "ShardStats",
    "SnapshotStats",
    "StatsReply",
    "WalStats",
    "as_stats_reply",
    "encode_error",
    "encode_push",
    "encode_request",
    "encode_response",
]
