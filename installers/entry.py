"""What a bundle runs: the ``mcp-tray`` command line (no arguments: the tray).

The hub starts each server through the small launcher process
(app.core.supervise.launcher); a bundle has no separate Python to run it
with, so the hub runs the bundle's own executable with a marker argument,
and this file hands over to the launcher before the rest is imported.
First of all, the environment becomes the user's again: servers inherit it.
"""

import os
import sys

from app.core.installation import restore_user_environment
from app.core.supervise import launcher  # the standard library only: quick


def run() -> int:
    restore_user_environment(os.environ, getattr(sys, "_MEIPASS", ""))
    if len(sys.argv) > 1 and sys.argv[1] == launcher.BUNDLED_LAUNCHER_ARG:
        return launcher.main(sys.argv[1:])
    from app.cli import main

    return main()


raise SystemExit(run())
