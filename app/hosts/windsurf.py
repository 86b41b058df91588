"""Windsurf: ``~/.codeium/windsurf/mcp_config.json``; remote entries say ``serverUrl``."""

from typing import Any

from app.hosts.host import Host


class Windsurf(Host):
    def remote_entry(self, url: str, headers: dict[str, str]) -> dict[str, Any]:
        return {"serverUrl": url, "headers": headers}


HOST = Windsurf(
    "windsurf",
    "Windsurf",
    "mcpServers",
    linux="~/.codeium/windsurf/mcp_config.json",
    macos="~/.codeium/windsurf/mcp_config.json",
    windows="~/.codeium/windsurf/mcp_config.json",
    restart="Press Refresh in Windsurf's MCP settings to load the change.",
)
