"""connect and disconnect: comments kept, the user's later edits respected, the command line."""

from __future__ import annotations

import json
from pathlib import Path

from app.core.jsonc import Document
from app.hosts.linking import Connections
from app.hosts.registry import HOSTS
from tests.hubprocess import mcp_tray

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_copy(name: str, folder: Path) -> Path:
    path = folder / f"{name}.json"
    path.write_bytes((FIXTURES / f"{name}.json").read_bytes())
    return path


def test_comments_outside_the_rewritten_entry_survive_connect(tmp_path: Path) -> None:
    path = fixture_copy("zed", tmp_path)

    Connections(tmp_path / "state").connect(HOSTS["zed"], path, {"github", "time"})

    text = path.read_text()
    assert text.startswith("// Zed settings\n//\n")
    assert "// written by an older Zed" in text
    assert '/* MCP servers are "context servers" in Zed */' in text
    assert '"vim_mode": false,' in text  # the trailing comma, as the user wrote it


def test_disconnect_after_the_user_edited_the_file_puts_back_only_our_entry(
    tmp_path: Path,
) -> None:
    host = HOSTS["cursor"]
    path = fixture_copy("cursor", tmp_path)
    connections = Connections(tmp_path / "state")
    connections.connect(host, path, {"github"})
    edited = Document.parse(path.read_text()).insert(
        ("mcpServers",), "added-later", {"command": "x"}
    )
    path.write_text(edited)

    connections.disconnect(host, path)

    servers = json.loads(path.read_text())["mcpServers"]
    assert (
        servers["github"]
        == json.loads((FIXTURES / "cursor.json").read_text())["mcpServers"]["github"]
    )
    assert servers["added-later"] == {"command": "x"}


def test_connect_and_disconnect_from_the_command_line(tray_home: Path, tmp_path: Path) -> None:
    (tray_home / "config.json").write_text(
        json.dumps({"mcpServers": {"github": {"command": "npx", "args": ["-y", "srv"]}}})
    )
    path = fixture_copy("claude-desktop", tmp_path)
    original = path.read_bytes()

    connected = mcp_tray(tray_home, "connect", "claude-desktop", "--path", str(path))
    entry = json.loads(path.read_text())["mcpServers"]["github"]
    disconnected = mcp_tray(tray_home, "disconnect", "claude-desktop", "--path", str(path))

    assert connected.returncode == 0, connected.stderr
    assert "Connected github. Quit and reopen Claude Desktop" in connected.stdout
    assert entry["args"][-2:] == ["attach", "github"]
    assert Path(entry["command"]).is_absolute()
    assert disconnected.returncode == 0, disconnected.stderr
    assert path.read_bytes() == original


def test_a_malformed_app_config_is_not_connected(tray_home: Path, tmp_path: Path) -> None:
    (tray_home / "config.json").write_text('{"mcpServers": {"github": {"command": "npx"}}}')
    path = tmp_path / "mcp.json"
    broken = '{"mcpServers": {"github": {"command": "npx"}'
    path.write_text(broken)

    result = mcp_tray(tray_home, "connect", "cursor", "--path", str(path))

    assert result.returncode == 1 and "is not valid JSON" in result.stderr
    assert path.read_text() == broken
