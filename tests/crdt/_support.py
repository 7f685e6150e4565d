"""Helpers shared by the CRDT convergence tests (OR-set, sequence)."""

from __future__ import annotations

import random

from hypothesis import Phase

# Shrinking these multi-replica histories can take minutes; the minimal cases
# of the bugs found so far are written out as plain tests instead.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


def delivery_orders(count: int, rnd: random.Random) -> list[list[int]]:
    """Orders in which to deliver operations ``0..count-1``: as issued, reversed,
    and three shuffles each with up to three duplicates."""
    ids = list(range(count))
    orders = [ids, ids[::-1]]
    for _ in range(3):
        shuffled = ids + [rnd.choice(ids) for _ in range(3)] if ids else []
        rnd.shuffle(shuffled)
        orders.append(shuffled)
    return orders
