"""`mcp-tray import HOST` as a real command, with a real keyring for the tokens it moves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from keyring.backends import SecretService

from app.hosts.linking import attach_command
from tests.helpers import FLAKY, PYTHON
from tests.hubprocess import mcp_tray

GITHUB_TOKEN = "ghp_" + "Hb5Gc4Fd3E" * 4  # shaped like a real token, valid nowhere

CLAUDE_DESKTOP = {
    "mcpServers": {
        "github": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-github"],
            "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": GITHUB_TOKEN},
        },
        "notes": {"command": PYTHON, "args": [str(FLAKY)]},
        "linear": {"url": "https://mcp.linear.app/sse"},
    },
    "globalShortcut": "Ctrl+Space",
}


def host_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


def test_import_copies_the_servers_moves_the_token_and_reports_the_rest(
    tray_home: Path,
    tmp_path: Path,
    secret_service: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = json.dumps(CLAUDE_DESKTOP, indent=2)
    source = host_config(tmp_path, original)
    (tray_home / "config.json").write_text('{\n  "mcpServers": {}\n}\n')
    command = ("import", "claude-desktop", "--path", str(source))

    planned = mcp_tray(tray_home, *command, "--dry-run", env=secret_service)
    after_dry_run = (tray_home / "config.json").read_text()
    done = mcp_tray(tray_home, *command, env=secret_service)
    again = mcp_tray(tray_home, *command, env=secret_service)

    assert planned.returncode == 0, planned.stderr
    assert after_dry_run == '{\n  "mcpServers": {}\n}\n'
    assert done.returncode == 0, done.stderr
    assert "github: imported; secret(s) GITHUB_PERSONAL_ACCESS_TOKEN go to the keyring" in (
        done.stdout
    )
    # It sends no key: MCP Tray signs in to it if it asks.
    assert (
        "linear: imported; if it asks you to sign in, sign in from MCP Tray's menu or with "
        "`mcp-tray signin linear`"
    ) in done.stdout
    ours = json.loads((tray_home / "config.json").read_text())["mcpServers"]
    assert sorted(ours) == ["github", "linear", "notes"]
    assert ours["linear"] == {"url": "https://mcp.linear.app/sse"}
    assert ours["github"]["env"] == {
        "GITHUB_PERSONAL_ACCESS_TOKEN": "${secret:GITHUB_PERSONAL_ACCESS_TOKEN}"
    }
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service["DBUS_SESSION_BUS_ADDRESS"])
    keyring = SecretService.Keyring()
    stored = keyring.get_password("mcp-tray/github", "GITHUB_PERSONAL_ACCESS_TOKEN")
    assert stored == GITHUB_TOKEN
    assert GITHUB_TOKEN not in (tray_home / "config.json").read_text()
    assert GITHUB_TOKEN not in planned.stdout + done.stdout + done.stderr
    assert source.read_text() == original  # the app's own config is not touched by import
    assert "github: already imported" in again.stdout and "Nothing to import." in again.stdout
    check = mcp_tray(tray_home, "config", "check")
    assert check.returncode == 0, check.stderr


def test_a_remote_server_that_sends_no_key_is_imported_and_connected_like_a_command(
    tray_home: Path, tmp_path: Path
) -> None:
    source = tmp_path / ".claude.json"
    source.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "notes": {"type": "stdio", "command": PYTHON, "args": [str(FLAKY)], "env": {}},
                    "linear": {"type": "http", "url": "https://mcp.linear.app/mcp"},
                }
            }
        )
    )
    (tray_home / "config.json").write_text('{\n  "mcpServers": {}\n}\n')
    where = ("claude-code", "--path", str(source))

    imported = mcp_tray(tray_home, "import", *where)
    connected = mcp_tray(tray_home, "connect", *where)

    assert imported.returncode == 0, imported.stderr
    assert "  notes: imported\n" in imported.stdout
    assert (
        "  linear: imported; if it asks you to sign in, sign in from MCP Tray's menu or with "
        "`mcp-tray signin linear`\n"
    ) in imported.stdout
    ours = json.loads((tray_home / "config.json").read_text())["mcpServers"]
    assert ours == {
        "notes": {"command": PYTHON, "args": [str(FLAKY)]},
        "linear": {"url": "https://mcp.linear.app/mcp"},
    }
    assert connected.returncode == 0, connected.stderr
    entries = json.loads(source.read_text())["mcpServers"]
    for name in ("notes", "linear"):
        command, args = attach_command(name)
        assert entries[name] == {"command": command, "args": args}


def test_a_malformed_app_config_is_reported_and_left_untouched(
    tray_home: Path, tmp_path: Path
) -> None:
    broken = '{\n  "mcpServers": {\n    "a": {"command": "x",,}\n  }\n}\n'
    source = host_config(tmp_path, broken)

    result = mcp_tray(tray_home, "import", "claude-desktop", "--path", str(source))

    assert result.returncode == 1
    assert "is not valid JSON (line 3, column" in result.stderr
    assert "it was left as it is" in result.stderr
    assert source.read_text() == broken


def test_an_unknown_app_lists_the_known_ones(tray_home: Path) -> None:
    result = mcp_tray(tray_home, "import", "notepad")

    assert result.returncode == 1
    assert result.stderr.startswith(
        'mcp-tray: MCP Tray knows no app called "notepad"; '
        "the apps it knows: claude-desktop, claude-code, cursor"
    )
