"""connect and disconnect against each app's config shape, comments and all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.hosts.jsonc import Document
from app.hosts.linking import Connections, attach_entry
from app.hosts.registry import HOSTS
from tests.hubprocess import mcp_tray

# Each app's file as its documentation shows it, with one server MCP Tray runs
# ("github"), one it does not ("local-only"), and settings of the app's own.
FIXTURES = {
    "claude-desktop": """{
  "mcpServers": {
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${secret:GITHUB_PERSONAL_ACCESS_TOKEN}"}
    },
    "local-only": {"command": "uvx", "args": ["mcp-server-time"]}
  },
  "globalShortcut": "Ctrl+Space"
}
""",
    "claude-code": """{
  "numStartups": 42,
  "mcpServers": {
    "github": {"type": "stdio", "command": "npx",
               "args": ["-y", "@modelcontextprotocol/server-github"], "env": {}},
    "local-only": {"type": "stdio", "command": "uvx", "args": ["mcp-server-time"], "env": {}}
  },
  "projects": {"/home/ada/code": {"allowedTools": []}}
}
""",
    "cursor": """{
  "mcpServers": {
    "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"]},
    "local-only": {"command": "uvx", "args": ["mcp-server-time"]}
  }
}
""",
    "vscode": """{
  // MCP servers for VS Code (user profile)
  "inputs": [
    {"type": "promptString", "id": "github-token", "description": "GitHub token", "password": true}
  ],
  "servers": {
    "github": {
      "type": "stdio",
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"], // the reference server
    },
    "local-only": {"type": "stdio", "command": "uvx", "args": ["mcp-server-time"]},
  },
}
""",
    "windsurf": """{
  "mcpServers": {
    "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"]},
    "local-only": {"command": "uvx", "args": ["mcp-server-time"]}
  }
}
""",
    "zed": """// Zed settings
{
  "theme": "One Dark",
  /* MCP servers are "context servers" in Zed */
  "context_servers": {
    "github": {"source": "custom", "command": "npx",
               "args": ["-y", "@modelcontextprotocol/server-github"], "env": {}},
    "local-only": {"source": "custom", "command": "uvx", "args": ["mcp-server-time"]},
  },
  "vim_mode": false,
}
""",
    "gemini": """{
  "theme": "Default",
  "mcpServers": {
    "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
               "timeout": 30000},
    "local-only": {"command": "uvx", "args": ["mcp-server-time"]}
  }
}
""",
}


@pytest.fixture(params=sorted(FIXTURES))
def app_config(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "app" / "config.json"
    path.parent.mkdir()
    path.write_bytes(FIXTURES[request.param].encode())
    return request.param, path


def test_connect_rewrites_only_the_shared_servers_and_disconnect_restores_every_byte(
    app_config: tuple[str, Path], tmp_path: Path
) -> None:
    name, path = app_config
    host = HOSTS[name]
    connections = Connections(tmp_path / "state")
    original = path.read_bytes()

    connected = connections.connect(host, path, {"github", "notes"})
    after = Document.parse(path.read_text())
    again = connections.connect(host, path, {"github", "notes"})
    same_bytes = path.read_bytes()
    undone = connections.disconnect(host, path)

    assert connected.changed == ["github"]
    assert after.data[host.key]["github"] == attach_entry(host, "github")
    before = Document.parse(original.decode())
    assert after.data[host.key]["local-only"] == before.data[host.key]["local-only"]
    assert {k: v for k, v in after.data.items() if k != host.key} == {
        k: v for k, v in before.data.items() if k != host.key
    }
    assert again.changed == [] and "already" in again.message
    assert undone.changed == ["github"]
    assert path.read_bytes() == original
    assert same_bytes != original
    assert host.restart in undone.message


def test_comments_outside_the_rewritten_entry_survive_connect(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(FIXTURES["zed"])

    Connections(tmp_path / "state").connect(HOSTS["zed"], path, {"github"})

    text = path.read_text()
    assert text.startswith("// Zed settings\n{")
    assert '/* MCP servers are "context servers" in Zed */' in text
    assert '"vim_mode": false,' in text  # the trailing comma, as the user wrote it


def test_disconnect_after_the_user_edited_the_file_puts_back_only_our_entry(
    tmp_path: Path,
) -> None:
    host = HOSTS["cursor"]
    path = tmp_path / "mcp.json"
    path.write_text(FIXTURES["cursor"])
    connections = Connections(tmp_path / "state")
    connections.connect(host, path, {"github"})
    edited = Document.parse(path.read_text()).insert(
        ("mcpServers",), "added-later", {"command": "x"}
    )
    path.write_text(edited)

    connections.disconnect(host, path)

    servers = json.loads(path.read_text())["mcpServers"]
    assert servers["github"] == json.loads(FIXTURES["cursor"])["mcpServers"]["github"]
    assert servers["added-later"] == {"command": "x"}


def test_connect_and_disconnect_from_the_command_line(tray_home: Path, tmp_path: Path) -> None:
    (tray_home / "config.json").write_text(
        json.dumps({"mcpServers": {"github": {"command": "npx", "args": ["-y", "srv"]}}})
    )
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(FIXTURES["claude-desktop"])
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
