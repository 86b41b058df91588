"""``mcp-tray attach NAME``: what an editor's config starts instead of the server.

It connects the editor's stdio to one server's relay in the hub, and then
only pumps bytes: no JSON parsing on the data path, and nothing imported
beyond the standard library (editors start it often and wait for it). With
no hub running it starts one and waits for it, bounded. When the hub
refuses (no such server) or cannot be reached, the editor gets a JSON-RPC
error in answer to its first request, saying what to do, and the command
exits with status 1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from app.core.endpoint import protocol
from app.core.rpc.errors import HUB_UNAVAILABLE

HUB_START_TIMEOUT_S = 30.0  # a hub's first start may compile bytecode on a cold machine
CONNECT_RETRY_S = 0.05  # how often to look for the socket of a hub that is starting
REPLY_TIMEOUT_S = 10.0
FIRST_REQUEST_TIMEOUT_S = 30.0  # when refusing, how long to wait for the editor's first request
CHUNK = 256 * 1024


def attach(socket_path: Path, name: str) -> int:
    connection = _connect(socket_path) or _start_hub_and_connect(socket_path)
    if connection is None:
        return _refuse(
            HUB_UNAVAILABLE,
            "MCP Tray is not running and could not be started; "
            "start it from your applications menu or run `mcp-tray serve`.",
        )
    with connection:
        connection.settimeout(REPLY_TIMEOUT_S)
        connection.sendall(protocol.request("attach", name=name))
        reply = _read_reply(connection)
        if not reply.get("ok"):
            return _refuse(int(reply.get("code", HUB_UNAVAILABLE)), str(reply.get("error")))
        connection.settimeout(None)
        _pump(connection)
    return 0


def _connect(socket_path: Path) -> socket.socket | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(socket_path))
    except OSError:
        connection.close()
        return None
    return connection


def _start_hub_and_connect(socket_path: Path) -> socket.socket | None:
    """Start ``mcp-tray serve`` in its own session and wait until it listens."""
    subprocess.Popen(
        [sys.executable, "-m", "app", "serve"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the hub must outlive this editor session
    )
    deadline = time.monotonic() + HUB_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if (connection := _connect(socket_path)) is not None:
            return connection
        time.sleep(CONNECT_RETRY_S)
    return None


def _read_reply(connection: socket.socket) -> dict[str, Any]:
    line = b""
    while not line.endswith(b"\n"):
        chunk = connection.recv(4096)
        if not chunk:
            break
        line += chunk
    try:
        return protocol.decode(line)
    except protocol.ProtocolError:
        return {"ok": False, "error": "MCP Tray closed the connection; see its log (hub.log)."}


def _pump(connection: socket.socket) -> None:
    """Editor → hub on a thread, hub → editor here, until either side ends."""
    upward = threading.Thread(target=_stdin_to_socket, args=(connection,), daemon=True)
    upward.start()
    while data := connection.recv(CHUNK):
        _write_all(1, data)


def _stdin_to_socket(connection: socket.socket) -> None:
    try:
        while data := os.read(0, CHUNK):
            connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)  # the editor is done; the hub closes its side
    except OSError:
        pass  # the hub went away; the main loop sees it too


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _refuse(code: int, message: str) -> int:
    """Answer the editor's first request with an error it can show, then give up."""
    request_id = _first_request_id()
    error = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    _write_all(1, (json.dumps(error) + "\n").encode())
    print(f"mcp-tray attach: {message}", file=sys.stderr)
    return 1


def _first_request_id() -> Any:
    ready = threading.Event()
    line: list[bytes] = []

    def read_line() -> None:
        line.append(sys.stdin.buffer.readline())
        ready.set()

    threading.Thread(target=read_line, daemon=True).start()
    if not ready.wait(FIRST_REQUEST_TIMEOUT_S) or not line[0]:
        return None
    try:
        message = json.loads(line[0])
    except ValueError:
        return None
    return message.get("id") if isinstance(message, dict) else None
