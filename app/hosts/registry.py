"""Where each host keeps its MCP servers, on each system, and how its entries are shaped.

The README's host table is this table, in words. ``--path`` overrides the
location (for example a project's ``.mcp.json`` or ``.vscode/mcp.json``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Host:
    name: str  # as typed on the command line
    title: str  # as shown to people
    key: str  # the object holding the servers
    linux: str  # locations, "~" and "%APPDATA%" expanded
    macos: str
    windows: str
    restart: str  # what the user does so that the host reads the change
    stdio_type: bool = False  # entries say "type": "stdio" (VS Code)
    zed_style: bool = False  # entries say "source": "custom" (Zed)

    def default_path(self) -> Path:
        if sys.platform == "darwin":
            where = self.macos
        elif sys.platform == "win32":
            where = self.windows
        else:
            where = self.linux
        appdata = os.environ.get("APPDATA", str(Path.home() / "AppData" / "Roaming"))
        config = os.environ.get("XDG_CONFIG_HOME", str(Path.home() / ".config"))
        where = where.replace("%APPDATA%", appdata).replace("$XDG_CONFIG_HOME", config)
        return Path(where).expanduser()


HOSTS = {
    host.name: host
    for host in (
        Host(
            "claude-desktop",
            "Claude Desktop",
            "mcpServers",
            linux="$XDG_CONFIG_HOME/Claude/claude_desktop_config.json",
            macos="~/Library/Application Support/Claude/claude_desktop_config.json",
            windows="%APPDATA%/Claude/claude_desktop_config.json",
            restart="Quit and reopen Claude Desktop to load the change.",
        ),
        Host(
            "claude-code",
            "Claude Code",
            "mcpServers",
            linux="~/.claude.json",
            macos="~/.claude.json",
            windows="~/.claude.json",
            restart="Start a new Claude Code session to load the change.",
        ),
        Host(
            "cursor",
            "Cursor",
            "mcpServers",
            linux="~/.cursor/mcp.json",
            macos="~/.cursor/mcp.json",
            windows="~/.cursor/mcp.json",
            restart="Cursor reloads it by itself; if not, restart Cursor.",
        ),
        Host(
            "vscode",
            "VS Code",
            "servers",
            linux="$XDG_CONFIG_HOME/Code/User/mcp.json",
            macos="~/Library/Application Support/Code/User/mcp.json",
            windows="%APPDATA%/Code/User/mcp.json",
            restart="VS Code reloads it by itself; restart the servers from its MCP view.",
            stdio_type=True,
        ),
        Host(
            "windsurf",
            "Windsurf",
            "mcpServers",
            linux="~/.codeium/windsurf/mcp_config.json",
            macos="~/.codeium/windsurf/mcp_config.json",
            windows="~/.codeium/windsurf/mcp_config.json",
            restart="Press Refresh in Windsurf's MCP settings to load the change.",
        ),
        Host(
            "zed",
            "Zed",
            "context_servers",
            linux="$XDG_CONFIG_HOME/zed/settings.json",
            macos="~/.config/zed/settings.json",
            windows="%APPDATA%/Zed/settings.json",
            restart="Zed reloads its settings by itself.",
            zed_style=True,
        ),
        Host(
            "gemini",
            "Gemini CLI",
            "mcpServers",
            linux="~/.gemini/settings.json",
            macos="~/.gemini/settings.json",
            windows="~/.gemini/settings.json",
            restart="Start Gemini CLI again to load the change.",
        ),
    )
}


class UnknownHost(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown app {name!r}; known: {', '.join(HOSTS)}")


def host_named(name: str) -> Host:
    try:
        return HOSTS[name]
    except KeyError:
        raise UnknownHost(name) from None
