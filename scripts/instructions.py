"""Instructions per engine operation, counted by valgrind (steady on a noisy machine).

Each operation runs in a fresh in-process engine (no log: ``persist=False``,
so only the engine's own work is counted) twice, with a small and a large
number of repetitions; the difference divided by the difference in
repetitions is the cost of one operation, start-up and interpreter set-up
cancelled out. Counts are instructions, not seconds: the same on an idle and
a loaded machine for the same Python, inputs and code.

Usage::

    python scripts/instructions.py                 # every operation
    python scripts/instructions.py set mset-key    # some
    python scripts/instructions.py --json

Needs ``valgrind`` (Debian package ``valgrind``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WORKLOAD = '''
import sys, trio
from bolt.node import Engine, EngineConfig
op, n = sys.argv[1], int(sys.argv[2])
pairs = []
for i in range(100):
    pairs += [f"key:{i:06d}", "v" * 16]
async def main():
    engine = await Engine.open(EngineConfig(persist=False, data_dir=None))
    submit = engine.submit
    for r in range(n):
        if op == "set":
            submit("SET", [f"k{r % 1000}", "v" * 16])
        elif op == "get":
            submit("GET", [f"k{r % 1000}"])
        elif op == "incr":
            submit("INCR", [f"c{r % 1000}"])
        elif op == "mset-key":
            submit("MSET", list(pairs))
        elif op == "mget-key":
            submit("MGET", pairs[::2])
        elif op == "lpush":
            submit("LPUSH", [f"l{r % 100}", "x"])
        elif op == "sadd":
            submit("SADD", [f"s{r % 100}", f"m{r}"])
trio.run(main)
'''

OPERATIONS = {  # name: (small, large, operations per repetition)
    "set": (2_000, 12_000, 1),
    "get": (2_000, 12_000, 1),
    "incr": (2_000, 12_000, 1),
    "lpush": (2_000, 12_000, 1),
    "sadd": (2_000, 12_000, 1),
    "mset-key": (50, 300, 100),
    "mget-key": (50, 300, 100),
}


def count(script: Path, operation: str, repetitions: int) -> int:
    """Instructions valgrind counts for ``repetitions`` of ``operation``."""
    result = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            str(script),
            operation,
            str(repetitions),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"refs:\s+([\d,]+)", result.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{result.stderr}")
    return int(match.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("operations", nargs="*", choices=[*OPERATIONS, []], metavar="OP")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    options = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    chosen = options.operations or list(OPERATIONS)
    results: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "workload.py"
        script.write_text(WORKLOAD)
        for operation in chosen:
            small, large, per = OPERATIONS[operation]
            low = count(script, operation, small)
            high = count(script, operation, large)
            results[operation] = (high - low) // ((large - small) * per)
            if not options.json:
                print(f"{operation:10} {results[operation]:>9,} instructions per operation")
    if options.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
