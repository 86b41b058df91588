"""``python -m app.demo``: serve the demo MCP server on stdio.

Stdout is the MCP channel, so everything here writes to stderr; while serving,
the SDK's ``stdio_server`` also points fd 1 at stderr, so a stray ``print``
cannot corrupt the protocol either.
"""

from __future__ import annotations

import logging
import sys

from app.core.paths import default_paths
from app.demo.server import NOTES_FILE_NAME, NoteStore, build_server

logger = logging.getLogger("app.demo")


def main() -> int:
    # Configured before the server exists: MCPServer's own logging set-up is a
    # basicConfig() and so leaves a configured root logger alone.
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    store = NoteStore(default_paths().data_dir / NOTES_FILE_NAME)
    logger.info("Serving on stdio; notes are kept in %s", store.path)
    build_server(store).run("stdio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
