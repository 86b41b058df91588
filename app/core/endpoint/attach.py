"""``mcp-tray attach NAME``: what an editor's config starts instead of the server.

It connects the editor's stdio to one server's relay in the hub and pumps
bytes, importing nothing beyond the standard library (editors start it often
and wait for it). It reads just enough of the traffic to survive the hub
itself going away (a restart, an upgrade):

* the editor's ``initialize`` request is kept, so that on reconnecting the
  hub can take the editor back without a second handshake;
* the ids of the editor's requests are tracked until answered, so that a
  request lost with the old hub gets an error instead of waiting forever.

When the hub is gone for longer than RECONNECT_LIMIT_S (the user quit MCP
Tray), the command exits and the editor sees the server disconnect.

With no hub running it starts one and waits for it, bounded. When the hub
refuses (no such server) or cannot be reached, the editor gets a JSON-RPC
error in answer to its first request, saying what to do, and the command
exits with status 1.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.endpoint import protocol
from app.core.rpc.errors import HUB_RESTARTED, HUB_UNAVAILABLE
from app.core.rpc.heads import HEAD_BYTES, early_id, early_method, valid_id

HUB_START_TIMEOUT_S = 30.0  # a hub's first start may compile bytecode on a cold machine
RECONNECT_LIMIT_S = 60.0  # how long to look for a hub that went away before giving up
RECONNECT_LIMIT_ENV = "MCP_TRAY_ATTACH_RECONNECT_S"  # another limit, in seconds
CONNECT_RETRY_S = 0.05  # first pause between connection attempts; it doubles to 1 s
REPLY_TIMEOUT_S = 10.0
FIRST_REQUEST_TIMEOUT_S = 30.0  # when refusing, how long to wait for the editor's first request
# Each direction reads into a buffer of its own, made once: a read that allocated this
# much every time would cost the kernel a map, a remap and an unmap per message (malloc
# serves large blocks that way), more than the message's whole trip through the hub.
CHUNK = 256 * 1024


class HubGone(Exception):
    """The connection to the hub ended while the editor was still attached."""


class Bridge:
    """The editor's stdio on one side, the hub's socket on the other."""

    def __init__(self, socket_path: Path, name: str, *, config: Path | None = None) -> None:
        self._socket_path = socket_path
        self._name = name
        self._config = config  # for a hub this command starts
        self._connection: socket.socket | None = None
        self._connected = threading.Condition()
        self._initialize: Any = None  # the editor's initialize params, for a resume
        self._outstanding: dict[str, Any] = {}  # json of each unanswered request id -> id
        self._stdin_closed = False

    def run(self) -> int:
        refusal = self._attach(resume=False)
        if refusal is not None:
            return _refuse(*refusal)
        threading.Thread(target=self._editor_to_hub, daemon=True).start()
        while True:
            try:
                self._hub_to_editor()
                return 0
            except HubGone:
                if self._stdin_closed:
                    return 0
                self._fail_outstanding(
                    HUB_RESTARTED,
                    "MCP Tray restarted while this request was running; try it again.",
                )
                if not self._reconnect():
                    # What the editor asked meanwhile must not wait for an answer forever.
                    self._fail_outstanding(
                        HUB_UNAVAILABLE,
                        "MCP Tray stopped and did not come back; start it again, then retry.",
                    )
                    print(
                        "mcp-tray attach: lost MCP Tray and could not reach it again",
                        file=sys.stderr,
                    )
                    return 1

    # ----- connecting

    def _attach(self, *, resume: bool) -> tuple[int, str] | None:
        """Connect and ask for the server; return (code, message) when refused."""
        connection = _connect(self._socket_path)
        if connection is None and not resume:
            connection = _start_hub_and_connect(self._socket_path, self._config)
        if connection is None:
            return HUB_UNAVAILABLE, (
                "MCP Tray is not running and could not be started; run `mcp-tray serve` "
                "in a terminal to see why (often an error in its config, `mcp-tray config check`)."
            )
        connection.settimeout(REPLY_TIMEOUT_S)
        arguments: dict[str, Any] = {"name": self._name}
        if resume:
            arguments["resume"] = {"initialize": self._initialize}
        try:
            connection.sendall(protocol.request("attach", **arguments))
            reply = _read_reply(connection)
        except OSError:
            reply = {"ok": False, "error": "MCP Tray did not answer; see its log (hub.log)."}
        if not reply.get("ok"):
            connection.close()
            return int(reply.get("code", HUB_UNAVAILABLE)), str(reply.get("error"))
        connection.settimeout(None)
        with self._connected:
            self._connection = connection
            self._connected.notify_all()
        return None

    def _reconnect(self) -> bool:
        """Wait for a hub to come back (a restart, an upgrade); bounded.

        It does not start one itself: a hub that went away because the user
        quit MCP Tray must stay gone.
        """
        deadline = time.monotonic() + _reconnect_limit()
        pause = CONNECT_RETRY_S
        while time.monotonic() < deadline:
            if self._attach(resume=True) is None:
                return True
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
        return False

    # ----- pumping

    def _editor_to_hub(self) -> None:
        lines = _LineHeads(self._note_request)
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        while count := os.readv(0, [buffer]):
            lines.feed(buffer, count)
            self._send(view[:count])
        self._stdin_closed = True
        with self._connected, contextlib.suppress(OSError):
            if self._connection is not None:
                self._connection.shutdown(socket.SHUT_WR)  # the hub closes its side in turn

    def _send(self, data: bytes | memoryview) -> None:
        """Send to the hub, waiting through a reconnection if one is under way."""
        while True:
            with self._connected:
                connection = self._connection
            if connection is not None:
                try:
                    connection.sendall(data)
                    return
                except OSError:
                    pass
            with self._connected:
                if self._connection is connection:
                    self._connected.wait(timeout=RECONNECT_LIMIT_S)

    def _hub_to_editor(self) -> None:
        assert self._connection is not None
        connection = self._connection
        lines = _LineHeads(self._note_answer)
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        while True:
            try:
                count = connection.recv_into(buffer)
            except OSError:
                count = 0
            if not count:
                connection.close()
                with self._connected:
                    if self._connection is connection:
                        self._connection = None
                if self._stdin_closed:
                    return
                raise HubGone()
            _write_all(1, view[:count])  # the editor first; the bookkeeping can wait
            lines.feed(buffer, count)

    # ----- what the pump reads of the traffic

    def _note_request(self, head: bytes, whole: bool) -> None:
        message = _parse(head, whole)
        if message is None or "method" not in message or not valid_id(message.get("id")):
            return
        if message["method"] == "initialize":
            self._initialize = message.get("params")
        self._outstanding[json.dumps(message["id"])] = message["id"]

    def _note_answer(self, head: bytes, whole: bool) -> None:
        if not self._outstanding:
            return
        message = _parse(head, whole)
        if message is not None and "method" not in message and "id" in message:
            self._outstanding.pop(json.dumps(message["id"]), None)

    def _fail_outstanding(self, code: int, why: str) -> None:
        """Requests no hub will answer: answer them, or the editor waits forever."""
        for key, request_id in list(self._outstanding.items()):
            if self._outstanding.pop(key, None) is None:
                continue  # answered meanwhile
            error = {"code": code, "message": why}
            _write_all(1, protocol.encode({"jsonrpc": "2.0", "id": request_id, "error": error}))


class _LineHeads:
    """Finds line ends in a byte stream and hands on each line's first bytes.

    Only the head of a line is kept (all of it up to HEAD_BYTES), so a
    50 MB message costs a newline search and nothing more.
    """

    def __init__(self, on_line: Callable[[bytes, bool], None]) -> None:
        self._on_line = on_line
        self._head = bytearray()
        self._length = 0

    def feed(self, data: bytes | bytearray, length: int | None = None) -> None:
        """The next bytes of the stream: ``data``, or its first ``length`` bytes."""
        length = len(data) if length is None else length
        start = 0
        while (end := data.find(b"\n", start, length)) != -1:
            self._keep(data, start, end)
            self._on_line(bytes(self._head), self._length <= HEAD_BYTES)
            self._head.clear()
            self._length = 0
            start = end + 1
        self._keep(data, start, length)

    def _keep(self, data: bytes | bytearray, start: int, end: int) -> None:
        room = HEAD_BYTES - len(self._head)
        if room > 0:
            self._head += data[start : min(end, start + room)]
        self._length += end - start


def _parse(head: bytes, whole: bool) -> dict[str, Any] | None:
    """A message's id and method, read from its first bytes where they usually stand.

    A full parse only where that reading falls short: an ``initialize`` (its
    params are kept), or a whole message whose id comes late. Parsing every
    message in full would cost the editor time on every call.
    """
    request_id = early_id(head)
    if request_id is None:
        return _parse_whole(head) if whole and b'"id"' in head else None
    early: dict[str, Any] = {"id": request_id}
    if (method := early_method(head)) is not None:
        early["method"] = method
        if method == "initialize" and whole:
            return _parse_whole(head)
    return early


def _parse_whole(line: bytes) -> dict[str, Any] | None:
    try:
        parsed: Any = json.loads(line)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _reconnect_limit() -> float:
    try:
        return float(os.environ[RECONNECT_LIMIT_ENV])
    except (KeyError, ValueError):
        return RECONNECT_LIMIT_S


def attach(socket_path: Path, name: str, *, config: Path | None = None) -> int:
    return Bridge(socket_path, name, config=config).run()


def _connect(socket_path: Path) -> socket.socket | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(socket_path))
    except OSError:
        connection.close()
        return None
    return connection


def _start_hub(config: Path | None) -> subprocess.Popen[bytes]:
    config_option = ["--config", str(config)] if config is not None else []
    return subprocess.Popen(
        [sys.executable, "-m", "app", *config_option, "serve"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # it logs to hub.log; nobody would read a pipe
        start_new_session=True,  # the hub must outlive this editor session
    )


def _start_hub_and_connect(socket_path: Path, config: Path | None) -> socket.socket | None:
    """Start ``mcp-tray serve`` and wait until it listens (bounded; at once if it exits)."""
    hub = _start_hub(config)
    deadline = time.monotonic() + HUB_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if (connection := _connect(socket_path)) is not None:
            return connection
        if hub.poll() is not None:
            # Exited: another hub won the race to start (then connect), or it failed.
            return _connect(socket_path)
        time.sleep(CONNECT_RETRY_S)
    return None


def _read_reply(connection: socket.socket) -> dict[str, Any]:
    line = b""
    while not line.endswith(b"\n"):
        chunk = connection.recv(1)  # byte by byte: what follows the reply is the relay's
        if not chunk:
            break
        line += chunk
    try:
        return protocol.decode(line)
    except protocol.ProtocolError:
        return {"ok": False, "error": "MCP Tray closed the connection; see its log (hub.log)."}


def _write_all(fd: int, data: bytes | memoryview) -> None:
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
