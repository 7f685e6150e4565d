#!/usr/bin/env python3
"""Cost of tombstone collection in one process: a full round over a big keyspace, in slices.

Builds a keyspace of ``--keys`` plain strings (64 shards), deletes every
fifth, then collects everything as a cluster node's full round does
(``limits.tombstone_gc_slice_keys`` names per slice) and prints the round's
time, the longest slice (how long other tasks can wait) and the memory given
back; then an idle full round (nothing left to collect).

Usage: ``python scripts/bench_tombstones.py [--keys 500000]``.
"""

from __future__ import annotations

import argparse
import time

from bolt import limits
from bolt.events import KeyDeleted, KeyPut
from bolt.state import Keyspace, apply, collect_tombstones_in


def full_round(keyspace: Keyspace, stable: int) -> tuple[float, float, int]:
    """(seconds, longest slice in seconds, tombstones collected)."""
    step = limits.tombstone_gc_slice_keys
    longest = collected = 0
    started = time.perf_counter()
    for shard in keyspace.shards:
        names = list(shard.entries)
        for start in range(0, len(names), step):
            t = time.perf_counter()
            result = collect_tombstones_in(keyspace, shard, names[start : start + step], stable)
            longest = max(longest, time.perf_counter() - t)
            collected += result.collected
    return time.perf_counter() - started, longest, collected


def main() -> None:
    """Run the measurement (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=500_000)
    args = parser.parse_args()
    keyspace = Keyspace(64)
    seq = 0
    for i in range(args.keys):
        seq += 1
        apply(keyspace, KeyPut("n1", seq, seq * 16, "", f"k{i}", "v" * 10, 0))
    for i in range(0, args.keys, 5):
        seq += 1
        apply(keyspace, KeyDeleted("n1", seq, seq * 16, "", f"k{i}", {}, ""))
    before = keyspace.memory_used
    seconds, longest, collected = full_round(keyspace, seq * 16)
    print(
        f"full round over {args.keys:,} keys: {collected:,} tombstones collected in "
        f"{seconds:.3f} s, longest slice {longest * 1000:.2f} ms, "
        f"{before - keyspace.memory_used:,} bytes given back"
    )
    seconds, longest, _ = full_round(keyspace, seq * 16)
    print(f"idle full round: {seconds:.3f} s, longest slice {longest * 1000:.2f} ms")


if __name__ == "__main__":
    main()
