"""Bolt's public test kit: run real daemons in tests and tools.

``BoltDaemon.start(data_dir, env=..., args=...)`` spawns the real ``bolt``
process on free ports and waits until it serves; ``.client()`` connects a
``BoltClient``, ``.terminate()`` stops it with SIGTERM, ``.kill()`` with
SIGKILL. See :mod:`bolt.testing._daemon`. ``ManualClock`` is a wall clock
that moves only when a test says so (:mod:`bolt.testing._clock`).
``FaultProxy`` is a TCP proxy that cuts, delays, blackholes or garbles a
link (:mod:`bolt.testing._proxy`); ``LocalCluster`` runs N real nodes on
loopback, optionally with a proxy on every link (:mod:`bolt.testing._cluster`).
"""

from bolt.testing._clock import ManualClock
from bolt.testing._cluster import LocalCluster, digest_instant, free_port
from bolt.testing._daemon import READY_LINE, BoltDaemon, DaemonStartError, clean_environment
from bolt.testing._proxy import FaultProxy

__all__ = [
    "READY_LINE",
    "BoltDaemon",
    "DaemonStartError",
    "FaultProxy",
    "LocalCluster",
    "ManualClock",
    "clean_environment",
    "digest_instant",
    "free_port",
]
