"""The relay's protocol semantics (DESIGN "Relay semantics"), seen by attached clients.

A real Hub runs in this test's event loop and supervises tests/servers/rich.py.
Clients attach through the control socket's ``attach`` op and then speak MCP
NDJSON by hand (``RawClient``), so every id, token and notification is under
the test's control; where realism matters (sampling answered by an editor),
the SDK's client runs through the real ``mcp-tray attach`` command. What the
server received is read back from the server itself: it announces each
subscribe, unsubscribe, setLevel, start and cancellation as a log entry, which
the relay broadcasts, so tests wait for those instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters

from app.core.endpoint import client as control_client
from app.core.endpoint import protocol
from app.core.events import ServerStateChanged
from app.core.hub import Hub
from app.core.paths import HOME_ENV, Paths, default_paths
from tests.helpers import PYTHON, SERVERS, EventRecorder

pytestmark = pytest.mark.anyio

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

    def sdk_client(self, **options: Any) -> Client:
        """The SDK's client, attached the way an editor's config attaches it."""
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "app", "attach", "rich"],
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


async def start_tray(home: Path, servers: dict[str, Message] | None = None) -> Tray:
    """A Hub on a config of ``servers`` (default: one rich server), every server running.

    ``MCP_TRAY_HOME`` must point at ``home`` (the hub finds its paths there).
    """
    servers = servers if servers is not None else {"rich": rich_entry()}
    (home / "config.json").write_text(json.dumps({"mcpServers": servers}))
    paths = default_paths()
    paths.ensure()
    hub = Hub(paths)
    tray = Tray(hub, EventRecorder(hub.bus), home)
    await hub.start()
    for name in servers:
        await tray.running(name)
    return tray


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # module scope: one hub serves the whole module, on one loop


@pytest.fixture(scope="module")
async def shared_tray(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Tray]:
    """One hub for the tests that leave it as they found it (starting one takes a second)."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(home))
        running = await start_tray(home)
        try:
            yield running
        finally:
            await running.close()


@pytest.fixture
async def tray(shared_tray: Tray) -> AsyncIterator[Tray]:
    """The shared hub; the clients a test attached are closed after it."""
    try:
        yield shared_tray
    finally:
        await shared_tray.close_clients()


@pytest.fixture
async def own_tray(tray_home: Path) -> AsyncIterator[Tray]:
    """A hub of this test's own, for tests that stop or may break the server."""
    running = await start_tray(tray_home)
    try:
        yield running
    finally:
        await running.close()


# ----- ids and progress tokens


async def test_two_clients_with_identical_request_ids_and_progress_tokens_get_their_own_answers(
    tray: Tray,
) -> None:
    first, second = await tray.attach(), await tray.attach()

    for client, steps in ((first, 3), (second, 5)):
        client.start(
            "tools/call",
            {"name": "progress", "arguments": {"steps": steps}, "_meta": {"progressToken": "p"}},
            request_id=1,
        )
    answers = [result_text(await c.response(1)) for c in (first, second)]
    await first.barrier()
    await second.barrier()

    assert answers == ["done 3", "done 5"]
    for client, steps in ((first, 3), (second, 5)):
        progress = client.received(is_notification("notifications/progress"))
        assert [p["params"] for p in progress] == [
            {"progressToken": "p", "progress": step, "total": steps} for step in range(1, steps + 1)
        ]


async def test_one_clients_ids_1_and_string_1_are_different_requests(tray: Tray) -> None:
    client = await tray.attach()

    client.start("tools/call", {"name": "progress", "arguments": {"steps": 1}}, request_id=1)
    client.start("tools/call", {"name": "progress", "arguments": {"steps": 2}}, request_id="1")

    assert result_text(await client.response(1)) == "done 1"
    assert result_text(await client.response("1")) == "done 2"


# ----- what the hub answers itself


def initialize_params(name: str, **capabilities: Any) -> Message:
    return {
        "protocolVersion": "2025-11-25",
        "capabilities": capabilities,
        "clientInfo": {"name": name, "version": "1"},
    }


async def test_initialize_is_answered_from_the_cached_handshake_with_the_same_server_info(
    tray: Tray,
) -> None:
    first, second = await tray.attach(), await tray.attach()

    answers = [
        await first.request("initialize", initialize_params("first")),
        await second.request("initialize", initialize_params("second", sampling={})),
    ]

    assert answers[0]["result"] == answers[1]["result"]
    assert answers[0]["result"]["serverInfo"] == {"name": "rich", "version": "7.7.7"}
    assert answers[0]["result"]["capabilities"]["resources"]["subscribe"] is True


async def test_ping_and_initialize_are_answered_by_the_hub_while_the_server_is_stopped(
    own_tray: Tray,
) -> None:
    client = await own_tray.attach()
    warm = await client.request("initialize", initialize_params("warm"))
    await own_tray.control("stop", name="rich")
    assert (await own_tray.status())["state"] == "stopped"

    ping = await client.request("ping", request_id="are you there")
    cold = await (await own_tray.attach()).request("initialize", initialize_params("cold"))

    assert ping == {"jsonrpc": "2.0", "id": "are you there", "result": {}}
    assert cold["result"] == warm["result"]


async def test_server_discover_is_refused_with_method_not_found(tray: Tray) -> None:
    client = await tray.attach()

    answer = await client.request("server/discover", {})

    assert answer["error"]["code"] == -32601
    assert "initialize" in answer["error"]["message"]


# ----- cancellation


async def test_cancelling_a_request_cancels_it_upstream_and_spares_another_clients_same_id(
    tray: Tray,
) -> None:
    first, second = await tray.attach(), await tray.attach()
    first.start("tools/call", {"name": "hold", "arguments": {"label": "cancel-a"}}, request_id=5)
    second.start("tools/call", {"name": "hold", "arguments": {"label": "cancel-b"}}, request_id=5)
    await first.wait_for(is_event("started", label="cancel-a"))
    await first.wait_for(is_event("started", label="cancel-b"))

    await first.notify("notifications/cancelled", {"requestId": 5, "reason": "changed my mind"})
    await second.wait_for(is_event("cancelled", label="cancel-a"))
    assert await first.call("release", label="cancel-b") == "released"

    assert result_text(await second.response(5)) == "released cancel-b"
    await first.barrier()
    assert first.received(is_response(5)) == []  # a cancelled request is never answered
    cancelled = [e["label"] for e in await tray.server_events(first) if e["event"] == "cancelled"]
    assert "cancel-a" in cancelled
    assert "cancel-b" not in cancelled


async def test_a_client_that_disconnects_mid_request_has_the_request_cancelled_upstream(
    tray: Tray,
) -> None:
    leaving, staying = await tray.attach(), await tray.attach()
    leaving.start("tools/call", {"name": "hold", "arguments": {"label": "orphan"}})
    await staying.wait_for(is_event("started", label="orphan"))

    await leaving.close()

    await staying.wait_for(is_event("cancelled", label="orphan"))
    assert await staying.call("progress", steps=1) == "done 1"


# ----- subscriptions


async def subscribe(client: RawClient, uri: str) -> Message:
    return await client.request("resources/subscribe", {"uri": uri})


async def unsubscribe(client: RawClient, uri: str) -> Message:
    return await client.request("resources/unsubscribe", {"uri": uri})


def updated(uri: str) -> Matcher:
    return is_notification("notifications/resources/updated", uri=uri)


async def upstream(tray: Tray, client: RawClient, event: str, uri: str) -> int:
    """How many ``event`` (subscribe, unsubscribe) for ``uri`` the server has received."""
    return sum(1 for e in await tray.server_events(client) if e == {"event": event, "uri": uri})


async def test_two_subscribers_share_one_upstream_subscription_and_only_they_get_updates(
    tray: Tray,
) -> None:
    uri = "rich://shared"
    first, second, bystander = await tray.attach(), await tray.attach(), await tray.attach()

    answers = [(await subscribe(client, uri)).get("result") for client in (first, second)]
    assert await bystander.call("touch", uri=uri) == "touched"

    assert answers == [{}, {}]
    await first.wait_for(updated(uri))
    await second.wait_for(updated(uri))
    await bystander.barrier()
    assert bystander.received(updated(uri)) == []
    assert await upstream(tray, bystander, "subscribe", uri) == 1


async def test_the_upstream_subscription_ends_only_when_the_last_subscriber_unsubscribes(
    tray: Tray,
) -> None:
    uri = "rich://unsubscribed"
    first, second = await tray.attach(), await tray.attach()
    await subscribe(first, uri)
    await subscribe(second, uri)

    assert (await unsubscribe(first, uri))["result"] == {}
    assert await first.call("touch", uri=uri) == "touched"
    await second.wait_for(updated(uri))
    await first.barrier()
    assert first.received(updated(uri)) == []
    assert await upstream(tray, first, "unsubscribe", uri) == 0

    assert (await unsubscribe(second, uri))["result"] == {}
    assert await upstream(tray, first, "unsubscribe", uri) == 1


async def test_the_last_subscriber_disconnecting_ends_the_upstream_subscription(
    tray: Tray,
) -> None:
    uri = "rich://abandoned"
    leaving, staying = await tray.attach(), await tray.attach()
    await subscribe(leaving, uri)

    await leaving.close()

    await staying.wait_for(is_event("unsubscribe", uri=uri))


async def test_a_subscription_the_server_refused_is_not_answered_as_a_success_to_others(
    tray: Tray,
) -> None:
    first, second = await tray.attach(), await tray.attach()

    refused_first = await subscribe(first, "rich://refused")
    refused_second = await subscribe(second, "rich://refused")

    assert refused_first["error"]["message"] == "rich://refused cannot be subscribed to"
    assert "error" in refused_second, "the hub said yes where the server said no"


# ----- server -> client requests


async def test_a_sampling_request_goes_to_the_client_that_declared_sampling_and_back(
    tray: Tray,
) -> None:
    prompts: list[str] = []

    async def sample(context: Any, params: types.CreateMessageRequestParams) -> Any:
        prompts.append(params.messages[0].content.text)  # type: ignore[union-attr]
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(text="a haiku"), model="test-model"
        )

    asking = await tray.attach()
    await asking.request("initialize", initialize_params("asking"))
    async with asyncio.timeout(60), tray.sdk_client(sampling_callback=sample) as editor:
        answer = await asking.call("sample", prompt="write a haiku")
        own = await editor.call_tool("sample", {"prompt": "and another"})

    assert answer == "a haiku"
    assert own.content[0].text == "a haiku"  # type: ignore[union-attr]
    assert prompts == ["write a haiku", "and another"]


async def test_a_sampling_request_with_no_capable_client_gets_an_error_answer(tray: Tray) -> None:
    client = await tray.attach()
    await client.request("initialize", initialize_params("no sampling"))

    answer = await client.call("sample", prompt="anyone?")

    assert answer.startswith("error -31006: no attached client can answer sampling/createMessage")


async def test_a_sampling_request_whose_client_leaves_without_answering_gets_an_error(
    tray: Tray,
) -> None:
    asking, sampler = await tray.attach(), await tray.attach()
    await sampler.request("initialize", initialize_params("sampler", sampling={}))
    request_id = asking.start("tools/call", {"name": "sample", "arguments": {"prompt": "hi"}})
    await sampler.wait_for(is_request("sampling/createMessage"))

    await sampler.close()

    # The hub answers at once; a short bound keeps the known failure cheap.
    answer = await asking.response(request_id, timeout=3.0)
    assert result_text(answer).startswith("error ")


def sampled(text: str) -> Message:
    return {"role": "assistant", "content": {"type": "text", "text": text}, "model": "m"}


async def test_only_the_client_a_sampling_request_went_to_can_answer_it(tray: Tray) -> None:
    asking, sampler, impostor = await tray.attach(), await tray.attach(), await tray.attach()
    await sampler.request("initialize", initialize_params("sampler", sampling={}))
    request_id = asking.start("tools/call", {"name": "sample", "arguments": {"prompt": "hi"}})
    routed = await sampler.wait_for(is_request("sampling/createMessage"))

    impostor.send({"jsonrpc": "2.0", "id": routed["id"], "result": sampled("impostor")})
    await impostor.barrier()
    sampler.send({"jsonrpc": "2.0", "id": routed["id"], "result": sampled("genuine")})

    assert result_text(await asking.response(request_id)) == "genuine"


# ----- restarts


async def test_log_level_and_subscriptions_are_replayed_to_a_restarted_server(
    tray: Tray,
) -> None:
    uri = "rich://replayed"
    client = await tray.attach()
    assert (await client.request("logging/setLevel", {"level": "warning"}))["result"] == {}
    await subscribe(client, uri)
    pid = (await tray.status())["pid"]

    await tray.control("restart", name="rich")

    assert (await tray.status())["pid"] != pid
    records = await tray.server_events(client)  # the new process's own record
    assert {"event": "subscribe", "uri": uri} in records
    assert {"event": "setLevel", "level": "warning"} in records
    assert await client.call("touch", uri=uri) == "touched"
    await client.wait_for(updated(uri))


async def test_every_client_is_told_the_lists_changed_after_a_restart(tray: Tray) -> None:
    first, second = await tray.attach(), await tray.attach()

    await tray.control("restart", name="rich")

    for client in (first, second):
        for kind in ("tools", "prompts", "resources"):
            await client.wait_for(is_notification(f"notifications/{kind}/list_changed"))


async def test_a_subscribe_during_the_replay_to_a_restarted_server_does_not_break_it(
    own_tray: Tray,
) -> None:
    # The replay of rich://slow-subscribe takes seconds on the server; a new
    # subscription arriving meanwhile must wait its turn, not break the replay.
    client = await own_tray.attach()
    await subscribe(client, "rich://slow-subscribe")
    client.inbox.clear()

    restart = asyncio.create_task(own_tray.control("restart", name="rich"))
    await client.wait_for(is_event("subscribe", uri="rich://slow-subscribe"))
    late = client.start("resources/subscribe", {"uri": "rich://late"})
    await restart

    assert (await own_tray.status())["state"] == "running"
    assert (await client.response(late))["result"] == {}
    assert await client.call("touch", uri="rich://late") == "touched"
    await client.wait_for(updated("rich://late"))
