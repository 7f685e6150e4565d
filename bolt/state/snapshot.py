"""LMDB snapshots of the views: the public names (the code is in ``_snapshot``).

Imported on its own, not from ``bolt.state``, so that ``import bolt.state``
does not load lmdb.
"""

from bolt.state._snapshot import (
    LoadedSnapshot,
    ShardSnapshot,
    SnapshotStore,
    decode_entry,
    encode_entry,
)

__all__ = ["LoadedSnapshot", "ShardSnapshot", "SnapshotStore", "decode_entry", "encode_entry"]
