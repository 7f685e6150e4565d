"""``python -m bolt`` runs the daemon (the same as the ``bolt`` console script)."""

from bolt.cli.daemon import main

raise SystemExit(main())
