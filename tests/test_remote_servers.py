"""Remote servers (a ``url`` in the config): a real hub reaches them over HTTP, and
the SDK's client uses them through ``mcp-tray attach`` as an editor would.

The remote server is tests/servers/remote_echo.py, a process of its own on a
local port: killed and started again, it is a remote server that went away
and came back (its sessions forgotten).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from tests.hubprocess import HubProcess, mcp_tray
from tests.test_conformance import free_port
from tests.test_revision_2026 import CALL_TIMEOUT_S, text

pytestmark = pytest.mark.anyio

REMOTE = Path(__file__).parent / "servers" / "remote_echo.py"
ATTACH_S = 60.0  # `mcp-tray attach` and the SDK's import, on a cold machine
KEY = "remote-key-9f3c2a71d4"  # what the key-wanting server takes, given through ${env:…}


@contextmanager
def remote_server(home: Path, port: int, *options: str) -> Iterator[HubProcess]:
    """tests/servers/remote_echo.py on ``port``, taking connections."""
    home.mkdir(exist_ok=True)
    process = HubProcess(home, program=(sys.executable, str(REMOTE)), command=(str(port), *options))
    try:
        process.wait_for_line("listening")
        yield process
    finally:
        process.stop()


@contextmanager
def hub_for(home: Path, servers: dict[str, Any], **env: str) -> Iterator[HubProcess]:
    home.mkdir()
    (home / "config.json").write_text(json.dumps({"mcpServers": servers}))
    process = HubProcess(home, env={**os.environ, **env})
    try:
        yield process
    finally:
        process.stop()


@asynccontextmanager
async def attached(
    home: Path, name: str, env: dict[str, str] | None = None
) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "app", "attach", name],
        env={**os.environ, **(env or {}), "MCP_TRAY_HOME": str(home)},
    )
    with anyio.fail_after(ATTACH_S):
        async with Client(params, mode="legacy", read_timeout_seconds=CALL_TIMEOUT_S) as client:
            yield client


@contextmanager
def one_remote(
    tmp_path: Path, *options: str, name: str = "remote", path: str = "/mcp", **more: Any
) -> Iterator[tuple[HubProcess, HubProcess, int]]:
    """A remote server on a port of its own (started with ``options``), and a hub that
    has it as ``name`` (at ``path``, its entry with ``more`` added), running:
    (the server, the hub, the port)."""
    port = free_port()
    entry = {"url": f"http://127.0.0.1:{port}{path}", **more}
    with (
        remote_server(tmp_path / "remote", port, *options) as server,
        hub_for(tmp_path / "home", {name: entry}) as hub,
    ):
        hub.wait_for_line(rf"{name} is running")
        yield server, hub, port


def states(hub: HubProcess) -> dict[str, tuple[str, str | None]]:
    return {row["name"]: (row["state"], row.get("last_error")) for row in hub.status()}


async def test_an_attached_app_keeps_its_session_while_the_remote_server_restarts(
    tmp_path: Path,
) -> None:
    with one_remote(tmp_path) as (first, hub, port):
        async with attached(hub.home, "remote") as client:
            assert text(await client.call_tool("echo", {"text": "hi"})) == "hi"
            before = text(await client.call_tool("pid"))
            first.process.kill()  # its sessions die with it
            first.stop()
            with remote_server(tmp_path / "remote", port):
                # The old session is gone: the new process refuses the call (404)
                # without running it, so it goes to the next connection.
                after = text(await client.call_tool("pid"))
                hub.wait_for_line(r"remote restarting in")
        assert hub.unexpected_warnings() == []

    assert after != before


async def test_restart_reconnects_a_running_remote_server_and_keeps_supervising_it(
    tmp_path: Path,
) -> None:
    with one_remote(tmp_path) as (_, hub, _port):
        restarted = mcp_tray(hub.home, "restart", "remote")
        hub.wait_for_new_line(r"remote is running")
        rows = states(hub)
        async with attached(hub.home, "remote") as client:
            assert text(await client.call_tool("echo", {"text": "again"})) == "again"
        assert hub.unexpected_warnings() == []

    assert restarted.returncode == 0, restarted.stderr
    assert rows["remote"] == ("running", None)


async def test_a_call_in_flight_when_the_connection_breaks_fails_as_in_a_crash_and_quietly(
    tmp_path: Path,
) -> None:
    # The server is killed while it runs a call: the call's response breaks. A call the
    # server may have run is not repeated (-31001, as for a crashed process), the next
    # call reaches the next server, and hub.log tells no trouble (the SDK's traceback of
    # the broken request is the run's to tell, in a line).
    said: list[str] = []
    with one_remote(tmp_path) as (first, hub, port):
        async with attached(hub.home, "remote") as client:
            async with anyio.create_task_group() as calls:
                calls.start_soon(failure_of, client.call_tool("hang"), said)
                await anyio.to_thread.run_sync(first.wait_for_line, "hanging")
                first.process.kill()
                first.stop()
            with remote_server(tmp_path / "remote", port):
                assert text(await client.call_tool("echo", {"text": "back"})) == "back"
        assert hub.unexpected_warnings() == []

    assert said == [
        "remote crashed while handling this call and was restarted; the call was "
        "not repeated because it may already have had effects. Try it again."
    ]


async def failure_of(call: Awaitable[Any], said: list[str]) -> None:
    """Await ``call``, which must fail; its error's words go into ``said``."""
    with pytest.raises(MCPError) as failed:
        await call
    said.append(str(failed.value))


async def test_each_request_after_the_handshake_says_the_revision_it_settled_on(
    tmp_path: Path,
) -> None:
    # A server may refuse (400) a request in a session without MCP-Protocol-Version.
    with one_remote(tmp_path, "--strict-version", name="strict") as (_, hub, _port):
        async with attached(hub.home, "strict") as client:
            assert text(await client.call_tool("echo", {"text": "2025"})) == "2025"


async def test_headers_carry_a_key_and_a_refused_one_is_said_in_plain_words(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    servers = {
        "keyed": {"url": url, "headers": {"Authorization": "Bearer ${env:REMOTE_KEY}"}},
        "wrong-key": {"url": url, "headers": {"Authorization": "Bearer not-the-key"}},
        "no-key": {"type": "http", "url": url},
    }
    with (
        remote_server(tmp_path / "remote", port, "--token", KEY),
        hub_for(tmp_path / "home", servers, REMOTE_KEY=KEY) as hub,
    ):
        hub.wait_for_line(r"keyed is running")
        hub.wait_for_line(r"wrong-key.*refused the key in its headers \(HTTP 401\)")
        hub.wait_for_line(r"no-key needs you to sign in")
        async with attached(hub.home, "keyed") as client:
            assert text(await client.call_tool("echo", {"text": "in"})) == "in"
        rows = states(hub)
        status = json.dumps(hub.status())
        lines = "\n".join(hub.lines)
        logs = "\n".join(p.read_text() for p in (hub.home / "logs").rglob("*.log"))

    assert rows["keyed"] == ("running", None)
    assert rows["wrong-key"][1] is not None and "refused the key" in rows["wrong-key"][1]
    # Without a key of its own, MCP Tray would sign in to it: it waits for the user.
    assert rows["no-key"][0] == "needs-sign-in"
    assert "Connecting to" in logs  # the servers' logs were read, not just the hub's
    assert KEY not in status and KEY not in lines and KEY not in logs


async def test_an_unreachable_server_is_tried_until_it_is_back_and_disturbs_no_other(
    tmp_path: Path,
) -> None:
    # Past maxFailures a crashing process is paused; a server the network cannot reach
    # is not (nothing is the user's to fix): it is tried at the backoff's pace until back.
    late, port = free_port(), free_port()
    quick = {"maxFailures": 2, "initialDelayMs": 50, "maxDelayMs": 200}
    servers = {
        "late": {"url": f"http://127.0.0.1:{late}/mcp", "restart": quick},
        "here": {"url": f"http://127.0.0.1:{port}/mcp"},
        "page": {"url": f"http://127.0.0.1:{port}/nowhere", "restart": quick},
    }
    with (
        remote_server(tmp_path / "remote", port),
        hub_for(tmp_path / "home", servers) as hub,
    ):
        hub.expect_warnings(r"page entered crash-loop")
        hub.wait_for_line(r"late restarting in .*\(failure 4\)")
        hub.wait_for_line(r"page.*has no MCP server at that address \(HTTP 404\)")
        waiting = states(hub)["late"]
        hub.wait_for_line(r"here is running")
        async with attached(hub.home, "here") as client:
            assert text(await client.call_tool("echo", {"text": "ok"})) == "ok"
        with remote_server(tmp_path / "late", late):
            hub.wait_for_line(r"late is running")
        assert hub.unexpected_warnings() == []

    assert waiting[0] == "backoff"
    assert waiting[1] is not None and waiting[1].startswith("could not be reached (cannot connect")


@pytest.mark.parametrize("said", [True, False], ids=["type-sse", "found"])
async def test_a_server_of_the_old_http_sse_transport_works(tmp_path: Path, said: bool) -> None:
    # Without "type", Streamable HTTP is tried first: its POST finds no endpoint (405).
    given = {"type": "sse"} if said else {}
    with one_remote(tmp_path, "--sse", name="old", path="/sse", **given) as (_, hub, _port):
        async with attached(hub.home, "old") as client:
            assert text(await client.call_tool("echo", {"text": "sse"})) == "sse"
        log = (hub.home / "logs" / "servers" / "old.log").read_text()

    assert ("trying the older HTTP+SSE transport" in log) is not said


WEB_PAGE = Path(__file__).parent / "servers" / "web_page.py"


async def test_each_wrong_address_says_what_is_wrong_and_disturbs_no_other(
    tmp_path: Path,
) -> None:
    good, nothing, page = free_port(), free_port(), free_port()
    quick = {"maxFailures": 2, "initialDelayMs": 50, "maxDelayMs": 200}
    servers = {
        "good": {"url": f"http://127.0.0.1:{good}/mcp"},
        "nothing": {"url": f"http://127.0.0.1:{nothing}/mcp", "restart": quick},
        # https to a server that speaks plain http: no TLS handshake is possible.
        "tls": {"url": f"https://127.0.0.1:{good}/mcp", "restart": quick},
        "page": {"url": f"http://127.0.0.1:{page}/", "restart": quick},
    }
    web = tmp_path / "web"
    web.mkdir()
    site = HubProcess(web, program=(sys.executable, str(WEB_PAGE)), command=(str(page),))
    try:
        site.wait_for_line("listening")
        with (
            remote_server(tmp_path / "remote", good),
            hub_for(tmp_path / "home", servers) as hub,
        ):
            hub.wait_for_line(r"good is running")
            hub.wait_for_line(r"tls entered crash-loop")
            hub.wait_for_line(r"page entered crash-loop")
            hub.wait_for_line(r"nothing restarting in")
            async with attached(hub.home, "good") as client:
                echoed = text(await client.call_tool("echo", {"text": "still here"}))
            rows = states(hub)
    finally:
        site.stop()

    assert echoed == "still here"
    assert rows["good"] == ("running", None)
    assert rows["tls"][0] == "crash-loop"
    assert "no secure connection could be made (WRONG_VERSION_NUMBER): is it https?" in str(
        rows["tls"][1]
    )
    assert rows["page"] == ("crash-loop", "answered with a web page, not MCP: check the url")
    # Offline: tried again for as long as it takes (between two tries, or in one), never paused.
    assert rows["nothing"][0] in ("backoff", "starting")
    assert "could not be reached (cannot connect" in str(rows["nothing"][1])
