"""``boltctl top``: a live terminal dashboard of Bolt nodes (textual + rich).

The dashboard is a normal client: it connects like ``boltctl`` does, sends
one ``STATS`` request per refresh (and a ``CLUSTER`` request every few
seconds), and computes every rate from the server's cumulative counters.
textual runs on asyncio, so the dashboard drives the SDK's blocking
:class:`bolt.client.BoltClient` from worker threads (:mod:`bolt.tui._client`):
the protocol, the handshake and the typed errors are the SDK's.

Modules: :mod:`._model` (pure: replies to frames), :mod:`._views` (the
frames, sorting, filtering), :mod:`._format` (numbers), :mod:`._layout`
(what fits the terminal), :mod:`._client` (the SDK off the loop),
:mod:`._replication` and :mod:`._tasks` (pure: the replication and task
panels' figures), :mod:`._widgets`, :mod:`._panels` and :mod:`._node`
(drawing one node), :mod:`._app` (the application).
"""

from bolt.tui._app import EXIT_AUTH_FAILED, INTERVAL_SECONDS_MIN, TopApp, TopOptions
from bolt.tui._client import ConnectSettings, NodeLink, NotConnectedError
from bolt.tui._model import StatsModel
from bolt.tui._replication import ReplicationModel, replication_view
from bolt.tui._tasks import TasksModel
from bolt.tui._views import Frame

__all__ = [
    "EXIT_AUTH_FAILED",
    "INTERVAL_SECONDS_MIN",
    "ConnectSettings",
    "Frame",
    "NodeLink",
    "NotConnectedError",
    "ReplicationModel",
    "StatsModel",
    "TasksModel",
    "TopApp",
    "TopOptions",
    "replication_view",
]
