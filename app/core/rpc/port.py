"""What the relay is plugged into: a port for each client, and the server's session.

A client attaches with a :class:`ClientOutput` (where the relay's messages to
it go) and gets back a port to feed its messages in (``Relay.attach``). The
socket's output is app.core.rpc.clientlink.ClientLink; :class:`MemoryClient`
is the in-memory twin, for tests and for transports that carry messages as
objects rather than lines. The server's side is whatever has the
:class:`Upstream` surface: app.core.rpc.backend.BackendSession, or a fake.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from app.core.rpc.framing import MalformedLine, Message


@dataclass(frozen=True)
class ClientPort:
    """One attached client's way in (from ``Relay.attach``)."""

    number: int  # names the client in the log
    receive: Callable[[Message], None]  # one message from the client, decoded
    receive_line: Callable[[bytes | MalformedLine], None]  # one line, as LineSplitter cut it
    # The client left: its requests are cancelled upstream, its subscriptions dropped.
    close: Callable[[], None]


class ClientOutput(Protocol):
    """Where the relay's messages to one client go, in order."""

    def send(self, message: Message, encoded: bytes | None = None) -> None:
        """Take one message; never waits (a client that cannot keep up is the output's
        to queue, or drop). ``encoded``: the same message as a line, when the relay
        has it (a long answer then needs no encoding again). The relay may share
        ``message`` with other clients: read it, never change it."""

    def send_line(self, line: bytes) -> None:
        """Take one message that the relay did not parse: an answer as the server
        wrote it, with the client's id in place, as a line (newline included)."""


class Upstream(Protocol):
    """The server's session, as much of it as the relay uses (BackendSession's surface)."""

    initialize_result: dict[str, Any] | None

    @property
    def open(self) -> bool:
        """Whether a request sent now can reach the server and be answered."""

    @property
    def bytes_sent(self) -> int:
        """Where the next message starts in the server's input."""

    @property
    def modern(self) -> bool:
        """Whether the server is spoken to at 2026-07-28 (app.core.rpc.modern_server):
        then a 2026-07-28 client's requests go to it with their envelope."""

    def asked_for(self, server_request_id: Any) -> Any | None:
        """The id of the relay's request a server's request is asked for, when the
        session knows it (a 2026-07-28 server's input_required); else None."""

    def send(self, message: Message, *, capabilities: dict[str, Any] | None = None) -> None:
        """Queue one message for the server; ConnectionError when its input is closed.
        ``capabilities``: those of the client a request is made for."""

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float
    ) -> dict[str, Any]:
        """The hub's own request, answered to the hub (replays of client state)."""


class MemoryClient:
    """A client's output in memory: the relay's messages to it wait here, in order.

    An HTTP session's output (app.core.endpoint.http), and the tests' clients.
    ``limit``: at most that many messages wait; past it the client has stopped
    taking them, and :attr:`overflowed` is set (what arrives then is dropped).
    """

    def __init__(self, *, limit: int | None = None) -> None:
        self._messages: collections.deque[Message] = collections.deque()
        self._arrived = asyncio.Event()
        self._limit = limit
        self.overflowed = asyncio.Event()

    def send(self, message: Message, encoded: bytes | None = None) -> None:
        if self._limit is not None and len(self._messages) >= self._limit:
            self.overflowed.set()
            return
        self._messages.append(message)
        self._arrived.set()

    def send_line(self, line: bytes) -> None:
        self.send(json.loads(line), line)

    def take(self) -> list[Message]:
        """Everything that arrived since the last take, oldest first."""
        taken = list(self._messages)
        self._messages.clear()
        return taken

    async def receive(self) -> Message:
        """The oldest message not taken yet, waiting for one if none is here."""
        while not self._messages:
            self._arrived.clear()
            await self._arrived.wait()
        return self._messages.popleft()
