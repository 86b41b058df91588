"""Where the relay's messages to one client go.

A socket's is app.core.rpc.clientlink.ClientLink.
"""

from __future__ import annotations

from typing import Protocol

from app.core.rpc.framing import Message


class ClientOutput(Protocol):
    """Where the relay's messages to one client go, in order."""

    def send(self, message: Message, encoded: bytes | None = None) -> None:
        """Take one message; never waits (a client that cannot keep up is the output's
        to queue, or drop). ``encoded``: the same message as a line, when the relay
        has it (a long answer then needs no encoding again). The relay may share
        ``message`` with other clients: read it, never change it."""
