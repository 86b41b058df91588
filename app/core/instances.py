"""Unshared servers (``"shared": false``): a process of its own for each attached client.

Each attachment gets an instance named ``NAME#N``, supervised like any server
(with its server's config and secrets) and ended when its client leaves. The
user's choices never name an instance: it lives and dies with its client.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any, Protocol

from app.core.rpc.port import ClientOutput, ClientPort
from app.core.rpc.relay import Relay

_MARK = "#"  # a configured name never holds it (app.core.config's name rule)


def server_of(name: str) -> str:
    """The configured server behind ``name``: itself, or an instance's server."""
    return name.partition(_MARK)[0]


def is_instance(name: str) -> bool:
    return _MARK in name


class InstanceNames:
    """NAME#1, NAME#2, …: numbered across all servers, never reused while the hub runs."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)

    def next(self, server: str) -> str:
        return f"{server}{_MARK}{next(self._numbers)}"


class InstanceHost(Protocol):
    """The hub, as an unshared server's attachments need it."""

    def start_instance(self, name: str) -> tuple[str, Relay]:
        """Supervise and start a new instance of server ``name``; its name and relay."""

    async def end_instance(self, instance: str) -> None:
        """Stop the instance and forget it."""


class PerClientServer:
    """Attaching to a ``"shared": false`` server: a process of its own, ended with the client."""

    def __init__(self, host: InstanceHost, name: str) -> None:
        self._host = host
        self._name = name

    async def serve_client(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        resumed: dict[str, Any] | None = None,
    ) -> None:
        instance, relay = self._host.start_instance(self._name)
        try:
            await relay.serve_client(reader, writer, resumed=resumed)
        finally:
            await self._host.end_instance(instance)

    def current_list(self, method: str, page: Any = None) -> dict[str, Any] | None:
        """None: each client's process is its own, and there is none before it attaches."""
        return None

    @contextlib.asynccontextmanager
    async def attached(
        self, output: ClientOutput, *, resumed: dict[str, Any] | None = None
    ) -> AsyncIterator[ClientPort]:
        """Relay.attached, on a process started for this client and ended after it."""
        instance, relay = self._host.start_instance(self._name)
        try:
            async with relay.attached(output, resumed=resumed) as port:
                yield port
        finally:
            await self._host.end_instance(instance)
