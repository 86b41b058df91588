"""A real MCPServer whose one tool answers the ANSWER written below, for hot-restart tests.

Tests and bench/reload.py copy this file into a project folder and rewrite the
ANSWER line (``with_answer``) to play a person editing the server's code.
"""

from mcp.server.mcpserver import MCPServer

ANSWER = "v0"
server = MCPServer("edited")


@server.tool()
def answer() -> str:
    return ANSWER


if __name__ == "__main__":
    server.run()
