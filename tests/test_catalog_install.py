"""A catalog entry's command line starts the real server: ``memory``, from npm with npx;
and ``mcp-tray add --catalog memory`` ends with it running, answering through attach.

The first run downloads the pinned package into npm's cache (network needed
once); without ``npx`` the tests are skipped.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from app.core.catalog import bundled, entry
from tests.hubprocess import HubProcess, mcp_tray
from tests.test_attach import attached

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("npx") is None, reason="the memory server runs with npx"),
]

START_TIMEOUT_S = 180.0  # a cold npm cache downloads the package and the MCP SDK first
REQUEST_TIMEOUT_S = 30.0


async def test_the_memory_entry_starts_and_lists_its_tools(tmp_path: Path) -> None:
    draft = entry(bundled(), "memory").draft()
    params = StdioServerParameters(
        command=draft.command,
        args=draft.args,
        # Its knowledge graph goes to this test's folder, not beside npm's copy.
        env={**os.environ, "MEMORY_FILE_PATH": str(tmp_path / "memory.jsonl")},
    )

    with anyio.fail_after(START_TIMEOUT_S):
        async with Client(params, mode="legacy", read_timeout_seconds=REQUEST_TIMEOUT_S) as client:
            server = client.server_info  # what it answered to initialize
            listed = await client.list_tools()

    assert server is not None
    assert server.name == "memory-server"
    assert {tool.name for tool in listed.tools} >= {"create_entities", "read_graph"}


def test_adding_the_memory_entry_runs_it_and_an_app_reaches_it_through_attach(
    tray_home: Path, secret_service: dict[str, str]
) -> None:
    (tray_home / "config.json").write_text('{"mcpServers": {}}')
    hub = HubProcess(tray_home, env=secret_service)
    try:
        hub.wait_for_line(r"hub ready")
        added = mcp_tray(
            tray_home, "add", "--catalog", "memory", env=secret_service, timeout=START_TIMEOUT_S
        )

        async def tools() -> set[str]:
            async with attached(tray_home, "memory") as client:
                return {tool.name for tool in (await client.list_tools()).tools}

        listed = anyio.run(tools)
    finally:
        hub.stop()

    assert added.returncode == 0, added.stderr
    assert "memory is running" in added.stdout
    assert listed >= {"create_entities", "read_graph"}
