"""A message's id and method, read from its first bytes, where both MCP SDKs write them.

``mcp-tray attach`` reads the traffic this way instead of parsing every message
in full, and the relay reads the id of a line it cannot parse the same way, so
the two agree on which request an error answers. Standard library only: attach
imports it, and editors wait for attach to start.
"""

from __future__ import annotations

import json
import re
from typing import Any

HEAD_BYTES = 64 * 1024  # how much of a message is read for its id; the rest is only scanned
# An id is a string or an integer; a number followed by anything but "," or "}" (1.5)
# is not one.
_EARLY_ID = re.compile(rb'^\{[^{\[]*?"id":\s*("(?:[^"\\]|\\.)*"|-?\d+)\s*[,}]')
_EARLY_METHOD = re.compile(rb'^\{[^{\[]*?"method":\s*"([^"\\]*)"')


def early_id(head: bytes) -> Any:
    """The id near the start of a message, or None when it is not there."""
    found = _EARLY_ID.match(head[:HEAD_BYTES])
    if found is None:
        return None
    try:
        return json.loads(found[1])
    except ValueError:
        return None


def early_method(head: bytes) -> str | None:
    found = _EARLY_METHOD.match(head[:HEAD_BYTES])
    return found[1].decode(errors="replace") if found else None


def valid_id(value: Any) -> bool:
    """JSON-RPC ids MCP allows: a string or an integer (not a boolean, not null)."""
    return isinstance(value, str | int) and not isinstance(value, bool)
