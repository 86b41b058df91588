"""A remote MCP server for tests, on http://127.0.0.1:PORT/mcp (Streamable HTTP) or,
with ``--sse``, http://127.0.0.1:PORT/sse (the old HTTP+SSE transport).

    python remote_echo.py PORT [--sse] [--token TOKEN] [--strict-version] [--auth-server URL]

Tools: ``echo(text)`` answers ``text``; ``pid()`` answers the server's process id,
so a test can tell one life of the server from the next; ``hang()`` says "hanging"
on stderr and never answers. With ``--token``, a
request without ``Authorization: Bearer TOKEN`` gets 401, as from a server that
wants a key; with ``--strict-version``, a request in a session without
``MCP-Protocol-Version`` gets 400, as the spec lets a server answer.

With ``--auth-server URL`` (tests/servers/auth_server.py), it is an OAuth-protected
resource: a request needs a bearer token that URL's /introspect says is active, with
scope ``mcp``, and issued for this server's URL when it was issued for any resource.
Without one it gets 401 and ``WWW-Authenticate: Bearer error="invalid_token",
error_description="Authentication required", resource_metadata="<its RFC 9728
metadata>"``, published at /.well-known/oauth-protected-resource/mcp (/sse with
``--sse``) with ``authorization_servers: [URL]``.

It prints "listening" on stderr once it takes connections.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import anyio
import httpx2
import uvicorn
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from starlette.responses import PlainTextResponse

SCOPE = "mcp"  # the one scope tests/servers/auth_server.py grants
INTROSPECTION_TIMEOUT_S = 10.0  # the authorization server is a local process


def echo(text: str) -> str:
    """Answer ``text`` unchanged."""
    return text


def pid() -> str:
    """This server process's id."""
    return str(os.getpid())


async def hang() -> str:
    """Says "hanging" on stderr, then never answers: a call the server is running."""
    print("hanging", file=sys.stderr, flush=True)
    await anyio.sleep_forever()
    return ""


def mcp_server(auth_server: str | None, resource: str) -> MCPServer:
    """The server and its tools; with ``auth_server``, an OAuth-protected resource at
    ``resource``, whose tokens that server vouches for."""
    if auth_server is None:
        server = MCPServer("remote-echo")
    else:
        server = MCPServer(
            "remote-echo",
            token_verifier=Introspection(auth_server, resource),
            auth=AuthSettings(
                issuer_url=auth_server,
                resource_server_url=resource,
                required_scopes=[SCOPE],
                # Introspection checks the audience itself: a token for no resource passes.
                validate_token_resource=False,
            ),
        )
    for tool in (echo, pid, hang):
        server.add_tool(tool, structured_output=False)
    return server


class Introspection:
    """A TokenVerifier that asks the authorization server (RFC 7662) about each token, and
    takes one issued for another resource as no token."""

    def __init__(self, auth_server: str, resource: str) -> None:
        self.endpoint = auth_server.rstrip("/") + "/introspect"
        self.resource = resource

    async def verify_token(self, token: str) -> AccessToken | None:
        async with httpx2.AsyncClient(timeout=INTROSPECTION_TIMEOUT_S) as client:
            response = await client.post(self.endpoint, data={"token": token})
        answer: dict[str, Any] = response.raise_for_status().json()
        audience = answer.get("aud")
        if not answer.get("active") or not self._is_for_me(audience):
            return None
        return AccessToken(
            token=token,
            client_id=answer["client_id"],
            scopes=answer.get("scope", "").split(),
            expires_at=answer.get("exp"),
            resource=audience,
        )

    def _is_for_me(self, audience: str | None) -> bool:
        return audience is None or audience.rstrip("/") == self.resource.rstrip("/")


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
    parser.add_argument("--auth-server", metavar="URL", help="tokens from this OAuth server")
    options = parser.parse_args()
    path = "/sse" if options.sse else "/mcp"
    resource = f"http://127.0.0.1:{options.port}{path}"
    server = mcp_server(options.auth_server, resource)
    app: Any = server.sse_app() if options.sse else server.streamable_http_app()
    if options.token:
        app = BearerOnly(app, options.token)
    if options.strict_version:
        app = VersionRequired(app)
    config = uvicorn.Config(app, host="127.0.0.1", port=options.port, log_level="warning")
    SayListening(config).run()


if __name__ == "__main__":
    main()
