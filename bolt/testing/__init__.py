"""Bolt's public test kit: run real daemons in tests and tools.

``BoltDaemon.start(data_dir, env=..., args=...)`` spawns the real ``bolt``
process on free ports and waits until it serves; ``.client()`` connects a
``BoltClient``, ``.terminate()`` stops it with SIGTERM, ``.kill()`` with
SIGKILL. See :mod:`bolt.testing._daemon`. ``ManualClock`` is a wall clock
that moves only when a test says so (:mod:`bolt.testing._clock`).
"""

from bolt.testing._clock import ManualClock
from bolt.testing._daemon import READY_LINE, BoltDaemon, DaemonStartError, clean_environment

__all__ = ["READY_LINE", "BoltDaemon", "DaemonStartError", "ManualClock", "clean_environment"]
