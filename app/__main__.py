"""``python -m app``: the same as the ``mcp-tray`` command."""

from app.cli import main

raise SystemExit(main())
