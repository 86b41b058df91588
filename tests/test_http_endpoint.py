"""The Streamable HTTP endpoint: the SDK's own HTTP client through the hub to a stdio
server, a kill -9 between calls it never sees, the Unix-socket variant, and every
refusal (foreign Origin, rebinding Host, missing or wrong token, oversized body),
each answered with its status and logged."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from app.core.endpoint.http import TOKEN_NAME, TOKEN_SCOPE, server_url
from app.core.events import ConfigApplied
from app.core.secrets import Secrets, SecretStore
from app.hosts.linking import connect
from app.hosts.registry import HOSTS
from tests.keyrings import MemoryKeyring
from tests.relaykit import WAIT_S, Tray, rich_entry, start_tray

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@asynccontextmanager
async def http_tray(home: Path, **http: Any) -> AsyncIterator[tuple[Tray, str]]:
    """A hub serving the rich server over HTTP too; yields it and the install token."""
    keyring = MemoryKeyring()
    secrets = Secrets(SecretStore(home / "secret-names.json", backend=keyring))
    settings = {"http": {"enabled": True, "port": free_port(), **http}}
    tray = await start_tray(home, {"rich": rich_entry()}, secrets=secrets, settings=settings)
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


async def test_refusals_have_the_right_status_and_are_logged(
    tray_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with http_tray(tray_home, maxBodyBytes=2048) as (tray, token):
        port = tray.hub.config.http.port
        url = server_url(port, "rich")
        good = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
        with caplog.at_level(logging.WARNING, logger="app.core.endpoint.http"):
            async with httpx2.AsyncClient() as http:

                async def status(headers: dict[str, str], body: Any = INITIALIZE) -> int:
                    response = await http.post(url, headers=headers, json=body)
                    return response.status_code

                statuses = {
                    "foreign origin": await status({**good, "Origin": "https://evil.example"}),
                    "rebinding host": await status({**good, "Host": f"evil.example:{port}"}),
                    "no token": await status(MCP_HEADERS),
                    "wrong token": await status({**good, "Authorization": "Bearer nope"}),
                    "too large": await status(good, {**INITIALIZE, "pad": "x" * 4096}),
                    "own origin": await status({**good, "Origin": f"http://127.0.0.1:{port}"}),
                }
                unknown = await http.post(server_url(port, "nosuch"), headers=good, json=INITIALIZE)
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
            response = await http.post("/servers/rich/mcp", headers=MCP_HEADERS, json=INITIALIZE)

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
