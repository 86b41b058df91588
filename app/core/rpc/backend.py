"""The hub's own JSON-RPC conversation with one server process.

The hub performs the MCP handshake itself (that is what "ready" means) and
pings idle servers. Requests it makes carry string ids with a ``tray-``
prefix so they can never collide with the ids the relay forwards for
clients. Every message that is not an answer to one of the hub's requests
goes to ``on_message`` with the bytes it came as, which is where the relay
plugs in.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from app import __version__
from app.core.rpc.errors import METHOD_NOT_FOUND
from app.core.rpc.framing import MalformedLine, Message, MessageReader, encode

logger = logging.getLogger(__name__)

# The handshake era the hub speaks to every backend (DESIGN: "legacy era").
PROTOCOL_VERSION = "2025-11-25"
_OWN_ID_PREFIX = "tray-"  # ids of the hub's own requests; never forwarded to clients


class ByteSink(Protocol):
    @property
    def transport(self) -> asyncio.WriteTransport: ...
    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...


class BackendClosed(Exception):
    """The server's stdout ended while the hub was waiting for an answer."""


class RpcError(Exception):
    """The server answered a request with a JSON-RPC error."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.code = int(error.get("code", 0))
        self.text = str(error.get("message", "unknown error"))
        self.data = error.get("data")
        super().__init__(f"{self.text} (code {self.code})")


class BackendSession:
    def __init__(
        self,
        reader: MessageReader,
        writer: ByteSink,
        *,
        name: str,
        on_message: Callable[[Message, bytes], None] | None = None,
        on_malformed: Callable[[MalformedLine], None] | None = None,
    ) -> None:
        self.name = name
        self._reader = reader
        self._writer = writer
        self._on_message = on_message
        self._on_malformed = on_malformed
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._write_lock = asyncio.Lock()
        self.initialize_result: dict[str, Any] | None = None
        self.last_message_at = time.monotonic()
        self.closed = False  # the server's stdout ended: nothing sent now can be answered
        self._answers: set[asyncio.Future[None]] = set()  # answers waiting to be written
        self.bytes_sent = 0  # position in the server's stdin; see ServerProcess.undelivered

    @property
    def in_flight(self) -> int:
        """How many of the hub's own requests await an answer."""
        return len(self._pending)

    async def run(self) -> None:
        """Read until the server's stdout ends; then fail every waiting request."""
        try:
            while (message := await self._reader.read()) is not None:
                self.last_message_at = time.monotonic()
                if isinstance(message, MalformedLine):
                    self._malformed(message)
                else:
                    await self._dispatch(message)
        finally:
            self.closed = True
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(BackendClosed(f"{self.name} closed its output"))
            self._pending.clear()

    async def send(self, message: Message) -> None:
        data = encode(message)
        async with self._write_lock:
            self.bytes_sent += len(data)
            self._writer.write(data)
            await self._writer.drain()

    def send_now(self, message: Message) -> bool:
        """Write without waiting when nothing is queued ahead; False: use send() instead."""
        transport = self._writer.transport
        if self._write_lock.locked() or self.closed or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > 0:
            return False  # let send() wait for the server to catch up
        data = encode(message)
        self.bytes_sent += len(data)
        self._writer.write(data)
        return True

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float
    ) -> dict[str, Any]:
        request_id = f"{_OWN_ID_PREFIX}{next(self._ids)}"
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        message: Message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            await self.send(message)
            async with asyncio.timeout(timeout):
                response = await future
        finally:
            self._pending.pop(request_id, None)
        if "error" in response:
            raise RpcError(response["error"] if isinstance(response["error"], dict) else {})
        result = response.get("result")
        return result if isinstance(result, dict) else {}

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: Message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)

    async def initialize(self, *, timeout: float, capabilities: dict[str, Any]) -> dict[str, Any]:
        """The MCP handshake; its result is cached for clients that attach later."""
        params = {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": capabilities,
            "clientInfo": {"name": "mcp-tray", "version": __version__},
        }
        result = await self.request("initialize", params, timeout=timeout)
        await self.notify("notifications/initialized")
        self.initialize_result = result
        return result

    async def ping(self, *, timeout: float) -> None:
        await self.request("ping", timeout=timeout)

    async def _dispatch(self, message: Message) -> None:
        message_id = message.get("id")
        is_response = "method" not in message and ("result" in message or "error" in message)
        if is_response and isinstance(message_id, str) and message_id.startswith(_OWN_ID_PREFIX):
            future = self._pending.get(message_id)
            if future is None:
                logger.debug("%s answered %s after the hub stopped waiting", self.name, message_id)
            elif not future.done():
                future.set_result(message)
        elif message.get("method") == "ping" and message_id is not None:
            self._answer_soon({"jsonrpc": "2.0", "id": message_id, "result": {}})
        elif self._on_message is not None:
            try:
                self._on_message(message, self._reader.last_line)
            except Exception:
                # One message the relay chokes on must not stop the whole stream.
                logger.exception("%s: could not route %s", self.name, _summary(message))
        elif message_id is not None and "method" in message:
            method = message["method"]
            error = {"code": METHOD_NOT_FOUND, "message": f"mcp-tray does not handle {method} here"}
            self._answer_soon({"jsonrpc": "2.0", "id": message_id, "error": error})

    def _answer_soon(self, message: Message) -> None:
        """Answer without holding up the reading of stdout: waiting for the
        server's stdin to drain from here could deadlock with a server that is
        itself blocked writing to a full stdout."""
        if not self.send_now(message):
            task = asyncio.ensure_future(self.send(message))
            self._answers.add(task)
            task.add_done_callback(self._answered)

    def _answered(self, task: asyncio.Future[None]) -> None:
        self._answers.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.debug("%s: could not answer it: %s", self.name, task.exception())

    def _malformed(self, line: MalformedLine) -> None:
        logger.warning("%s wrote something that is not MCP to stdout: %s", self.name, line)
        if self._on_malformed is not None:
            self._on_malformed(line)


def _summary(message: Message) -> str:
    text = repr(message)
    return text if len(text) <= 200 else text[:200] + "…"
