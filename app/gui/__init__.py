"""The tray, its windows and dialogs, and desktop notifications: the only part of
MCP Tray that imports Qt."""
