"""The seed's import name for task coordination: a re-export of :mod:`bolt.agents`.

``from bolt_agents import TaskCoordinator, Task, TaskStatus`` keeps working for
code written against the earlier implementation. The exported names are
exactly ``bolt.agents.__all__``.
"""

from bolt.agents import *  # noqa: F403 - a deliberate, complete re-export
from bolt.agents import __all__ as __all__
