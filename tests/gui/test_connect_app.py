""" "Connect an app…" in the tray: the apps found, then Connect and Disconnect, one click each.

A Claude Desktop config and a Cursor config sit at their usual places under
a temporary home; the tray's dialog lists both, Connect imports Claude
Desktop's two servers (its token to the real Secret Service) and starts
them in the hub, and Disconnect gives the app its file back byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from keyring.backends import SecretService
from PySide6.QtWidgets import QLabel

from app.gui.connect import CONNECT, DISCONNECT
from tests.gui.conftest import RunningTray, TrayLoop
from tests.helpers import ARTIFACTS, claude_desktop_config

TOKEN = "ghp_" + "Lm3Nb4Vc5X" * 4  # shaped like a real token, valid nowhere


def test_connect_and_disconnect_an_app_from_the_tray(
    start_tray: Any,
    tray_loop: TrayLoop,
    tmp_path: Path,
    secret_service: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service["DBUS_SESSION_BUS_ADDRESS"])
    home = tmp_path / "user"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    claude = home / ".config" / "Claude" / "claude_desktop_config.json"
    claude_desktop_config(claude, TOKEN)
    original = claude.read_bytes()
    cursor = home / ".cursor" / "mcp.json"
    cursor.parent.mkdir(parents=True)
    cursor.write_text('{"mcpServers": {"docs": {"url": "https://docs.example.com/mcp"}}}')
    running: RunningTray = start_tray({})
    tray = running.tray

    async def scenario() -> dict[str, Any]:
        running.menu_action("Connect an app…").trigger()
        await running.settled()
        dialog = tray.connect_dialog
        assert dialog is not None
        seen: dict[str, Any] = {"buttons": set(dialog.buttons), "listed": dialog.status.text()}
        dialog.buttons[(claude, CONNECT)].click()
        await running.settled()
        seen["connected"] = dialog.status.text()
        seen["app config"] = json.loads(claude.read_text())
        for server in ("notes", "github"):
            await running.events.wait_for(
                lambda e, s=server: (
                    getattr(e, "server", None) == s and getattr(e, "state", None) == "running"
                )
            )
        seen["buttons after"] = set(dialog.buttons)
        seen["words after"] = [label.text() for label in dialog.findChildren(QLabel)]
        ARTIFACTS.mkdir(exist_ok=True)
        dialog.grab().save(str(ARTIFACTS / "connect-an-app.png"))
        dialog.buttons[(claude, DISCONNECT)].click()
        await running.settled()
        seen["disconnected"] = dialog.status.text()
        return seen

    seen = tray_loop.run(scenario)

    # Cursor's only server is remote, with no key: it can go through MCP Tray too.
    assert seen["buttons"] == {(claude, CONNECT), (cursor, CONNECT)}
    assert seen["listed"] == ""  # the list is above; the status line says what happened
    assert seen["connected"] == (
        "Claude Desktop now reaches 2 servers through MCP Tray: notes, github. "
        "Quit and reopen Claude Desktop to load the change."
    )
    for name, entry in seen["app config"]["mcpServers"].items():
        assert entry["args"][-2:] == ["attach", name] and "env" not in entry
    # Cursor can now be given the two servers Claude Desktop brought into MCP Tray.
    assert seen["buttons after"] == {(claude, DISCONNECT), (cursor, CONNECT)}
    assert "• notes, github — in MCP Tray; Connect gives Cursor them" in "\n".join(
        seen["words after"]
    )
    assert seen["disconnected"] == (
        "Claude Desktop is back to starting its servers itself.\n"
        "notes and github keep running in MCP Tray; "
        "remove them there if you no longer need them.\n"
        "Quit and reopen Claude Desktop to load the change."
    )
    assert claude.read_bytes() == original
    assert sorted(running.hub.config.servers) == ["github", "notes"]
    keyring = SecretService.Keyring()
    assert keyring.get_password("mcp-tray/github", "GITHUB_TOKEN") == TOKEN
    assert TOKEN not in running.hub.paths.config_file.read_text()
    keyring.delete_password("mcp-tray/github", "GITHUB_TOKEN")
