"""A real MCPServer that prints its secret to stderr in every form careless servers use.

    python leaky.py [VARIABLE]

At start it writes the environment variable VARIABLE (default ``PRIVATE_KEY``)
as it is (several lines, for a PEM key), JSON-escaped, in a Python ``repr``,
JavaScript-style in single quotes, and URL-encoded in a query string; then a
line with ordinary words, and :data:`DONE` last, so a test can wait for it.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.parse

from mcp.server.mcpserver import MCPServer

DONE = "leaky: done printing"
VARIABLE = sys.argv[1] if len(sys.argv) > 1 else "PRIVATE_KEY"
server = MCPServer("leaky")


@server.tool()
def ping() -> str:
    return "pong"


def leak(value: str) -> None:
    single_quoted = "'" + json.dumps(value)[1:-1].replace("'", "\\'") + "'"
    lines = [
        "loaded key:",
        value,
        json.dumps({"level": "debug", "key": value}),
        repr({"key": value}),
        f"config = {{ key: {single_quoted} }}",
        f"GET https://api.example.invalid/v1?key={urllib.parse.quote(value, safe='')}",
        f"POST body: key={urllib.parse.quote_plus(value)}",
        "the server is running and starting its work",
        DONE,
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)


if __name__ == "__main__":
    leak(os.environ.get(VARIABLE, "<unset>"))
    server.run()
