"""MCP Tray: keeps the user's local MCP servers running and shares them with every editor."""

__version__ = "0.1.0"
