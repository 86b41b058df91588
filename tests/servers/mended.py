"""A real MCPServer that cannot start until a file exists: a broken server the user mends.

    python mended.py FLAG

While FLAG is missing it writes a fatal line to stderr and exits 3, as a
server with a missing settings file does; once FLAG exists it serves.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer


def main() -> None:
    if not Path(sys.argv[1]).exists():
        print("fatal: its settings file is missing", file=sys.stderr)
        sys.exit(3)
    MCPServer("mended").run("stdio")


if __name__ == "__main__":
    main()
