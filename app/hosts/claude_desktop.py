"""Claude Desktop: ``claude_desktop_config.json``, servers under ``mcpServers``."""

from app.hosts.host import Host

HOST = Host(
    "claude-desktop",
    "Claude Desktop",
    "mcpServers",
    linux="$XDG_CONFIG_HOME/Claude/claude_desktop_config.json",
    macos="~/Library/Application Support/Claude/claude_desktop_config.json",
    windows="%APPDATA%/Claude/claude_desktop_config.json",
    restart="Quit and reopen Claude Desktop to load the change.",
)
