"""The benchmark's workloads: which requests each test sends, pre-encoded.

Theory of operation
-------------------
A load generator written in Python must spend as little as possible per
request, or it measures itself. So every request a test sends is encoded
*before* the clock starts: :func:`build_frames` returns a pool of complete
wire frames (``u32 length | msgpack``, built with :func:`bolt.wire.encode_request`)
that the generator cycles through, joining a slice of it into one ``send``.
A pool holds up to ``pool_size`` distinct frames with keys drawn at random
(from a seeded generator, so runs are repeatable) from a fixed keyspace.

Request ids cycle with the pool: replies on one connection come back in
order, so the generator matches them by position, and the ids only need to
differ among the requests one connection has in flight (the pool is always
larger than the pipeline depth).

The tests are the seed's table: SET, GET, MSET of 100 keys, MGET of 100 keys,
INCR. String keys are ``bench:<n>`` and counter keys ``bench:counter:<n>``
(INCR on a string value would be refused). GET and MGET read keys that
:func:`populate_frames` wrote first, so they return values, as the floor
server does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from string import ascii_letters, digits

from bolt.wire import encode_request

KEY_PREFIX = "bench:"
COUNTER_PREFIX = "bench:counter:"
POPULATE_KEYS_PER_FRAME = 100


@dataclass(frozen=True)
class Workload:
    """One test of the benchmark table.

    Attributes:
        name: the ``--tests`` name (``set``).
        label: the table's row name (``MSET (100 keys)``).
        command: the wire command.
        keys_per_request: 1, or the batch size of MSET/MGET.
        unit: ``ops/s`` or ``batch/s``.
        reads_data: whether the keyspace must be written before it runs.
    """

    name: str
    label: str
    command: str
    keys_per_request: int
    unit: str
    reads_data: bool


BATCH_KEYS = 100

WORKLOADS: dict[str, Workload] = {
    "set": Workload("set", "SET", "PUT", 1, "ops/s", False),
    "get": Workload("get", "GET", "GET", 1, "ops/s", True),
    "mset": Workload("mset", f"MSET ({BATCH_KEYS} keys)", "MSET", BATCH_KEYS, "batch/s", False),
    "mget": Workload("mget", f"MGET ({BATCH_KEYS} keys)", "MGET", BATCH_KEYS, "batch/s", True),
    "incr": Workload("incr", "INCR", "INCR", 1, "ops/s", False),
}
"""Every test, by name, in the seed's table order."""


def parse_tests(text: str) -> list[Workload]:
    """Workloads named by a comma-separated list (``set,get``), in that order.

    Raises:
        ValueError: a name is unknown, repeated, or the list is empty.
    """
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise ValueError("no tests named")
    unknown = [name for name in names if name not in WORKLOADS]
    if unknown:
        raise ValueError(f"unknown test {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    if len(set(names)) != len(names):
        raise ValueError("a test is named twice")
    return [WORKLOADS[name] for name in names]


def make_value(size: int, seed: int = 0) -> str:
    """A printable value of ``size`` characters (ASCII, so also ``size`` bytes)."""
    rng = random.Random(seed)
    return "".join(rng.choices(ascii_letters + digits, k=size))


def key_name(index: int) -> str:
    """The string key number ``index``."""
    return f"{KEY_PREFIX}{index}"


def build_frames(
    workload: Workload,
    *,
    keyspace: int,
    value_size: int,
    pool_size: int,
    database: str | None = None,
    seed: int = 0,
) -> list[bytes]:
    """Encode the pool of requests one generator cycles through for ``workload``.

    Args:
        workload: the test.
        keyspace: how many distinct keys to draw from (at least the batch size
            for MSET/MGET).
        value_size: bytes per value written.
        pool_size: how many distinct frames to build (more than any pipeline
            depth in use).
        database: the database (namespace) of every request.
        seed: makes the key choice repeatable; give each generator its own.

    Returns:
        ``pool_size`` complete frames.

    Raises:
        ValueError: a size is out of range.
    """
    if keyspace < max(1, workload.keys_per_request):
        raise ValueError(f"keyspace must be at least {max(1, workload.keys_per_request)}")
    if value_size < 0 or pool_size < 1:
        raise ValueError("value_size must be >= 0 and pool_size >= 1")
    rng = random.Random(seed)
    value = make_value(value_size, seed)
    frames: list[bytes] = []
    for index in range(pool_size):
        request_id = index + 1
        if workload.keys_per_request == 1:
            number = rng.randrange(keyspace)
            if workload.command == "PUT":
                args: list[object] = [key_name(number), value]
            elif workload.command == "INCR":
                args = [f"{COUNTER_PREFIX}{number}"]
            else:
                args = [key_name(number)]
        else:
            numbers = rng.sample(range(keyspace), workload.keys_per_request)
            if workload.command == "MSET":
                args = []
                for number in numbers:
                    args += (key_name(number), value)
            else:
                args = [key_name(number) for number in numbers]
        frames.append(encode_request(request_id, workload.command, args, database))
    return frames


def populate_frames(
    *, keyspace: int, value_size: int, database: str | None = None, seed: int = 0
) -> list[bytes]:
    """MSET frames that write every key of the keyspace once (before GET/MGET)."""
    value = make_value(value_size, seed)
    frames: list[bytes] = []
    for start in range(0, keyspace, POPULATE_KEYS_PER_FRAME):
        args: list[object] = []
        for number in range(start, min(keyspace, start + POPULATE_KEYS_PER_FRAME)):
            args += (key_name(number), value)
        frames.append(encode_request(len(frames) + 1, "MSET", args, database))
    return frames
