"""The argument checks every command uses, for handlers outside ``bolt.state``.

The same functions as the commands' own (``_validate``): each raises a typed
:mod:`bolt.errors` exception and has no effect.
"""

from bolt.state._validate import (
    arity,
    batch,
    checked_sum,
    database,
    integer,
    key,
    plain_key,
    plain_value,
    stored_integer,
    value,
)

__all__ = [
    "arity",
    "batch",
    "checked_sum",
    "database",
    "integer",
    "key",
    "plain_key",
    "plain_value",
    "stored_integer",
    "value",
]
