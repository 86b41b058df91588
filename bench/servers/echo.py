"""The benchmark's MCP server: the cheapest tool call there is, and a big answer.

    python bench/servers/echo.py [--http PORT]

Tools: ``echo(text)`` answers ``text``; ``big(megabytes)`` answers a text of
that many MiB. Both are unstructured (``structured_output=False``): a ``str``
tool is otherwise also sent as ``structuredContent``, which would put the big
text on the wire twice.

Over stdio, or with ``--http`` on its own Streamable HTTP endpoint,
``http://127.0.0.1:PORT/mcp``, as ``server.run("streamable-http")`` serves it:
sessions for the handshake era, single exchanges for 2026-07-28 (the SDK tells
them apart by the ``MCP-Protocol-Version`` header). Without the access log: a
line written per request is a cost the stdio server does not pay.
"""

from __future__ import annotations

import argparse

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http", type=int, metavar="PORT", help="serve Streamable HTTP instead")
    port = parser.parse_args().http
    if port is None:
        server.run("stdio")
    else:
        server.settings.log_level = "WARNING"  # uvicorn's, which logs each request at INFO
        server.run("streamable-http", host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
