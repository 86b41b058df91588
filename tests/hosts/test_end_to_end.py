"""From an app's config to its servers through the tray: import, connect, then attach.

A Claude-Desktop-shaped config with two servers, one holding a token in
plain text; after `import` and `connect`, the command the app would now run
is run the way an MCP client runs it, and lists the server's tools through
the hub; the token reaches the server from the keyring, and neither config
holds it any more.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from keyring.backends import SecretService
from mcp import Client, StdioServerParameters

from tests.helpers import claude_desktop_config
from tests.hubprocess import HubProcess, mcp_tray

TOKEN = "ghp_" + "Qr7St6Uv5W" * 4  # shaped like a real token, valid nowhere
WAIT_S = 60.0


def test_import_then_connect_gives_the_app_its_servers_through_the_tray(
    tray_home: Path,
    tmp_path: Path,
    secret_service: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app_config = tmp_path / "Claude" / "claude_desktop_config.json"
    claude_desktop_config(app_config, TOKEN)
    (tray_home / "config.json").write_text('{"mcpServers": {}}\n')
    where = ("claude-desktop", "--path", str(app_config))

    imported = mcp_tray(tray_home, "import", *where, env=secret_service)
    connected = mcp_tray(tray_home, "connect", *where, env=secret_service)
    assert imported.returncode == 0, imported.stderr
    assert connected.returncode == 0, connected.stderr
    entry = json.loads(app_config.read_text())["mcpServers"]["github"]

    hub = HubProcess(tray_home, env=secret_service)
    try:
        hub.wait_for_line(r"github is running")
        tools, token = anyio.run(_use_as_an_app_would, entry, tray_home, secret_service)
    finally:
        hub.stop()

    assert "token" in tools
    assert token == TOKEN  # from the keyring, through MCP Tray
    assert TOKEN not in app_config.read_text()
    assert TOKEN not in (tray_home / "config.json").read_text()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service["DBUS_SESSION_BUS_ADDRESS"])
    assert SecretService.Keyring().get_password("mcp-tray/github", "GITHUB_TOKEN") == TOKEN


async def _use_as_an_app_would(
    entry: dict[str, object], home: Path, environment: dict[str, str]
) -> tuple[list[str], str]:
    command, args = entry["command"], entry["args"]
    assert isinstance(command, str) and isinstance(args, list)
    server = StdioServerParameters(
        command=command, args=args, env={**environment, "MCP_TRAY_HOME": str(home)}
    )
    with anyio.fail_after(WAIT_S):
        async with Client(server, mode="legacy", read_timeout_seconds=WAIT_S) as client:
            tools = [tool.name for tool in (await client.list_tools()).tools]
            result = await client.call_tool("token", {})
    text: str = result.content[0].text  # type: ignore[union-attr]
    return tools, text
