"""Switching a server's tools on and off: a real hub, the bundled demo server, an SDK
client attached through ``mcp-tray attach``, and ``mcp-tray tools`` as the user runs it.
The apps' lists change (with ``tools/list_changed``) and the server runs on."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import types
from mcp.shared.exceptions import MCPError

from tests.hubprocess import HubProcess, mcp_tray
from tests.test_modern_upstream import attached

pytestmark = pytest.mark.anyio

NOTICE_S = 30.0  # a list_changed reaches the attached app


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    home = tmp_path / "home"
    home.mkdir()
    notes = {"command": sys.executable, "args": ["-m", "app", "demo"]}
    (home / "config.json").write_text(json.dumps({"mcpServers": {"notes": notes}}, indent=2))
    process = HubProcess(home)
    try:
        process.wait_for_line("notes is running")
        yield process
    finally:
        process.stop()


async def names(client: object) -> list[str]:
    listed = await client.list_tools()  # type: ignore[attr-defined]
    return sorted(tool.name for tool in listed.tools)


async def test_a_switched_off_tool_leaves_the_apps_list_and_comes_back_without_a_restart(
    hub: HubProcess,
) -> None:
    heard = anyio.Event()

    async def note(message: object) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            heard.set()

    pid = {row["name"]: row["pid"] for row in hub.status()}["notes"]
    async with attached(hub.home, "notes", "legacy", message_handler=note) as client:
        before = await names(client)
        off = mcp_tray(hub.home, "tools", "notes", "--disable", "delete_note")
        with anyio.fail_after(NOTICE_S):
            await heard.wait()
        while_off = await names(client)
        with pytest.raises(MCPError) as refused:
            await client.call_tool("delete_note", {"note_id": 1})
        listed = mcp_tray(hub.home, "tools", "notes").stdout
        heard = anyio.Event()
        on = mcp_tray(hub.home, "tools", "notes", "--enable", "delete_note")
        with anyio.fail_after(NOTICE_S):
            await heard.wait()
        after = await names(client)
    config = json.loads((hub.home / "config.json").read_text())
    rows = {row["name"]: row for row in hub.status()}
    assert hub.unexpected_warnings() == []

    assert off.returncode == 0, off.stderr
    assert "Switched off for the apps: delete_note." in off.stdout
    assert "keeps running" in off.stdout
    assert "delete_note" in before and "delete_note" not in while_off
    assert set(before) - set(while_off) == {"delete_note"}
    assert refused.value.error.code == -32602
    assert "switched off in MCP Tray" in refused.value.error.message
    assert "mcp-tray tools notes --enable delete_note" in refused.value.error.message
    assert "off  delete_note" in listed and "on   add_note" in listed
    assert on.returncode == 0, on.stderr
    assert after == before
    assert config["mcpServers"]["notes"]["tools"] == {"disabled": []}
    assert (rows["notes"]["state"], rows["notes"]["pid"]) == ("running", pid)  # never restarted


def test_a_tool_switched_off_by_a_pattern_is_not_switched_on_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    notes = {"command": sys.executable, "args": ["-m", "app", "demo"]}
    notes["tools"] = {"disabled": ["*_note"]}  # type: ignore[assignment]
    config = home / "config.json"
    config.write_text(json.dumps({"mcpServers": {"notes": notes}}, indent=2))
    before = config.read_text()

    refused = mcp_tray(home, "tools", "notes", "--enable", "add_note")
    listed = mcp_tray(home, "tools", "notes")

    assert refused.returncode == 1
    assert "add_note stays off" in refused.stderr and "*_note" in refused.stderr
    assert config.read_text() == before
    assert "Kept from the apps: *_note." in listed.stdout
