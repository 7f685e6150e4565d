"""Conflict-free replicated data types: pure, no I/O, no clock of their own.

Time (HLC readings) and node ids arrive as arguments. See each module's
docstring for its merge rules and DESIGN §4 for the contract they implement.
"""

from bolt.crdt._dots import Dot, DotSet, VersionVector
from bolt.crdt._hlc import HybridClock, hlc_from_ms, hlc_logical, hlc_ms
from bolt.crdt._lww import ZERO_STAMP, Stamp, later, newer
from bolt.crdt._ormap import ORMap
from bolt.crdt._orset import ORSet, Tag
from bolt.crdt._pncounter import PNCounter
from bolt.crdt._sequence import Position, Sequence, position_hlc

__all__ = [
    "ZERO_STAMP",
    "Dot",
    "DotSet",
    "HybridClock",
    "ORMap",
    "ORSet",
    "PNCounter",
    "Position",
    "Sequence",
    "Stamp",
    "Tag",
    "VersionVector",
    "hlc_from_ms",
    "hlc_logical",
    "hlc_ms",
    "later",
    "newer",
    "position_hlc",
]
