"""Raw NDJSON clients and an in-process hub, for the relay's protocol and robustness tests.

A real Hub runs in the test's event loop and supervises tests/servers/rich.py.
Clients attach through the control socket's ``attach`` op and speak MCP NDJSON
by hand (``RawClient``), so every id, token and notification is under the
test's control. The server announces each subscribe, unsubscribe, setLevel,
start and cancellation as a log entry, which the relay broadcasts, so tests
wait for those instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from app.core.endpoint import client as control_client
from app.core.endpoint import protocol
from app.core.events import ServerStateChanged
from app.core.hub import Hub
from app.core.paths import HOME_ENV, Paths, default_paths
from app.core.secrets import Secrets
from tests.helpers import PYTHON, SERVERS, EventRecorder

RICH = SERVERS / "rich.py"
WAIT_S = 10.0  # a relay round trip takes milliseconds; generous for a loaded CI machine
CONTROL_TIMEOUT_S = 60.0  # a restart answers once the new process finished its handshake
READ_LIMIT = 128 * 1024 * 1024  # above the relay's 64 MiB message limit

Message = dict[str, Any]
Matcher = Callable[[Message], bool]


# ----- a client that speaks NDJSON by hand


class RawClient:
    """One attached connection: every message it receives lands in ``inbox``, in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.inbox: list[Message] = []
        self.closed = False  # the hub hung up
        self._arrived = asyncio.Event()
        self._ids = 0
        self._barriers = 0
        self._pump = asyncio.create_task(self._read())

    @classmethod
    async def attach(cls, socket_path: Path, name: str = "rich") -> RawClient:
        reader, writer = await asyncio.open_unix_connection(socket_path, limit=READ_LIMIT)
        writer.write(protocol.request("attach", name=name))
        await writer.drain()
        async with asyncio.timeout(WAIT_S):
            reply = json.loads(await reader.readline())
        assert reply == {"ok": True, "result": {"server": name}}
        return cls(reader, writer)

    async def _read(self) -> None:
        try:
            while line := await self._reader.readline():
                self.inbox.append(json.loads(line))
                self._arrived.set()
        except ConnectionError:
            pass
        finally:
            self.closed = True
            self._arrived.set()

    def send(self, message: Message) -> None:
        self.send_bytes(json.dumps(message).encode() + b"\n")

    def send_bytes(self, data: bytes) -> None:
        self._writer.write(data)

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def start(self, method: str, params: Message | None = None, *, request_id: Any = None) -> Any:
        """Send a request without waiting for its answer; returns its id."""
        request_id = self.next_id() if request_id is None else request_id
        message: Message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return request_id

    async def request(
        self, method: str, params: Message | None = None, *, request_id: Any = None
    ) -> Message:
        """Send a request and return the whole response message."""
        return await self.response(self.start(method, params, request_id=request_id))

    async def response(self, request_id: Any, *, timeout: float = WAIT_S) -> Message:
        return await self.wait_for(is_response(request_id), timeout=timeout)

    async def call(self, tool: str, **arguments: Any) -> str:
        """A tools/call that must succeed; returns its text."""
        response = await self.request("tools/call", {"name": tool, "arguments": arguments})
        return result_text(response)

    async def notify(self, method: str, params: Message | None = None) -> None:
        message: Message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        await self._writer.drain()

    async def wait_for(self, matches: Matcher, *, timeout: float = WAIT_S) -> Message:
        """The first received message that ``matches``, waiting for it (bounded)."""
        async with asyncio.timeout(timeout):
            while True:
                found = [m for m in self.inbox if matches(m)]
                if found:
                    return found[0]
                if self.closed:
                    raise ConnectionError("the hub closed this client's connection")
                self._arrived.clear()
                await self._arrived.wait()

    async def barrier(self) -> None:
        """Return once everything the relay queued for this client before now has arrived.

        ``ping`` is answered by the relay itself, into the same outgoing queue,
        so its answer comes after anything queued earlier.
        """
        self._barriers += 1
        await self.request("ping", request_id=f"barrier-{self._barriers}")

    def received(self, matches: Matcher) -> list[Message]:
        return [m for m in self.inbox if matches(m)]

    async def close(self) -> None:
        self._writer.close()
        try:
            async with asyncio.timeout(WAIT_S):
                await self._pump
        finally:
            self._pump.cancel()


def is_response(request_id: Any) -> Matcher:
    """Matches the answer to ``request_id`` (1 and "1" are different ids)."""

    def matches(message: Message) -> bool:
        if "method" in message or "id" not in message:
            return False
        answered = message["id"]
        return type(answered) is type(request_id) and answered == request_id

    return matches


def is_notification(method: str, **params: Any) -> Matcher:
    def matches(message: Message) -> bool:
        if message.get("method") != method or "id" in message:
            return False
        received = message.get("params") or {}
        return all(received.get(key) == value for key, value in params.items())

    return matches


def is_request(method: str) -> Matcher:
    return lambda message: message.get("method") == method and "id" in message


def is_event(event: str, **fields: Any) -> Matcher:
    """Matches the rich server's announcement of something that reached it."""

    def matches(message: Message) -> bool:
        if message.get("method") != "notifications/message":
            return False
        params = message.get("params") or {}
        data = params.get("data")
        return (
            params.get("logger") == "rich"
            and isinstance(data, dict)
            and data.get("event") == event
            and all(data.get(key) == value for key, value in fields.items())
        )

    return matches


def result_text(response: Message) -> str:
    assert "result" in response, response
    assert not response["result"].get("isError"), response
    text: str = response["result"]["content"][0]["text"]
    return text


# ----- a hub in this test's event loop


class Tray:
    """A started Hub supervising rich.py, and the clients a test attached to it."""

    def __init__(self, hub: Hub, events: EventRecorder, home: Path) -> None:
        self.hub = hub
        self.events = events
        self.home = home
        self.paths: Paths = hub.paths
        self.clients: list[RawClient] = []

    async def attach(self, name: str = "rich") -> RawClient:
        client = await RawClient.attach(self.paths.socket_path, name)
        self.clients.append(client)
        return client

    def sdk_client(self, name: str = "rich", **options: Any) -> Client:
        """The SDK's client, attached the way an editor's config attaches it."""
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "app", "attach", name],
            env={**os.environ, HOME_ENV: str(self.home)},
        )
        return Client(params, mode="legacy", read_timeout_seconds=WAIT_S, **options)

    async def control(self, op: str, **arguments: Any) -> Any:
        """A control request through the command line's own client, on a worker thread."""
        return await asyncio.to_thread(
            control_client.call,
            self.paths.socket_path,
            op,
            timeout=CONTROL_TIMEOUT_S,
            **arguments,
        )

    async def status(self, name: str = "rich") -> Message:
        rows = await self.control("status")
        row: Message = next(row for row in rows if row["name"] == name)
        return row

    async def running(self, name: str = "rich") -> None:
        def matches(event: object) -> bool:
            return (
                isinstance(event, ServerStateChanged)
                and event.server == name
                and event.state == "running"
            )

        await self.events.wait_for(matches)

    async def server_events(self, client: RawClient) -> list[Message]:
        """What the current server process has recorded (its own view)."""
        records: list[Message] = json.loads(await client.call("events"))
        return records

    async def close_clients(self) -> None:
        clients, self.clients = self.clients, []
        for client in clients:
            await client.close()

    async def close(self) -> None:
        await self.close_clients()
        await self.hub.shutdown()


def rich_entry(*args: str, **extra: Any) -> Message:
    return {"command": PYTHON, "args": [str(RICH), *args], **extra}


async def start_tray(
    home: Path,
    servers: dict[str, Message] | None = None,
    *,
    secrets: Secrets | None = None,
    settings: Message | None = None,
) -> Tray:
    """A Hub on a config of ``servers`` (default: one rich server), every shared one running.

    ``settings``: the config's other top-level keys (``http``). ``MCP_TRAY_HOME``
    must point at ``home`` (the hub finds its paths there).
    """
    servers = servers if servers is not None else {"rich": rich_entry()}
    (home / "config.json").write_text(json.dumps({"mcpServers": servers, **(settings or {})}))
    paths = default_paths()
    paths.ensure()
    hub = Hub(paths, secrets=secrets)
    tray = Tray(hub, EventRecorder(hub.bus), home)
    await hub.start()
    for name, entry in servers.items():
        if entry.get("shared", True):  # unshared servers start with their clients
            await tray.running(name)
    return tray


@asynccontextmanager
async def tray_in(home: Path) -> AsyncIterator[Tray]:
    """A hub whose files live under ``home``, for as long as the block runs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(home))
        running = await start_tray(home)
        try:
            yield running
        finally:
            await running.close()
