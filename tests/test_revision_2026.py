"""A client speaking spec revision 2026-07-28, attached through ``mcp-tray attach``.

The SDK's own client, set to that revision (``mode="2026-07-28"``: no handshake,
an envelope on every request; ``mode="auto"``: ``server/discover`` first), runs
``mcp-tray attach`` as an editor would, against a real hub supervising
tests/servers/rich.py, which the hub speaks to in the handshake era
(2025-11-25). The relay's rules for this, one by one, are in
tests/core/test_relay_modern.py.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.subscriptions import ResourceUpdated, ToolsListChanged

from tests.helpers import PYTHON
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.anyio

CALL_TIMEOUT_S = 30.0
RICH = Path(__file__).parent / "servers" / "rich.py"


@pytest.fixture
def hub(tray_home: Path) -> Iterator[HubProcess]:
    # rich.py grows tools as it runs; these tests are about relaying them, not about
    # holding new tools for review (tests/test_tool_review.py): it is trusted.
    rich = {"command": PYTHON, "args": [str(RICH)], "trustChanges": True}
    config = {"mcpServers": {"rich": rich}}
    (tray_home / "config.json").write_text(json.dumps(config))
    process = HubProcess(tray_home)
    process.wait_for_line(r"is running")
    yield process
    process.stop()


@asynccontextmanager
async def attached(home: Path, mode: str, **callbacks: Any) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "app", "attach", "rich"],
        env={**os.environ, "MCP_TRAY_HOME": str(home)},
    )
    with anyio.fail_after(60):
        async with Client(
            params, mode=mode, read_timeout_seconds=CALL_TIMEOUT_S, **callbacks
        ) as client:
            yield client


def text(result: object) -> str:
    # Typed object: it takes any call's result; the "rich" server's tools answer text first.
    return result.content[0].text  # type: ignore[attr-defined]


async def test_a_2026_client_lists_and_calls_tools_of_a_handshake_era_server(
    hub: HubProcess,
) -> None:
    async with attached(hub.home, "2026-07-28") as client:
        tools = await client.list_tools()
        called = await client.call_tool("progress", {"steps": 2})

        assert client.protocol_version == "2026-07-28"
    assert {"progress", "hold", "sample"} <= {tool.name for tool in tools.tools}
    assert text(called) == "done 2"


async def test_a_dual_era_client_discovers_the_server_and_settles_on_2026(
    hub: HubProcess,
) -> None:
    async with attached(hub.home, "auto") as client:
        found = client.session.discover_result
        called = await client.call_tool("progress", {"steps": 1})

        assert client.protocol_version == "2026-07-28"
        assert client.session.server_info is not None
        assert client.session.server_info.name == "rich"
    assert found is not None and found.supported_versions == ["2026-07-28"]
    assert found.capabilities.tools is not None and found.capabilities.resources is not None
    assert text(called) == "done 1"


async def sample(context: Any, params: types.CreateMessageRequestParams) -> Any:
    # Content may be an image or audio block, which has no text; the "sample" tool sends text.
    asked = params.messages[0].content.text  # type: ignore[union-attr]
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(text=f"sampled {asked}"), model="test-model"
    )


async def elicit(context: Any, params: types.ElicitRequestParams) -> Any:
    return types.ElicitResult(action="accept", content={"name": f"Ada ({params.message})"})


async def test_the_servers_sampling_and_elicitation_reach_a_dual_era_client_in_input_required(
    hub: HubProcess,
) -> None:
    async with attached(
        hub.home, "auto", sampling_callback=sample, elicitation_callback=elicit
    ) as client:
        sampled = await client.call_tool("sample", {"prompt": "hello"})
        asked = await client.call_tool("ask", {"question": "name?"})
        # One after the other on the same connection: each round is its own.
        again = await client.call_tool("sample", {"prompt": "again"})

        assert client.protocol_version == "2026-07-28"
    assert text(sampled) == "sampled hello"
    assert text(asked) == "accept Ada (name?)"
    assert text(again) == "sampled again"


async def test_a_2026_client_without_a_sampling_callback_gets_the_servers_request_refused(
    hub: HubProcess,
) -> None:
    async with attached(hub.home, "2026-07-28") as client:
        called = await client.call_tool("sample", {"prompt": "hello"})

    # It declared no sampling: the server's request got MCP Tray's refusal, as the tool says.
    assert text(called).startswith("error -31006: ")
    assert "sampling/createMessage" in text(called)


async def test_a_2026_listener_hears_of_list_changes_and_resource_updates_until_it_cancels(
    hub: HubProcess,
) -> None:
    uri = "rich://listened"
    unsubscribed = anyio.Event()

    async def watch(params: types.LoggingMessageNotificationParams) -> None:
        if params.data == {"event": "unsubscribe", "uri": uri}:
            unsubscribed.set()

    # A handshake-era client sees the server's log entries: how the test knows it unsubscribed.
    async with (
        attached(hub.home, "legacy", logging_callback=watch) as watcher,
        attached(hub.home, "2026-07-28") as client,
    ):
        async with client.listen(tools_list_changed=True, resource_subscriptions=[uri]) as sub:
            assert sub.honored.tools_list_changed is True
            assert sub.honored.resource_subscriptions == [uri]
            assert text(await client.call_tool("grow", {"name": "sprout"})) == "grown sprout"
            with anyio.fail_after(CALL_TIMEOUT_S):
                grown = await anext(sub)
            assert text(await client.call_tool("touch", {"uri": uri})) == "touched"
            with anyio.fail_after(CALL_TIMEOUT_S):
                touched = await anext(sub)
        with anyio.fail_after(CALL_TIMEOUT_S):
            await unsubscribed.wait()  # leaving the listen cancelled it, and the relay unsubscribed
        tools = await client.list_tools()
        recorded = json.loads(text(await watcher.call_tool("events", {})))

    assert grown == ToolsListChanged()
    assert touched == ResourceUpdated(uri=uri)
    assert "sprout" in {tool.name for tool in tools.tools}
    assert [e for e in recorded if e.get("uri") == uri] == [
        {"event": "subscribe", "uri": uri},
        {"event": "unsubscribe", "uri": uri},
    ]
