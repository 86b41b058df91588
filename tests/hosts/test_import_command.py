"""`mcp-tray import HOST` as a real command, with a real keyring for the tokens it moves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from keyring.backends import SecretService

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
    # It sends no key: Claude signs in to it, which MCP Tray cannot do yet.
    assert "linear: not imported: it sends no key" in done.stdout
    ours = json.loads((tray_home / "config.json").read_text())["mcpServers"]
    assert sorted(ours) == ["github", "notes"]
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
