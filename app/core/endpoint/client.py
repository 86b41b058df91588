"""The command line's side of the control socket: plain blocking sockets, quick to import."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.endpoint import protocol
from app.core.errors import UserError

HOW_TO_START = "Start it with `mcp-tray` (tray icon) or `mcp-tray serve` (no window)."


class HubNotRunning(UserError):
    """No MCP Tray listens on the control socket; the message says how to start one."""

    def __init__(self) -> None:
        super().__init__(f"MCP Tray is not running. {HOW_TO_START}")


class HubRefused(UserError):
    """The running MCP Tray said no; the message is its reason, written for the user."""


def call(socket_path: Path, op: str, *, timeout: float = 30.0, **arguments: Any) -> Any:
    """Send one request and return its result."""
    with _connect(socket_path, timeout) as connection:
        connection.sendall(protocol.request(op, **arguments))
        return _result(_read_line(connection.makefile("rb")))


def stream(socket_path: Path, op: str, *, timeout: float = 10.0, **arguments: Any) -> Iterator[Any]:
    """Yield the reply's result (given ``timeout`` seconds to come), then each streamed
    line until the hub hangs up."""
    with _connect(socket_path, timeout) as connection:
        connection.sendall(protocol.request(op, **arguments))
        incoming = connection.makefile("rb")
        yield _result(_read_line(incoming))
        connection.settimeout(None)  # following waits as long as the user likes
        for line in incoming:
            yield protocol.decode(line).get("line")


def is_running(socket_path: Path) -> bool:
    try:
        call(socket_path, "hello", timeout=2.0)
    except (HubNotRunning, HubRefused, OSError):
        return False
    return True


def _connect(socket_path: Path, timeout: float) -> socket.socket:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(timeout)
    try:
        connection.connect(str(socket_path))
    except (FileNotFoundError, ConnectionRefusedError):
        connection.close()
        raise HubNotRunning() from None
    return connection


def _read_line(incoming: Any) -> dict[str, Any]:
    line = incoming.readline()
    if not line:
        raise HubRefused("MCP Tray closed the connection without answering; see its log (hub.log)")
    return protocol.decode(line)


def _result(reply: dict[str, Any]) -> Any:
    if not reply.get("ok"):
        raise HubRefused(
            str(reply.get("error", "MCP Tray refused without saying why; see its log (hub.log)"))
        )
    return reply.get("result")
