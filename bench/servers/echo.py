"""The benchmark's MCP server: the cheapest tool call there is, and a big answer.

    python bench/servers/echo.py

Tools: ``echo(text)`` answers ``text``; ``big(megabytes)`` answers a text of
that many MiB. Both are unstructured (``structured_output=False``): a ``str``
tool is otherwise also sent as ``structuredContent``, which would put the big
text on the wire twice.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server = MCPServer("mcp-tray bench")


@server.tool(structured_output=False)
def echo(text: str) -> str:
    """Answer ``text`` unchanged."""
    return text


@server.tool(structured_output=False)
def big(megabytes: int) -> str:
    """Answer a text of ``megabytes`` MiB."""
    return "x" * (megabytes * 1024 * 1024)


if __name__ == "__main__":
    server.run("stdio")
