"""Key watches in the SDK: the ``WATCH`` arguments and reading its pushes.

``client.subscribe_keys(pattern)`` (sync and trio clients) sends
``WATCH [pattern, database]`` and then yields one dict per committed record
with changes of matching keys, in log order::

    {"offset": 41, "changes": [{"event": "KeyPut", "database": None,
                                "key": "agent:1", "value": "busy", ...}]}

Only the server's ``keys`` pushes are taken; when the server drops a watch
that fell behind, the iteration raises :class:`~bolt.errors.FeedDroppedError`
whose ``resume_offset`` says where the missed changes start. A watch lives
on one connection: after a reconnect, subscribe again.
"""

from __future__ import annotations

from typing import Any

from bolt.errors import FeedDroppedError
from bolt.wire import Push

TOPIC_KEYS = "keys"
TOPIC_KEYS_DROPPED = "keys.dropped"


def watch_args(pattern: str, database: str | None) -> list[Any]:
    """The ``WATCH`` arguments.

    Raises:
        TypeError: ``pattern`` or ``database`` is not a str.
    """
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a str, not {type(pattern).__name__}")
    if database is not None and not isinstance(database, str):
        raise TypeError(f"database must be a str, not {type(database).__name__}")
    return [pattern] if database is None else [pattern, database]


def key_change(push: Push) -> dict[str, Any] | None:
    """The change a ``keys`` push carries, or None for any other push.

    Raises:
        FeedDroppedError: the server dropped the watch (it fell behind).
    """
    if push.topic == TOPIC_KEYS:
        payload: dict[str, Any] = push.payload
        return payload
    if push.topic == TOPIC_KEYS_DROPPED:
        payload = push.payload if isinstance(push.payload, dict) else {}
        raise FeedDroppedError(
            f"the server dropped the key watch: {payload.get('reason', 'it fell behind')}",
            resume_offset=int(payload.get("resume_offset", -1)),
        )
    return None
