"""JSON-RPC errors the hub makes itself, in one place.

Codes sit outside the range the JSON-RPC spec reserves (-32768..-32000), so a
client can tell an MCP Tray error from one its server sent. Each message says
what happened and what the user can do; the README's table lists them.
"""

from __future__ import annotations

from typing import Any

METHOD_NOT_FOUND = -32601  # the spec's own code, for methods the hub refuses by design

SERVER_CRASHED = -31001  # the server died during a call that is not safe to repeat
SERVER_UNAVAILABLE = -31002  # the server is parked (crash-loop), stopped, or waiting for a secret
SERVER_TIMEOUT = -31003  # the server did not come back in time to answer
UNKNOWN_SERVER = -31004  # attach named a server the config does not have
HUB_UNAVAILABLE = -31005  # the attach command found no hub and could not start one
NO_CLIENT_FOR_REQUEST = -31006  # the server asked for sampling/elicitation and no client can
HUB_RESTARTED = -31007  # MCP Tray itself restarted while the request was running


def error_response(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
