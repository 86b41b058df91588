"""The config a first run writes: one bundled demo server, so the tray has
something working to show before the user has configured anything."""

from __future__ import annotations

import json
from pathlib import Path

from app.core.config.write import write_config_text

DEMO_SERVER_NAME = "demo"


def default_config_text(demo: list[str]) -> str:
    """The default config as pretty JSON; ``demo`` is the command line serving the demo
    (app.core.installation.demo_command)."""
    command, *args = demo
    config = {"mcpServers": {DEMO_SERVER_NAME: {"command": command, "args": args}}}
    # ensure_ascii=False: an interpreter under C:\Users\Jörg should read as written.
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n"


def ensure_config(path: Path, *, demo: list[str]) -> bool:
    """Write the default config unless ``path`` exists; True when it wrote.

    An existing file is never touched, even an invalid one: it is the user's.
    """
    if path.exists() or path.is_symlink():
        return False
    write_config_text(path, default_config_text(demo))
    return True
