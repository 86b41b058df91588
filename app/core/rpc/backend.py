"""The hub's own JSON-RPC conversation with one server process.

The hub performs the MCP handshake itself (that is what "ready" means) and
pings idle servers. It speaks the handshake era, except to a server that
refuses ``initialize`` and answers ``server/discover``, or whose config asks
for 2026-07-28: that one is spoken to at 2026-07-28 through
app.core.rpc.modern_server (why not to every server that could: there).
Requests it makes carry string ids with a ``tray-`` prefix so they can never
collide with the ids the relay forwards for clients. Every message that is
not an answer to one of the hub's requests goes to ``on_message`` with the
bytes it came as, which is where the relay plugs in.
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
from app.core.rpc.framing import MalformedLine, Message, MessageReader, decode, encode
from app.core.rpc.modern_server import ModernServer, handshake_of, own_envelope, speaks_modern

logger = logging.getLogger(__name__)

# The handshake era the hub speaks to every backend (DESIGN: "legacy era").
PROTOCOL_VERSION = "2025-11-25"
_OWN_ID_PREFIX = "tray-"  # ids of the hub's own requests; never forwarded to clients


class ServerInput(Protocol):
    """The server's stdin (app.core.supervise.stdin): writes never wait."""

    @property
    def writable(self) -> bool: ...
    def write(self, data: bytes) -> None:
        """Queue ``data`` after what was written before; ConnectionError when closed."""


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
        writer: ServerInput,
        *,
        name: str,
        on_message: Callable[[Message, bytes], None] | None = None,
        on_malformed: Callable[[MalformedLine], None] | None = None,
        on_line: Callable[[bytes], bool] | None = None,
    ) -> None:
        self.name = name
        self._reader = reader
        self._writer = writer
        self._on_message = on_message
        self._on_line = on_line
        self._on_malformed = on_malformed
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self.initialize_result: dict[str, Any] | None = None
        self.last_message_at = time.monotonic()
        self.closed = False  # the server's stdout ended: nothing sent now can be answered
        self.bytes_sent = 0  # where the next message starts in the server's stdin
        self._modern: ModernServer | None = None  # set when the server speaks 2026-07-28

    @property
    def modern(self) -> bool:
        """Whether the server is spoken to at 2026-07-28 (else at the handshake era)."""
        return self._modern is not None

    @property
    def in_flight(self) -> int:
        """How many of the hub's own requests await an answer."""
        return len(self._pending)

    async def run(self) -> None:
        """Read until the server's stdout ends; then fail every waiting request."""
        try:
            while (line := await self._reader.read_line()) is not None:
                self.last_message_at = time.monotonic()
                if isinstance(line, MalformedLine):
                    self._malformed(line)
                elif self._reader.unterminated or not self._taken_as_it_is(line):
                    message = decode(line)
                    if isinstance(message, MalformedLine):
                        self._malformed(message)
                    elif self._modern is None:
                        self._dispatch(message, line)
                    else:
                        self._translated(self._modern, message, line)
        finally:
            self.closed = True
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(BackendClosed(f"{self.name} closed its output"))
            self._pending.clear()

    @property
    def open(self) -> bool:
        """Whether a request sent now can reach the server and be answered."""
        return not self.closed and self._writer.writable

    def asked_for(self, server_request_id: Any) -> Any | None:
        """The relay's request a server's request is asked for, when known."""
        return None if self._modern is None else self._modern.asked_for(server_request_id)

    def send(self, message: Message, *, capabilities: dict[str, Any] | None = None) -> None:
        """Queue one message for the server, in order; ConnectionError when its input is
        closed. Never waits: a server that stops reading is the health check's to notice.
        ``capabilities``: those of the client a request is made for."""
        if self._modern is not None:
            self._modern.send(message, capabilities)
        else:
            self._write(message)

    def _write(self, message: Message) -> None:
        data = encode(message)
        self._writer.write(data)
        self.bytes_sent += len(data)

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
            self.send(message)
            async with asyncio.timeout(timeout):
                response = await future
        finally:
            self._pending.pop(request_id, None)
        if "error" in response:
            raise RpcError(response["error"] if isinstance(response["error"], dict) else {})
        result = response.get("result")
        return result if isinstance(result, dict) else {}

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: Message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    async def initialize(
        self, *, timeout: float, capabilities: dict[str, Any], revision: str | None = None
    ) -> dict[str, Any]:
        """The MCP handshake, or discovery when the server speaks 2026-07-28: asked
        first with ``revision`` "2026-07-28", else after the server refuses the handshake.
        Its result, as a handshake's, is cached for clients that attach later."""
        if revision is not None:
            found = await self.request(
                "server/discover", {"_meta": own_envelope()}, timeout=timeout
            )
            if not speaks_modern(found):
                versions = found.get("supportedVersions")
                raise RpcError({"message": f"it speaks {versions}, not {revision}"})
            return self._speak_modern(found)
        params = {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": capabilities,
            "clientInfo": {"name": "mcp-tray", "version": __version__},
        }
        try:
            result = await self.request("initialize", params, timeout=timeout)
        except RpcError as refused:
            discovered = await self._discovered(timeout=timeout)
            if discovered is None:
                raise refused from None
            return self._speak_modern(discovered)
        self.notify("notifications/initialized")
        self.initialize_result = result
        return result

    def _speak_modern(self, found: dict[str, Any]) -> dict[str, Any]:
        self._modern = ModernServer(
            found, name=self.name, write=self._write, deliver=self._deliver_soon
        )
        self._modern.start()
        self.initialize_result = handshake_of(found, protocol_version=PROTOCOL_VERSION)
        logger.info("%s is spoken to in MCP %s", self.name, self._modern.revision)
        return self.initialize_result

    async def _discovered(self, *, timeout: float) -> dict[str, Any] | None:
        """The ``server/discover`` answer of a server that refused the handshake, when it
        speaks 2026-07-28; else None."""
        try:
            found = await self.request(
                "server/discover", {"_meta": own_envelope()}, timeout=timeout
            )
        except (RpcError, TimeoutError):
            return None
        return found if speaks_modern(found) else None

    async def ping(self, *, timeout: float) -> None:
        if self._modern is not None:  # ping is gone at 2026-07-28
            await self.request("server/discover", {"_meta": own_envelope()}, timeout=timeout)
        else:
            await self.request("ping", timeout=timeout)

    def _taken_as_it_is(self, line: bytes) -> bool:
        """Whether ``on_line`` routed the line unparsed (an answer it recognised by its
        first bytes): a large tool result then costs a copy instead of a parse. Only
        lines the server ended with a newline are offered: the one a dying server
        left unfinished must be parsed, and refused."""
        if self._on_line is None or self._modern is not None:
            return False  # a 2026-07-28 answer may need translating
        try:
            return self._on_line(line)
        except Exception:
            logger.exception("%s: could not pass on a line it wrote; reading it in full", self.name)
            return False

    def _dispatch(self, message: Message, line: bytes) -> None:
        message_id = message.get("id")
        is_response = "method" not in message and ("result" in message or "error" in message)
        if is_response and isinstance(message_id, str) and message_id.startswith(_OWN_ID_PREFIX):
            future = self._pending.get(message_id)
            if future is None:
                logger.debug("%s answered %s after the hub stopped waiting", self.name, message_id)
            elif not future.done():
                future.set_result(message)
        elif message.get("method") == "ping" and message_id is not None:
            self._answer({"jsonrpc": "2.0", "id": message_id, "result": {}})
        elif self._on_message is not None:
            try:
                self._on_message(message, line)
            except Exception:
                # One message the relay chokes on must not stop the whole stream.
                logger.exception("%s: could not route %s", self.name, _summary(message))
        elif message_id is not None and "method" in message:
            method = message["method"]
            error = {"code": METHOD_NOT_FOUND, "message": f"mcp-tray does not handle {method} here"}
            self._answer({"jsonrpc": "2.0", "id": message_id, "error": error})

    def _translated(self, modern: ModernServer, message: Message, line: bytes) -> None:
        try:
            translated = modern.received(message)
        except Exception:  # one odd message must not end the reading of all after it
            logger.exception("%s: could not translate %s; dropped", self.name, message)
            return
        if translated is not None:
            self._dispatch(translated, line if translated is message else b"")

    def _deliver_soon(self, message: Message) -> None:
        """Take ``message`` as if the server had written it, in the next loop step: the
        relay that sent what it answers is not called back while it sends."""
        asyncio.get_running_loop().call_soon(self._dispatch, message, b"")

    def _answer(self, message: Message) -> None:
        try:
            self._write(message)
        except ConnectionError as error:
            logger.debug("%s: could not answer it: %s", self.name, error)

    def _malformed(self, line: MalformedLine) -> None:
        logger.warning("%s wrote something that is not MCP to stdout: %s", self.name, line)
        if self._on_malformed is not None:
            self._on_malformed(line)


def _summary(message: Message) -> str:
    text = repr(message)
    return text if len(text) <= 200 else text[:200] + "…"
