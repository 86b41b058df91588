"""A stdio MCP server for tests whose tools are what a file says, read at start:

    python changing_tools.py FILE

FILE holds JSON ``{"lookup": "its description", "extra": "…"}``: one tool per key,
each answering its own name. Edit the file and restart the server, and its tools
have changed, as a server that rewrites a tool after the user trusted it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer

server = MCPServer("changing-tools")


def add_tool(name: str, description: str) -> None:
    def answer() -> str:
        return name

    server.add_tool(answer, name=name, description=description, structured_output=False)


if __name__ == "__main__":
    for tool, says in json.loads(Path(sys.argv[1]).read_text()).items():
        add_tool(tool, says)
    server.run("stdio")
