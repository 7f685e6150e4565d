"""The Bolt wire protocol: length-prefixed msgpack frames, sans-IO.

``Codec`` turns bytes into :class:`Request`, :class:`Response`,
:class:`ErrorReply` and :class:`Push` messages and back; the ``encode_*``
functions are the allocation-light paths the server uses to build one
``send`` per batch of replies. See :mod:`bolt.wire._codec` for the theory of
operation and :mod:`bolt.wire._messages` for the message shapes;
:mod:`bolt.wire._stats` is the schema of the ``STATS`` reply;
:mod:`bolt.wire._login` (``bolt.wire.login``) the proofs of the challenge login.
"""

from bolt.wire import _login as login
from bolt.wire._address import format_address
from bolt.wire._codec import (
    HEADER_BYTES,
    Codec,
    encode_error,
    encode_push,
    encode_request,
    encode_response,
)
from bolt.wire._codec import encode_requests as encode_requests
from bolt.wire._histogram import bucket_counts, estimate_quantile
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
from bolt.wire._peer import PEER_PROTOCOL_VERSION as PEER_PROTOCOL_VERSION
from bolt.wire._peer import Ack as Ack
from bolt.wire._peer import Batch as Batch
from bolt.wire._peer import FullSyncAck as FullSyncAck
from bolt.wire._peer import FullSyncBegin as FullSyncBegin
from bolt.wire._peer import FullSyncChunk as FullSyncChunk
from bolt.wire._peer import FullSyncEnd as FullSyncEnd
from bolt.wire._peer import Heartbeat as Heartbeat
from bolt.wire._peer import PeerChallenge as PeerChallenge
from bolt.wire._peer import PeerCodec as PeerCodec
from bolt.wire._peer import PeerHello as PeerHello
from bolt.wire._peer import PeerMessage as PeerMessage
from bolt.wire._peer import PeerProof as PeerProof
from bolt.wire._peer import PeerReady as PeerReady
from bolt.wire._peer import PeerRefusal as PeerRefusal
from bolt.wire._peer import Publish as Publish
from bolt.wire._peer import TaskReply as TaskReply
from bolt.wire._peer import TaskRequest as TaskRequest
from bolt.wire._peer import encode_peer as encode_peer
from bolt.wire._resp import OK as OK
from bolt.wire._resp import PONG as PONG
from bolt.wire._resp import RespCodec as RespCodec
from bolt.wire._resp import Status as Status
from bolt.wire._resp import encode_bulk as encode_bulk
from bolt.wire._resp import encode_error_line as encode_error_line
from bolt.wire._resp import encode_integer as encode_integer
from bolt.wire._resp import encode_reply as encode_reply
from bolt.wire._resp import null as null
from bolt.wire._resp import wrong_port_line as wrong_port_line
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
    # latency histograms of the STATS reply (bolt.wire._histogram)
    "bucket_counts",
    "encode_error",
    "encode_push",
    "encode_request",
    "encode_requests",
    "encode_response",
    "estimate_quantile",
    # host:port (bolt.wire._address)
    "format_address",
    "login",
]
