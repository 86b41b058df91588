"""The command line's side of the control socket: plain blocking sockets, quick to import."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.endpoint import protocol

HOW_TO_START = "Start it with `mcp-tray` (tray icon) or `mcp-tray serve` (no window)."


class HubNotRunning(Exception):
    def __init__(self) -> None:
        super().__init__(f"MCP Tray is not running. {HOW_TO_START}")


class HubRefused(Exception):
    """The hub answered with an error meant for the user."""


def call(socket_path: Path, op: str, *, timeout: float = 30.0, **arguments: Any) -> Any:
    """Send one request and return its result."""
    with _connect(socket_path, timeout) as connection:
        connection.sendall(protocol.request(op, **arguments))
        return _result(_read_line(connection.makefile("rb")))


def stream(socket_path: Path, op: str, **arguments: Any) -> Iterator[Any]:
    """Yield the reply's result, then each streamed line until the hub hangs up."""
    with _connect(socket_path, timeout=10.0) as connection:
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
        raise HubRefused("the hub closed the connection without answering; see its log")
    return protocol.decode(line)


def _result(reply: dict[str, Any]) -> Any:
    if not reply.get("ok"):
        raise HubRefused(str(reply.get("error", "the hub refused the request")))
    return reply.get("result")
