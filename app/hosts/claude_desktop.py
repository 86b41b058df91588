"""Claude Desktop: ``claude_desktop_config.json``, servers under ``mcpServers``.

Its config file takes commands only, so ``connect --http`` does not apply.
"""

from typing import ClassVar

from app.hosts.host import Host


class ClaudeDesktop(Host):
    no_urls_because: ClassVar[str] = "remote servers are added in its Connectors settings"


HOST = ClaudeDesktop(
    "claude-desktop",
    "Claude Desktop",
    "mcpServers",
    linux="$XDG_CONFIG_HOME/Claude/claude_desktop_config.json",
    macos="~/Library/Application Support/Claude/claude_desktop_config.json",
    windows="%APPDATA%/Claude/claude_desktop_config.json",
    restart="Quit and reopen Claude Desktop to load the change.",
)
