"""The control protocol spoken on the hub's per-user socket.

Newline-delimited JSON. A client sends one request object with the
protocol version, ``{"v": 1, "op": "status"}``, and reads one reply,
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``. A
streaming op (``logs`` with ``follow``) keeps sending ``{"line": ...}``
objects after its reply until the client hangs up. Anything else on the
socket is invalid data: the hub logs why and drops that connection.

This module is imported by the command line, so it stays free of asyncio
and of anything slow to import.
"""

from __future__ import annotations

import json
from typing import Any

PROTOCOL_VERSION = 1
REQUEST_TIMEOUT_S = 5.0  # a client that connects and says nothing is dropped after this
MAX_REQUEST_BYTES = 64 * 1024  # control requests are tiny; anything larger is not one


class ProtocolError(Exception):
    """A message that is not part of the control protocol."""


def request(op: str, **arguments: Any) -> bytes:
    return encode({"v": PROTOCOL_VERSION, "op": op, **arguments})


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProtocolError(f"not JSON: {error}") from None
    if not isinstance(message, dict):
        raise ProtocolError("not a JSON object")
    return message
