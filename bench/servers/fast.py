"""The fastest MCP server there is: one tool, ``echo``, answered straight from the pipe.

    python bench/servers/fast.py

Reads JSON lines from stdin and answers ``initialize``, ``ping``,
``tools/list`` and ``tools/call`` (any tool echoes its ``text`` argument),
with nothing between the pipe and the answer but ``json``. Against it, a
round trip measures what the path to the server costs, not the server.
"""

from __future__ import annotations

import json
import sys
from typing import Any

TOOL = {
    "name": "echo",
    "description": "Answer text unchanged.",
    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
}


def answer(method: str, params: dict[str, Any]) -> dict[str, Any]:
    if method == "initialize":
        return {
            "protocolVersion": params.get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "mcp-tray bench fast", "version": "0"},
        }
    if method == "tools/list":
        return {"tools": [TOOL]}
    if method == "tools/call":
        text = str(params.get("arguments", {}).get("text", ""))
        return {"content": [{"type": "text", "text": text}], "isError": False}
    return {}


def main() -> None:
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        message = json.loads(line)
        if "id" not in message or "method" not in message:
            continue  # a notification or an answer: nothing to say
        result = answer(message["method"], message.get("params") or {})
        out.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode())
        out.write(b"\n")
        out.flush()


if __name__ == "__main__":
    main()
