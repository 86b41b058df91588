"""A catalog entry's command line starts the real server: ``memory``, from npm with npx.

The first run downloads the pinned package into npm's cache (network needed
once); without ``npx`` the test is skipped.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from app.core.catalog import bundled, entry

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

START_TIMEOUT_S = 180.0  # a cold npm cache downloads the package and the MCP SDK first
REQUEST_TIMEOUT_S = 30.0


async def test_the_memory_entry_starts_and_lists_its_tools(tmp_path: Path) -> None:
    if shutil.which("npx") is None:
        pytest.skip("the memory server runs with npx, which needs Node.js on PATH")
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
