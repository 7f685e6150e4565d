#!/usr/bin/env python3
"""Print the README's configuration table from ``bolt.config.SETTINGS``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bolt.config import SETTINGS


def table() -> str:
    """The Markdown table of every setting: variable, flag, default, meaning."""
    rows = ["| Variable | Flag | Default | Meaning |", "|---|---|---|---|"]
    for s in SETTINGS:
        flag = "--" + s.field.replace("_", "-")
        default = f"`{s.default}`" if s.default not in (None, "") else "-"
        rows.append(f"| `{s.env}` | `{flag}` | {default} | {s.help} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
