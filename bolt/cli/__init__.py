"""Command-line entry points: ``bolt`` (daemon) and ``boltctl`` (client tools)."""
