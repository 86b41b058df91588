"""A remote MCP server for tests, on http://127.0.0.1:PORT/mcp (Streamable HTTP) or,
with ``--sse``, http://127.0.0.1:PORT/sse (the old HTTP+SSE transport).

    python remote_echo.py PORT [--sse] [--token TOKEN] [--strict-version]

Tools: ``echo(text)`` answers ``text``; ``pid()`` answers the server's process id,
so a test can tell one life of the server from the next; ``hang()`` says "hanging"
on stderr and never answers. With ``--token``, a
request without ``Authorization: Bearer TOKEN`` gets 401, as from a server that
wants a key; with ``--strict-version``, a request in a session without
``MCP-Protocol-Version`` gets 400, as the spec lets a server answer. It prints
"listening" on stderr once it takes connections.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.responses import PlainTextResponse

server = MCPServer("remote-echo")


@server.tool(structured_output=False)
def echo(text: str) -> str:
    """Answer ``text`` unchanged."""
    return text


@server.tool(structured_output=False)
def pid() -> str:
    """This server process's id."""
    return str(os.getpid())


@server.tool(structured_output=False)
async def hang() -> str:
    """Says "hanging" on stderr, then never answers: a call the server is running."""
    print("hanging", file=sys.stderr, flush=True)
    await anyio.sleep_forever()
    return ""


class BearerOnly:
    """401 for a request without the expected bearer token."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        given = dict(scope.get("headers", ())).get(b"authorization")
        if scope["type"] == "http" and given != self.expected:
            await PlainTextResponse("no key", status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class VersionRequired:
    """400 for a request in a session that does not say its revision."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers", ()))
        if b"mcp-session-id" in headers and b"mcp-protocol-version" not in headers:
            await PlainTextResponse("which revision?", status_code=400)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class SayListening(uvicorn.Server):
    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        print("listening", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--sse", action="store_true", help="the old HTTP+SSE transport")
    parser.add_argument("--token", help="answer 401 without this bearer token")
    parser.add_argument("--strict-version", action="store_true", help="400 without a revision")
    options = parser.parse_args()
    app: Any = server.sse_app() if options.sse else server.streamable_http_app()
    if options.token:
        app = BearerOnly(app, options.token)
    if options.strict_version:
        app = VersionRequired(app)
    config = uvicorn.Config(app, host="127.0.0.1", port=options.port, log_level="warning")
    SayListening(config).run()


if __name__ == "__main__":
    main()
