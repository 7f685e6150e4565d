"""The seed's import name for the Bolt SDK: a re-export of :mod:`bolt.client`.

``from bolt_client import BoltClient, ConnectionError`` keeps working for
code written against the earlier implementation. ``ConnectionError`` and
``PermissionError`` here are Bolt classes that subclass the builtins of the
same name. The exported names are exactly ``bolt.client.__all__``.
"""

from bolt.client import *  # noqa: F403 - a deliberate, complete re-export
from bolt.client import __all__ as __all__
