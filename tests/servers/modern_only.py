"""A server of spec revision 2026-07-28 only, NDJSON on stdin and stdout, no MCP SDK.

    python modern_only.py

It refuses the handshake, so MCP Tray must find it with ``server/discover``:

initialize         error -32601 "initialize is gone"
server/discover    2026-07-28 only; capabilities: tools
tools/list         one tool, ``envelope``
tools/call         ``envelope``: the ``_meta`` the request came with, as JSON text
anything else      error -32601

Notifications are ignored.
"""

from __future__ import annotations

import json
import sys
from typing import Any

REVISION = "2026-07-28"
NOT_FOUND = -32601
DISCOVERED = {
    "supportedVersions": [REVISION],
    "capabilities": {"tools": {}},
    "resultType": "complete",
    "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "modern-only", "version": "1"}},
}
ENVELOPE_TOOL = {
    "name": "envelope",
    "description": "Answers the _meta its call came with, as JSON text.",
    "inputSchema": {"type": "object", "properties": {}},
}


def main() -> None:
    for line in sys.stdin:
        if line.strip():
            message = json.loads(line)
            if "id" in message and "method" in message:
                answer(message)


def answer(request: dict[str, Any]) -> None:
    method, params = request["method"], request.get("params") or {}
    if method == "server/discover":
        reply(request["id"], result=DISCOVERED)
    elif method == "tools/list":
        reply(request["id"], result={"tools": [ENVELOPE_TOOL], "resultType": "complete"})
    elif method == "tools/call" and params.get("name") == "envelope":
        text = json.dumps(params.get("_meta"))
        content = [{"type": "text", "text": text}]
        reply(request["id"], result={"content": content, "resultType": "complete"})
    elif method == "initialize":
        reply(request["id"], error={"code": NOT_FOUND, "message": "initialize is gone"})
    else:
        reply(request["id"], error={"code": NOT_FOUND, "message": f"no method {method}"})


def reply(request_id: Any, **outcome: Any) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": request_id, **outcome}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
