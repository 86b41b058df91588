"""How many tools a running server offers, asked as an app would ask it: through the hub.

The hub's status says whether a server runs, not what it offers; the Add
dialog's "running, with 9 tools" is the proof a person wants that the server
is useful. So this attaches to the server's relay over the control socket
(as ``mcp-tray attach`` does), says ``initialize`` (the hub answers it from
the server's cached handshake) and lists the tools. Blocking: run it on a
worker thread. Any trouble is None, and the dialog says "running" without a
number.
"""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from typing import Any

from app.core.endpoint import protocol

logger = logging.getLogger(__name__)

TOOLS_TIMEOUT_S = 10.0  # the server runs already; a list takes it milliseconds
MOST_PAGES = 20  # a server that pages on and on is counted as far as this
PROTOCOL_REVISION = "2025-06-18"


def count_tools(socket_path: Path, server: str) -> int | None:
    """The number of tools ``server`` lists, or None when it could not be asked."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(TOOLS_TIMEOUT_S)
            connection.connect(str(socket_path))
            return _count(connection, server)
    except (OSError, ValueError, KeyError, TypeError) as error:
        logger.info("could not count %s's tools: %s", server, error)
        return None


def _count(connection: socket.socket, server: str) -> int | None:
    incoming = connection.makefile("rb")
    connection.sendall(protocol.request("attach", name=server))
    if not protocol.decode(incoming.readline()).get("ok"):
        return None
    hello = {
        "protocolVersion": PROTOCOL_REVISION,
        "capabilities": {},
        "clientInfo": {"name": "mcp-tray-add-dialog", "version": "1"},
    }
    _send(connection, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": hello})
    _answer(incoming, 0)
    _send(connection, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    tools, cursor = 0, None
    for page in range(1, MOST_PAGES + 1):
        params: dict[str, Any] = {"cursor": cursor} if cursor else {}
        _send(connection, {"jsonrpc": "2.0", "id": page, "method": "tools/list", "params": params})
        result = _answer(incoming, page)
        if result is None:
            return None
        tools += len(result.get("tools", []))
        cursor = result.get("nextCursor")
        if not cursor:
            break
    return tools


def _send(connection: socket.socket, message: dict[str, Any]) -> None:
    connection.sendall(json.dumps(message).encode() + b"\n")


def _answer(incoming: Any, request_id: int) -> dict[str, Any] | None:
    """The result of request ``request_id``, past the notifications sent meanwhile."""
    while line := incoming.readline():
        message = json.loads(line)
        if message.get("id") == request_id and "method" not in message:
            result = message.get("result")
            return result if isinstance(result, dict) else None
    return None
