"""A real MCPServer that uses a secret from its environment, and is careless with it.

    python secretive.py [VARIABLE]

At start it prints ``using token VALUE`` to stderr, VALUE being the
environment variable VARIABLE (default ``API_TOKEN``), as a careless server
might; the redaction tests check that the value never reaches a log. The tool
``token`` answers the value, so tests can tell which server got which secret.
"""

from __future__ import annotations

import os
import sys

from mcp.server.mcpserver import MCPServer

VARIABLE = sys.argv[1] if len(sys.argv) > 1 else "API_TOKEN"
server = MCPServer("secretive")


@server.tool()
def token() -> str:
    return os.environ.get(VARIABLE, "<unset>")


if __name__ == "__main__":
    print(f"using token {os.environ.get(VARIABLE, '<unset>')}", file=sys.stderr, flush=True)
    server.run()
