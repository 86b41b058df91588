"""A server session in memory, with BackendSession's surface (app.core.rpc.port.Upstream).

What the relay sends the server waits in order for the test to take; the test
speaks as the server (``reply``, ``say``) and decides when its input closes or
a write fails, without any process.
"""

from __future__ import annotations

import json
from typing import Any

from app.core.rpc.errors import error_response
from app.core.rpc.framing import Message, encode
from app.core.rpc.port import MemoryClient
from app.core.rpc.relay import Relay

HANDSHAKE: dict[str, Any] = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"tools": {"listChanged": True}, "resources": {"subscribe": True}},
    "serverInfo": {"name": "fake", "version": "1"},
}


class FakeBackend:
    def __init__(self, relay: Relay, *, handshake: dict[str, Any] | None = None) -> None:
        self._relay = relay
        self._inbox = MemoryClient()  # what the relay sent the server
        self._hub_inbox = MemoryClient()  # the hub's own requests (replays, unsubscribes)
        self.initialize_result: dict[str, Any] | None = handshake or HANDSHAKE
        self.closed = False  # its output ended
        self.writable = True  # its input is open
        self.input_breaks_on_next_send = False  # it closes under the next write
        self.bytes_sent = 0
        self.modern = False  # spoken to at the handshake era

    @property
    def open(self) -> bool:
        return not self.closed and self.writable

    def asked_for(self, server_request_id: Any) -> Any | None:
        return None  # a handshake-era server's requests are its own

    def send(self, message: Message, *, capabilities: dict[str, Any] | None = None) -> None:
        if self.input_breaks_on_next_send:
            self.writable = False
        if not self.writable:
            raise ConnectionError("the server's input is closed")
        self._inbox.send(message)
        self.bytes_sent += len(encode(message))

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float
    ) -> dict[str, Any]:
        self._hub_inbox.send({"method": method, "params": params})
        return {}

    # ----- the test, speaking as the server

    def take(self) -> list[Message]:
        """What the relay sent since the last take."""
        return self._inbox.take()

    async def receive(self) -> Message:
        """The next message the relay sends (bound the wait in the caller)."""
        return await self._inbox.receive()

    def take_hub_requests(self) -> list[Message]:
        """The hub's own requests since the last take, as {"method", "params"}."""
        return self._hub_inbox.take()

    async def receive_hub_request(self) -> Message:
        return await self._hub_inbox.receive()

    def say(self, message: Message) -> None:
        """One message from the server, as BackendSession hands it on: first the line
        alone, then, when the relay did not take it so, parsed with its line."""
        line = json.dumps(message).encode()
        if not self._relay.server_line(line):
            self._relay.server_message(message, line)

    def reply(self, request: Message, result: Any) -> None:
        self.say({"jsonrpc": "2.0", "id": request["id"], "result": result})

    def refuse(self, request: Message, code: int, text: str) -> None:
        self.say(error_response(request["id"], code, text))
