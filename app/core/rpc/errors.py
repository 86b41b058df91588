"""JSON-RPC errors the hub makes itself, in one place.

Codes sit outside the range the JSON-RPC spec reserves (-32768..-32000), so a
client can tell an MCP Tray error from one its server sent. Each message says
what happened and what the user can do; the README's table lists them.
"""

from __future__ import annotations

from typing import Any

# The spec's own codes.
PARSE_ERROR = -32700  # a client line that is not JSON
INVALID_REQUEST = -32600  # JSON, but not a JSON-RPC 2.0 message MCP allows
METHOD_NOT_FOUND = -32601  # for methods the hub refuses by design
INVALID_PARAMS = -32602  # a 2026-07-28 request whose envelope lacks a required key
UNSUPPORTED_PROTOCOL_VERSION = -32022  # 2026-07-28: an envelope naming a revision not served

SERVER_CRASHED = -31001  # the server died during a call that is not safe to repeat
SERVER_UNAVAILABLE = -31002  # the server is parked (crash-loop), stopped, or waiting for a secret
SERVER_TIMEOUT = -31003  # the server did not come back in time to answer
UNKNOWN_SERVER = -31004  # attach named a server the config does not have
HUB_UNAVAILABLE = -31005  # the attach command found no hub and could not start one
NO_CLIENT_FOR_REQUEST = -31006  # the server asked for sampling/elicitation and no client can
HUB_RESTARTED = -31007  # MCP Tray itself restarted while the request was running
NOT_BRIDGED = -31008  # a 2026-07-28 feature MCP Tray cannot relay to a handshake-era server yet

# The requests a 2026-07-28 client can be answered input_required on (app.core.rpc.modern).
_CARRIERS = "tools/call, prompts/get or resources/read"


def error_response(request_id: Any, code: int, message: str, *, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def invalid_request(request_id: Any, problem: str) -> dict[str, Any]:
    return error_response(request_id, INVALID_REQUEST, f"Invalid request: {problem}")


def call_lost(request_id: Any, server: str, *, planned: bool) -> dict[str, Any]:
    """The server ended during a call that is not safe to repeat."""
    if planned:
        text = (
            f"{server} was restarted before this call finished; "
            "the call was not repeated because it may already have had effects."
        )
    else:
        text = (
            f"{server} crashed while handling this call and was restarted; the call was "
            "not repeated because it may already have had effects. Try it again."
        )
    return error_response(request_id, SERVER_CRASHED, text)


def not_back(server: str, waited_s: float) -> str:
    """Why a request that waited for its server to come back gave up (SERVER_TIMEOUT)."""
    return f"{server} did not come back within {waited_s:g} seconds; see `mcp-tray logs {server}`."


def no_client_for(request_id: Any, method: str) -> dict[str, Any]:
    """The server asked something of a client, and no attached client can answer it."""
    text = f"no attached client can answer {method} (none declared that capability)"
    return error_response(request_id, NO_CLIENT_FOR_REQUEST, text)


def client_cannot(request_id: Any, method: str) -> dict[str, Any]:
    """The server asked the client of one request for input it cannot give."""
    text = f"the client cannot answer {method}: it did not declare that capability"
    return error_response(request_id, NO_CLIENT_FOR_REQUEST, text)


def client_left(request_id: Any) -> dict[str, Any]:
    """The client a server's request went to disconnected before answering it."""
    text = "the client this request went to disconnected before answering"
    return error_response(request_id, NO_CLIENT_FOR_REQUEST, text)


def not_bridged(request_id: Any, method: str) -> dict[str, Any]:
    """The server's own request (``method``) asked during a 2026-07-28 request that
    cannot carry it to that client."""
    text = (
        f"MCP Tray passes the server's {method} to a client speaking 2026-07-28 only "
        f"during its {_CARRIERS} (in an input_required result)"
    )
    return error_response(request_id, NOT_BRIDGED, text)


def ambiguous_input(request_id: Any, method: str, calls: int) -> dict[str, Any]:
    """The server asked during several calls, one of a client speaking 2026-07-28 at
    least, and none can be told it is its own."""
    text = (
        f"{calls} calls are running, of clients speaking 2026-07-28 among others, and MCP "
        f"Tray cannot tell which one asks this {method}; it is given to none of them"
    )
    return error_response(request_id, NOT_BRIDGED, text)


def not_retried(request_id: Any, waited_s: float) -> dict[str, Any]:
    """A 2026-07-28 client given this request (input_required) did not retry in time."""
    text = (
        f"the client was given this request in an input_required result and did not "
        f"retry within {waited_s:g} seconds; its call was cancelled"
    )
    return error_response(request_id, NO_CLIENT_FOR_REQUEST, text)


def call_cancelled(request_id: Any) -> dict[str, Any]:
    """A 2026-07-28 client given this request (input_required) cancelled its call."""
    text = "the client was given this request in an input_required result and cancelled its call"
    return error_response(request_id, NO_CLIENT_FOR_REQUEST, text)


def crowded_out(request_id: Any, rounds: int) -> dict[str, Any]:
    """A 2026-07-28 client given this request (input_required) had not retried when
    newer ones took its place (at most ``rounds`` wait: app.core.rpc.modern)."""
    text = (
        "the client was given this request in an input_required result and had not "
        f"retried when newer ones took its place (at most {rounds} wait for a retry); "
        "its call was cancelled"
    )
    return error_response(request_id, NO_CLIENT_FOR_REQUEST, text)


def not_asked(request_id: Any, why: str) -> dict[str, Any]:
    """A server of 2026-07-28 answered a handshake-era client's request input_required,
    and the input could not be had (app.core.rpc.modern_server)."""
    text = f"the server needs more input to finish this request, and {why}"
    return error_response(request_id, NO_CLIENT_FOR_REQUEST, text)
