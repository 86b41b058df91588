"""Windsurf: ``~/.codeium/windsurf/mcp_config.json``; remote entries say ``serverUrl``."""

from app.hosts.host import Host

HOST = Host(
    "windsurf",
    "Windsurf",
    "mcpServers",
    linux="~/.codeium/windsurf/mcp_config.json",
    macos="~/.codeium/windsurf/mcp_config.json",
    windows="~/.codeium/windsurf/mcp_config.json",
    restart="Press Refresh in Windsurf's MCP settings to load the change.",
)
