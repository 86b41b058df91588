"""JSON-RPC 2.0 envelopes as MCP uses them: what makes a message routable, and
the small reads and rewrites the relay makes of one.

Ids are strings or integers (``valid_id``, shared with ``mcp-tray attach`` in
app.core.rpc.heads); ``params`` is an object. Everything here is pure.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.core.rpc import errors
from app.core.rpc.framing import MalformedLine, Message
from app.core.rpc.heads import early_id, valid_id

# An answer as servers write it: {"jsonrpc": "2.0", "id": N, ...}; the relay's own
# upstream ids are integers, so N is one of them.
_LEADING_ID = re.compile(rb'^\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*(-?\d+)\s*[,}]')
# The same, followed by what makes it an answer: "result" or "error".
_ANSWER_HEAD = re.compile(
    rb'^\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*(-?\d+)\s*,\s*"(?:result|error)"\s*:'
)


def result(request_id: Any, value: Any) -> Message:
    return {"jsonrpc": "2.0", "id": request_id, "result": value}


def notification(method: str, params: dict[str, Any] | None = None) -> Message:
    message: Message = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def params(message: Message) -> dict[str, Any]:
    value = message.get("params")
    return value if isinstance(value, dict) else {}


def cursor(message: Message) -> Any:
    """Which page of a list a request asks for (None: the first)."""
    return params(message).get("cursor")


def id_key(value: Any) -> Any:
    """Ids 1 and "1" are different requests; keep them apart as dict keys."""
    return (type(value).__name__, value)


def envelope_problem(message: Message) -> str | None:
    """What makes a message impossible to route, or None (JSON-RPC 2.0 with MCP's object params)."""
    if "id" in message and not valid_id(message["id"]):
        return "id must be a string or an integer"
    if "method" in message and not isinstance(message["method"], str):
        return "method must be a string"
    if "params" in message and not isinstance(message["params"], dict):
        return "params must be an object"
    if "method" not in message and "id" not in message:
        return "neither a request, a notification nor an answer"
    return None


def unreadable_answer(line: bytes | MalformedLine, problem: MalformedLine) -> Message:
    """The error a client gets for a line that is not a message: -32600 for JSON that is
    not a message object, else -32700 under the id read from the line's start, as
    `mcp-tray attach` reads it, so it can tell which request was answered."""
    if problem.parsed:
        return errors.invalid_request(None, problem.reason)
    head = line if isinstance(line, bytes) else problem.preview.encode()
    return errors.error_response(
        early_id(head), errors.PARSE_ERROR, f"Parse error: {problem.reason}"
    )


def answer_id(raw: bytes) -> int | None:
    """The id of an answer that starts as servers write one (jsonrpc, id, then result
    or error), read from its first bytes without parsing the rest; else None."""
    found = _ANSWER_HEAD.match(raw)
    return int(found[1]) if found is not None else None


def with_id(raw: bytes, new_id: Any) -> bytes | None:
    """``raw`` with its top-level id replaced and a newline, or None when the id is not
    where expected."""
    found = _LEADING_ID.match(raw)
    if found is None:
        return None
    start, end = found.span(1)
    view = memoryview(raw)  # one copy in all, whatever the answer's size
    return b"".join((view[:start], json.dumps(new_id).encode(), view[end:], b"\n"))
