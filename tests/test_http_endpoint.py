"""The Streamable HTTP endpoint: the SDK's own HTTP client through the hub to a stdio
server, a kill -9 between calls it never sees, the Unix-socket variant, and every
refusal (foreign Origin, rebinding Host, missing or wrong token, oversized body),
each answered with its status and logged.

Then what someone without the token can try: half-sent requests by the
thousand, huge bodies behind a wrong token, a flood of refusals; sessions
never ended; and a new token, which the running hub takes at once."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import selectors
import signal
import socket
import stat
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import psutil
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from app.core.config import HttpConfig
from app.core.endpoint.http import (
    TOKEN_NAME,
    TOKEN_SCOPE,
    HttpEndpoint,
    http_listener,
    refusals,
    server_url,
)
from app.core.endpoint.httpguard import (
    LINE_CHARS,
    LINES_PER_WINDOW,
    MAX_CONNECTIONS,
    Limits,
    Throttle,
)
from app.core.events import ConfigApplied, ServerStateChanged
from app.core.secrets import Secrets, SecretStore
from app.hosts.linking import connect, rotate_token
from app.hosts.registry import HOSTS
from tests.helpers import INITIALIZE_REQUEST
from tests.hubprocess import HubProcess, mcp_tray
from tests.keyrings import MemoryKeyring
from tests.relaykit import PYTHON, SERVERS, WAIT_S, Tray, rich_entry, start_tray

pytestmark = pytest.mark.anyio

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@asynccontextmanager
async def http_tray(
    home: Path, servers: dict[str, Any] | None = None, **http: Any
) -> AsyncIterator[tuple[Tray, str]]:
    """A hub serving ``servers`` (the rich server) over HTTP too; yields it and the
    install token."""
    keyring = MemoryKeyring()
    secrets = Secrets(SecretStore(home / "secret-names.json", backend=keyring))
    settings = {"http": {"enabled": True, "port": free_port(), **http}}
    servers = servers or {"rich": rich_entry()}
    tray = await start_tray(home, servers, secrets=secrets, settings=settings)
    try:
        assert tray.hub.http is not None, "the HTTP endpoint did not start; see the log"
        yield tray, keyring.entries[(f"mcp-tray/{TOKEN_SCOPE}", TOKEN_NAME)]
    finally:
        await tray.close()


@asynccontextmanager
async def sdk_client(url: str, token: str, **options: Any) -> AsyncIterator[Client]:
    """The SDK's Streamable HTTP client, with the header `connect --http` writes."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers) as http:
        transport = streamable_http_client(url, http_client=http, **options)
        async with Client(transport, mode="legacy", read_timeout_seconds=WAIT_S) as client:
            yield client


async def raw_session(
    http: httpx2.AsyncClient, url: str, token: str, initialize: dict[str, Any] = INITIALIZE_REQUEST
) -> tuple[dict[str, str], httpx2.Response]:
    """A session opened by hand, as a client with no GET stream opens one: the headers
    its requests carry from then on, and the answer to its initialize."""
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    opened = await http.post(url, headers=headers, json=initialize)
    headers["Mcp-Session-Id"] = opened.headers["mcp-session-id"]
    version = initialize["params"]["protocolVersion"]
    headers["MCP-Protocol-Version"] = version
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    await http.post(url, headers=headers, json=initialized)
    return headers, opened


async def test_the_sdk_http_client_lists_and_calls_tools_and_never_sees_a_kill(
    tray_home: Path,
) -> None:
    async with http_tray(tray_home) as (tray, token):
        url = server_url(tray.hub.config.http.port, "rich")
        async with sdk_client(url, token) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            first = await client.call_tool("big", {"megabytes": 0.01})
            before = (await tray.status())["pid"]
            mark = len(tray.events.events)
            os.kill(before, signal.SIGKILL)
            await tray.events.wait_for_state("running", after=mark)
            second = await client.call_tool("big", {"megabytes": 0.01})
            after = (await tray.status())["pid"]

    assert {"progress", "big", "emit"} <= tools
    assert not first.is_error and not second.is_error
    assert after != before


async def test_progress_arrives_on_its_request_s_stream_before_the_answer(tray_home: Path) -> None:
    """A client that never opens the GET stream still sees a call's progress, in order:
    the transport puts a notification on a POST's stream only when told its request."""
    async with http_tray(tray_home) as (tray, token), httpx2.AsyncClient() as http:
        url = server_url(tray.hub.config.http.port, "rich")
        headers, _ = await raw_session(http, url, token)
        call = {
            "jsonrpc": "2.0",
            "id": "call-1",
            "method": "tools/call",
            "params": {
                "name": "progress",
                "arguments": {"steps": 3},
                "_meta": {"progressToken": 7},
            },
        }
        answer = await http.post(url, headers=headers, json=call)

    data = [line[5:] for line in answer.text.splitlines() if line.startswith("data:")]
    events = [json.loads(d) for d in data if d.strip()]  # not the empty priming event
    assert [e.get("params", {}).get("progress") for e in events[:-1]] == [1, 2, 3]
    assert all(e["params"]["progressToken"] == 7 for e in events[:-1])
    assert events[-1]["id"] == "call-1" and "result" in events[-1]


async def test_a_tool_that_asks_the_client_is_answered_over_its_own_post_stream(
    tray_home: Path,
) -> None:
    """The server's sampling request during a call reaches a client that opened no GET
    stream, on the call's own stream; the client answers with a POST, and the call ends."""
    params = {**INITIALIZE_REQUEST["params"], "capabilities": {"sampling": {}}}
    initialize = {**INITIALIZE_REQUEST, "params": params}
    async with http_tray(tray_home) as (tray, token), httpx2.AsyncClient(timeout=WAIT_S) as http:
        url = server_url(tray.hub.config.http.port, "rich")
        headers, _ = await raw_session(http, url, token, initialize)
        call = {
            "jsonrpc": "2.0",
            "id": 5,
            "method": "tools/call",
            "params": {"name": "sample", "arguments": {"prompt": "hello?"}},
        }
        seen: list[dict[str, Any]] = []
        async with http.stream("POST", url, headers=headers, json=call) as answer:
            async for line in answer.aiter_lines():
                if not line.startswith("data:") or not line[5:].strip():  # or priming
                    continue
                seen.append(json.loads(line[5:]))
                if seen[-1].get("method") == "sampling/createMessage":
                    reply = {
                        "jsonrpc": "2.0",
                        "id": seen[-1]["id"],
                        "result": {
                            "role": "assistant",
                            "content": {"type": "text", "text": "hi from the client"},
                            "model": "test",
                        },
                    }
                    await http.post(url, headers=headers, json=reply)

    assert [message.get("method") for message in seen] == ["sampling/createMessage", None]
    assert seen[-1]["id"] == 5
    assert seen[-1]["result"]["content"][0]["text"] == "hi from the client"


async def sse_events(response: httpx2.Response) -> AsyncIterator[dict[str, str]]:
    """A response's SSE events as their fields (``id``, ``retry``, ``data``), until it ends."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        elif fields:
            yield fields
            fields = {}


def tool_call(request_id: str, name: str, **arguments: Any) -> dict[str, Any]:
    meta = {"progressToken": f"{request_id}-progress"}
    params = {"name": name, "arguments": arguments, "_meta": meta}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


async def test_a_client_whose_stream_broke_resumes_it_and_gets_the_rest_exactly_once(
    tray_home: Path,
) -> None:
    """The call's stream opens with an id and a retry interval; the client drops it
    after the first progress and GETs with Last-Event-ID: the progress sent while
    it was away, then the rest live, then the answer, and the stream ends."""
    paced = {"paced": {"command": PYTHON, "args": [str(SERVERS / "paced.py")]}}
    async with http_tray(tray_home, paced) as (tray, token), httpx2.AsyncClient() as http:
        url = server_url(tray.hub.config.http.port, "paced")
        headers, _ = await raw_session(http, url, token)
        with anyio.fail_after(WAIT_S):
            call = tool_call("slow", "paced", steps=3)
            async with http.stream("POST", url, headers=headers, json=call) as broken:
                events = sse_events(broken)
                priming = await anext(events)
                first = await anext(events)
                await events.aclose()  # and the connection with it
            await http.post(url, headers=headers, json=tool_call("go-1", "go"))
            resumed: list[dict[str, Any]] = []
            again = {**headers, "Last-Event-ID": first["id"]}
            async with http.stream("GET", url, headers=again) as resuming:
                async for event in sse_events(resuming):
                    resumed.append(json.loads(event["data"]))
                    resumed[-1]["event id"] = event["id"]
                    if len(resumed) == 1:  # progress 2: the third is sent while listening
                        await http.post(url, headers=headers, json=tool_call("go-2", "go"))

    assert priming["data"] == "" and priming["retry"] == "1000" and priming["id"]
    assert json.loads(first["data"])["params"]["progress"] == 1
    assert [m.get("params", {}).get("progress") for m in resumed] == [2, 3, None]
    assert resumed[-1]["id"] == "slow"
    assert resumed[-1]["result"]["content"][0]["text"] == "paced 3"
    ids = [priming["id"], first["id"], *(m["event id"] for m in resumed)]
    assert len(set(ids)) == len(ids)


async def test_a_last_event_id_that_cannot_be_resumed_from_is_answered_with_an_error(
    tray_home: Path,
) -> None:
    """An id never sent is a bad request; one whose stream had a message too large
    to keep (5 MiB, over the 4 MiB kept) is gone. Neither is an empty stream, which
    a client would take for a break and retry at once, forever."""
    async with http_tray(tray_home) as (tray, token), httpx2.AsyncClient(timeout=WAIT_S) as http:
        url = server_url(tray.hub.config.http.port, "rich")
        headers, _ = await raw_session(http, url, token)
        answer = await http.post(url, headers=headers, json=tool_call("big", "big", megabytes=5))
        primed = next(line[3:].strip() for line in answer.text.splitlines() if line[:3] == "id:")
        unknown = await http.get(url, headers={**headers, "Last-Event-ID": "nope.1"})
        too_large = await http.get(url, headers={**headers, "Last-Event-ID": primed})

    assert unknown.status_code == 400 and "No event" in unknown.text
    assert too_large.status_code == 410 and "send the request again" in too_large.text


async def test_a_client_of_an_older_revision_gets_that_revision_and_goes_on_with_it(
    tray_home: Path,
) -> None:
    older = {**INITIALIZE_REQUEST, "params": {**INITIALIZE_REQUEST["params"]}}
    older["params"]["protocolVersion"] = "2025-06-18"
    async with http_tray(tray_home) as (tray, token), httpx2.AsyncClient(timeout=WAIT_S) as http:
        url = server_url(tray.hub.config.http.port, "rich")
        headers, opened = await raw_session(http, url, token, older)
        listed = await http.post(
            url, headers=headers, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        )

    handshake = [
        json.loads(line[5:]) for line in opened.text.splitlines() if line.startswith("data:")
    ]
    assert handshake[0]["result"]["protocolVersion"] == "2025-06-18"
    assert listed.status_code == 200 and '"tools"' in listed.text


async def test_the_endpoint_s_connections_send_without_waiting_for_acknowledgements() -> None:
    """asyncio turns off Nagle's algorithm only on sockets marked as TCP. Unmarked,
    the end of each streamed answer waited for the client's delayed acknowledgement:
    40 ms a request for clients that send a request's head and body apart."""
    listener = http_listener(0)
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Accepted(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    server = await asyncio.get_running_loop().create_server(Accepted, sock=listener)
    _, writer = await asyncio.open_connection(*listener.getsockname())
    try:
        assert await asyncio.wait_for(accepted, WAIT_S) != 0
    finally:
        writer.close()
        server.close()


async def test_refusals_have_the_right_status_and_are_logged(
    tray_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with http_tray(tray_home, maxBodyBytes=2048) as (tray, token):
        port = tray.hub.config.http.port
        url = server_url(port, "rich")
        good = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
        with caplog.at_level(logging.WARNING, logger="app.core.endpoint.http"):
            async with httpx2.AsyncClient() as http:

                async def status(headers: dict[str, str], body: Any = INITIALIZE_REQUEST) -> int:
                    response = await http.post(url, headers=headers, json=body)
                    return response.status_code

                statuses = {
                    "foreign origin": await status({**good, "Origin": "https://evil.example"}),
                    "rebinding host": await status({**good, "Host": f"evil.example:{port}"}),
                    "no token": await status(MCP_HEADERS),
                    "wrong token": await status({**good, "Authorization": "Bearer nope"}),
                    "too large": await status(good, {**INITIALIZE_REQUEST, "pad": "x" * 4096}),
                    "own origin": await status({**good, "Origin": f"http://127.0.0.1:{port}"}),
                }
                unknown = await http.post(
                    server_url(port, "nosuch"), headers=good, json=INITIALIZE_REQUEST
                )
        # The limit is on requests, not results. (The SDK's client refuses SSE events
        # over 1 MiB unless told otherwise; that limit is the client's own.)
        async with sdk_client(url, token, max_sse_event_size=None) as client:
            big = await client.call_tool("big", {"megabytes": 2})

    assert statuses == {
        "foreign origin": 403,
        "rebinding host": 421,
        "no token": 401,
        "wrong token": 401,
        "too large": 413,
        "own origin": 200,
    }
    assert unknown.status_code == 404 and "nosuch" in unknown.text
    text = big.content[0].text  # type: ignore[union-attr]
    assert not big.is_error and len(text.encode()) == 2 * 1024 * 1024  # whole, 1000x the limit
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for why in ("Origin 'https://evil.example'", "Host 'evil.example:", "no bearer token"):
        assert why in logged
    assert "a wrong bearer token" in logged
    assert token not in logged


async def test_the_unix_socket_serves_the_same_endpoint_without_a_token(tray_home: Path) -> None:
    async with http_tray(tray_home) as (tray, _token):
        transport = httpx2.AsyncHTTPTransport(uds=str(tray.hub.paths.http_socket_path))
        async with httpx2.AsyncClient(transport=transport, base_url="http://localhost") as http:
            response = await http.post(
                "/servers/rich/mcp", headers=MCP_HEADERS, json=INITIALIZE_REQUEST
            )

    assert response.status_code == 200, response.text
    assert response.headers.get("mcp-session-id")
    assert '"serverInfo"' in response.text
    assert oct(os.stat(tray.hub.paths.runtime_dir).st_mode & 0o777)  # the folder exists


async def test_connect_http_turns_the_endpoint_on_and_the_app_s_entry_works(
    tray_home: Path, tmp_path: Path
) -> None:
    keyring = MemoryKeyring()
    store = SecretStore(tray_home / "secret-names.json", backend=keyring)
    settings = {"http": {"port": free_port()}}  # off, as by default
    tray = await start_tray(tray_home, secrets=Secrets(store), settings=settings)
    try:
        app_config = tmp_path / "mcp.json"
        app_config.write_text(json.dumps({"mcpServers": {"rich": rich_entry()}}))
        mark = len(tray.events.events)

        await anyio.to_thread.run_sync(
            lambda: connect(HOSTS["cursor"], app_config, tray.hub.paths, http=True, store=store)
        )
        await tray.events.wait_for(lambda e: isinstance(e, ConfigApplied), after=mark)
        entry = json.loads(app_config.read_text())["mcpServers"]["rich"]
        token = entry["headers"]["Authorization"].removeprefix("Bearer ")
        async with sdk_client(entry["url"], token) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
    finally:
        await tray.close()

    assert tray.hub.config.http.enabled
    assert "big" in tools


async def test_a_port_in_use_leaves_the_endpoint_off_with_a_reason_and_the_servers_running(
    tray_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keyring = MemoryKeyring()
    secrets = Secrets(SecretStore(tray_home / "secret-names.json", backend=keyring))
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        settings = {"http": {"enabled": True, "port": port}}
        tray = await start_tray(tray_home, secrets=secrets, settings=settings)
        try:
            row = await tray.status()
        finally:
            await tray.close()

    assert tray.hub.http is None and row["state"] == "running"
    assert f"HTTP endpoint not started: cannot listen on 127.0.0.1:{port}" in caplog.text
    assert 'choose another "port" under "http"' in caplog.text
    assert not tray.hub.paths.http_socket_path.exists()


# ----- what someone without the token can try


def head(port: int, *lines: str, path: str = "/servers/rich/mcp") -> bytes:
    """A POST's head: Host is the endpoint's own unless ``lines`` say otherwise."""
    fields = [line for line in lines if not line.lower().startswith("host:")]
    host = next((line for line in lines if line.lower().startswith("host:")), None)
    text = [f"POST {path} HTTP/1.1", host or f"Host: 127.0.0.1:{port}", *fields, "", ""]
    return "\r\n".join(text).encode()


async def raw_exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` and read until the endpoint closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        with anyio.fail_after(WAIT_S):
            return await reader.read()
    finally:
        writer.close()


async def cut_off(reader: asyncio.StreamReader) -> bool:
    """Until the endpoint closes (or resets) the connection; whether it sent nothing first."""
    try:
        return await reader.read() == b""
    except ConnectionResetError:
        return True


@asynccontextmanager
async def own_endpoint(tray: Tray, **options: Any) -> AsyncIterator[tuple[HttpEndpoint, str]]:
    """An endpoint on ``tray``'s hub with ``options`` (short limits), and its token."""
    token = "test-token"
    settings = HttpConfig(enabled=True, port=free_port())
    socket_path = tray.paths.runtime_dir / "http-test.sock"
    endpoint = HttpEndpoint(tray.hub, settings, token=token, socket_path=socket_path, **options)
    await endpoint.start()
    try:
        yield endpoint, token
    finally:
        await endpoint.close()


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ("Authorization: Bearer wrong", "401"),
        ("Host: evil.example", "421"),
        ("Origin: https://evil.example", "403"),
    ],
)
async def test_a_refused_request_is_answered_before_its_body_is_sent(
    tray_home: Path, line: str, status: str
) -> None:
    async with http_tray(tray_home) as (tray, token):
        port = tray.hub.config.http.port
        authorized = f"Authorization: Bearer {token}" if "Authorization" not in line else line
        request = head(port, line, authorized, "Content-Length: 4000000")
        answer = await raw_exchange(port, request)  # not one byte of the 4 MB body sent

    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:80]
    assert b"connection: close" in answer.lower()


async def test_connections_beyond_the_cap_are_turned_away_and_half_sent_requests_are_cut(
    tray_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tray = await start_tray(tray_home)
    limits = Limits(max_connections=8, deadline_s=0.5)
    try:
        async with own_endpoint(tray, limits=limits) as (endpoint, token):
            port = endpoint.settings.port
            held = []
            for _ in range(8):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(head(port)[:30])  # half a head, never finished
                held.append((reader, writer))
            turned_away = await raw_exchange(port, b"")  # answered before it says a word
            with anyio.fail_after(WAIT_S):
                cut = [await cut_off(reader) for reader, _ in held]
            init = json.dumps(INITIALIZE_REQUEST)
            whole = head(
                port,
                f"Authorization: Bearer {token}",
                "Content-Type: application/json",
                "Accept: application/json, text/event-stream",
                "Connection: close",
                f"Content-Length: {len(init)}",
            )
            answered = await raw_exchange(port, whole + init.encode())
            for _, writer in held:
                writer.close()
    finally:
        await tray.close()

    assert turned_away.startswith(b"HTTP/1.1 503 ") and b"too many connections" in turned_away
    assert cut == [True] * 8
    assert answered.startswith(b"HTTP/1.1 200 ")  # the slots are free again
    assert "turned away a connection: 8 are open already" in caplog.text
    assert "no whole request within 0.5 s" in caplog.text


@contextmanager
def sockets_enough(count: int) -> Iterator[None]:
    """This test process may hold ``count`` more sockets (the hub gets the usual 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = count + 256
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"needs {wanted} file descriptors; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# The hub under the descriptor limit a desktop session usually gives (soft 1,024).
DESKTOP_LIMITS = (
    sys.executable,
    "-c",
    "import os, resource as r, sys; "
    "r.setrlimit(r.RLIMIT_NOFILE, (1024, r.getrlimit(r.RLIMIT_NOFILE)[1])); "
    "os.execv(sys.executable, [sys.executable, '-m', 'app', *sys.argv[1:]])",
)
HALF_OPEN = 1100


def test_1100_half_sent_requests_leave_the_hub_its_descriptors_and_status_answers(
    tray_home: Path, secret_service: dict[str, str]
) -> None:
    port = free_port()
    config = {"mcpServers": {"rich": rich_entry()}, "http": {"enabled": True, "port": port}}
    (tray_home / "config.json").write_text(json.dumps(config))
    hub = HubProcess(tray_home, env=secret_service, program=DESKTOP_LIMITS)
    attackers: list[socket.socket] = []
    try:
        hub.wait_for_line(r"HTTP endpoint: http://127\.0\.0\.1")
        hub.wait_for_line(r"rich is running")  # what status must still say under the attack
        with sockets_enough(HALF_OPEN), selectors.DefaultSelector() as selector:
            for _ in range(HALF_OPEN):
                attacker = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
                attacker.sendall(head(port)[:30])
                attacker.setblocking(False)
                selector.register(attacker, selectors.EVENT_READ)
                attackers.append(attacker)
            answered = _turned_away(selector, HALF_OPEN - MAX_CONNECTIONS)
            descriptors = psutil.Process(hub.process.pid).num_fds()
            status = mcp_tray(tray_home, "status", "--json", env=secret_service, timeout=WAIT_S)
    finally:
        for attacker in attackers:
            attacker.close()
        hub.stop()

    assert answered == HALF_OPEN - MAX_CONNECTIONS  # the rest are held, until their deadline
    assert descriptors < MAX_CONNECTIONS + 100, descriptors
    assert status.returncode == 0 and json.loads(status.stdout)[0]["state"] == "running"
    log = (tray_home / "logs" / "hub.log").read_text()
    assert "out of system resource" not in log
    assert log.count("turned away a connection") <= LINES_PER_WINDOW


def _turned_away(selector: selectors.BaseSelector, expected: int) -> int:
    """Until ``expected`` of the registered sockets were answered 503 (bounded)."""
    answered = 0
    deadline = time.monotonic() + WAIT_S
    while answered < expected:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"only {answered} of {expected} connections were turned away"
        for key, _ in selector.select(remaining):
            selector.unregister(key.fileobj)
            data = key.fileobj.recv(64)  # type: ignore[union-attr]
            assert data.startswith(b"HTTP/1.1 503 "), data
            answered += 1
    return answered


async def test_a_flood_of_refusals_is_logged_a_few_lines_each_cut_short(
    tray_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with http_tray(tray_home) as (tray, _token):
        port = tray.hub.config.http.port
        planted = "%0A2026-01-01%2000:00:00,000%20ERROR%20app:%20planted"  # a line of its own
        hostile = head(port, "Host: " + "h" * 8000, path=f"/servers/rich/mcp{planted}")
        with caplog.at_level(logging.WARNING, logger="app.core.endpoint.http"):
            answers = [await raw_exchange(port, hostile) for _ in range(3 * LINES_PER_WINDOW)]

    *lines, summary = [r.getMessage() for r in caplog.records if r.name == refusals.name]
    assert all(answer.startswith(b"HTTP/1.1 421 ") for answer in answers)
    assert len(lines) == LINES_PER_WINDOW
    assert summary.startswith(f"HTTP endpoint: {2 * LINES_PER_WINDOW} more line(s) like the above")
    assert max(map(len, lines)) <= LINE_CHARS
    assert not any("\n" in line for line in lines)
    assert "\\n2026-01-01" in lines[0]  # the planted line break is shown, escaped


async def test_lines_held_back_are_counted_in_one_line_when_the_window_ends() -> None:
    watched = logging.getLogger("tests.throttled")
    summary = logging.getLogger("tests.throttle-summary")
    said: list[str] = []
    counted = asyncio.Event()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())
            if record.name == summary.name:
                counted.set()

    collect = Collect()
    for logger in (watched, summary):
        logger.addHandler(collect)
    throttle = Throttle(summary, most=2, window_s=0.2)
    throttle.watch(watched)
    try:
        for number in range(5):
            watched.warning("refusal %d", number)
        with anyio.fail_after(WAIT_S):
            await counted.wait()
    finally:
        throttle.close()
        for logger in (watched, summary):
            logger.removeHandler(collect)

    assert said[:2] == ["refusal 0", "refusal 1"]
    assert said[2].startswith("HTTP endpoint: 3 more line(s) like the above in the last 0 s")
    assert len(said) == 3


async def test_an_idle_session_ends_and_its_unshared_process_with_it_a_streaming_one_stays(
    tray_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    servers = {"rich": rich_entry(), "solo": rich_entry(shared=False)}
    tray = await start_tray(tray_home, servers)
    caplog.set_level(logging.INFO, logger="app.core.endpoint.http")
    try:
        async with (
            own_endpoint(tray, idle_session_s=0.5) as (endpoint, token),
            httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {token}"}, timeout=START_S
            ) as http,
        ):
            port = endpoint.settings.port
            streaming = await open_session(http, server_url(port, "rich"))
            get = {**MCP_HEADERS, "Mcp-Session-Id": streaming, "Accept": "text/event-stream"}
            async with http.stream("GET", server_url(port, "rich"), headers=get) as stream:
                assert stream.status_code == 200
                mark = len(tray.events.events)
                idle = await open_session(http, server_url(port, "solo"))
                started = await tray.events.wait_for_state("running", after=mark)
                pid = next(r.pid for r in tray.hub.status_rows() if r.name == started.server)
                await tray.events.wait_for(
                    lambda e: (
                        isinstance(e, ServerStateChanged)
                        and e.server == started.server
                        and e.state == "stopped"
                    ),
                    after=mark,
                )
                gone = await post(http, server_url(port, "solo"), idle, PING)
                kept = await post(http, server_url(port, "rich"), streaming, PING)
    finally:
        await tray.close()

    assert started.server.startswith("solo#")
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert gone.status_code == 404
    assert kept.status_code == 200, kept.text
    assert "HTTP session of solo ended: no request for 0.5 s" in caplog.text
    assert "HTTP session of rich ended" not in caplog.text


PING = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
START_S = 30.0  # an initialize of an unshared server waits for a new process's handshake


async def open_session(http: httpx2.AsyncClient, url: str) -> str:
    response = await http.post(url, headers=MCP_HEADERS, json=INITIALIZE_REQUEST)
    assert response.status_code == 200, response.text
    session: str = response.headers["mcp-session-id"]
    return session


async def post(
    http: httpx2.AsyncClient, url: str, session: str, message: dict[str, Any]
) -> httpx2.Response:
    headers = {**MCP_HEADERS, "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
    return await http.post(url, headers=headers, json=message)


# ----- a new token


async def test_a_new_token_reaches_the_connected_app_and_the_running_hub_takes_only_it(
    tray_home: Path, tmp_path: Path
) -> None:
    keyring = MemoryKeyring()
    store = SecretStore(tray_home / "secret-names.json", backend=keyring)
    settings = {"http": {"enabled": True, "port": free_port()}}
    tray = await start_tray(tray_home, secrets=Secrets(store), settings=settings)
    try:
        app_config, gone = tmp_path / "mcp.json", tmp_path / "gone" / "mcp.json"
        gone.parent.mkdir()
        for path in (app_config, gone):
            path.write_text(json.dumps({"mcpServers": {"rich": rich_entry()}}))
            path.chmod(0o644)
            await anyio.to_thread.run_sync(
                lambda p=path: connect(HOSTS["cursor"], p, tray.paths, http=True, store=store)
            )
        gone.unlink()  # the user removed that project since
        old = entry_token(app_config)
        url = server_url(tray.hub.config.http.port, "rich")
        async with httpx2.AsyncClient(timeout=START_S) as http:
            as_old = {"Authorization": f"Bearer {old}"}
            opened = await http.post(
                url, headers={**MCP_HEADERS, **as_old}, json=INITIALIZE_REQUEST
            )
            session_id = opened.headers["mcp-session-id"]

            rotation = await anyio.to_thread.run_sync(lambda: rotate_token(tray.paths, store))
            serving = await tray.control("http_token_changed")  # what the command line sends
            new = entry_token(app_config)
            as_new = {"Authorization": f"Bearer {new}"}
            refused = await http.post(
                url, headers={**MCP_HEADERS, **as_old}, json=INITIALIZE_REQUEST
            )
            accepted = await http.post(
                url, headers={**MCP_HEADERS, **as_new}, json=INITIALIZE_REQUEST
            )
            ended = await http.post(
                url,
                headers={**MCP_HEADERS, **as_new, "Mcp-Session-Id": session_id},
                json=PING,
            )
    finally:
        await tray.close()

    assert serving is True
    assert new != old and new == keyring.entries[(f"mcp-tray/{TOKEN_SCOPE}", TOKEN_NAME)]
    assert [(g.host.name, g.path, g.servers) for g in rotation.given] == [
        ("cursor", app_config, ["rich"])
    ]
    assert rotation.trouble == [f"Cursor: {gone} is gone"]
    assert stat.S_IMODE(app_config.stat().st_mode) == 0o600
    assert refused.status_code == 401
    assert accepted.status_code == 200
    assert ended.status_code == 404  # the session the old token opened is over


def entry_token(app_config: Path) -> str:
    entry = json.loads(app_config.read_text())["mcpServers"]["rich"]
    token: str = entry["headers"]["Authorization"].removeprefix("Bearer ")
    return token


@pytest.mark.parametrize("params", [None, [1, 2], "text", 7])
async def test_a_request_whose_params_are_not_an_object_gets_the_session_path_s_answer(
    tray_home: Path, params: Any
) -> None:
    """Such a body, with no version header, is looked at for a 2026-07-28 envelope
    first; it must reach the session path (400, or the SDK's own reply to null
    params, which JSON-RPC allows), not fail there with a 500."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
    async with http_tray(tray_home) as (tray, token), httpx2.AsyncClient(timeout=WAIT_S) as http:
        url = server_url(tray.hub.config.http.port, "rich")
        headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
        answer = await http.post(url, headers=headers, json=body)

    assert answer.status_code == (200 if params is None else 400)
