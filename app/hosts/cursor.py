"""Cursor: ``~/.cursor/mcp.json`` (a project's ``.cursor/mcp.json`` through ``--path``)."""

from app.hosts.host import Host

HOST = Host(
    "cursor",
    "Cursor",
    "mcpServers",
    linux="~/.cursor/mcp.json",
    macos="~/.cursor/mcp.json",
    windows="~/.cursor/mcp.json",
    restart="Cursor picks up the change by itself; if not, restart Cursor.",
)
