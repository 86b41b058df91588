"""Claude Desktop: ``claude_desktop_config.json``, servers under ``mcpServers``.

Its config file takes commands only, so ``connect --http`` does not apply.
"""

from typing import Any

from app.hosts.host import Host, HostError


class ClaudeDesktop(Host):
    def remote_entry(self, url: str, headers: dict[str, str]) -> dict[str, Any]:
        raise HostError(
            "Claude Desktop starts its servers by command only (remote servers are added "
            "in its Connectors settings); connect it without --http"
        )


HOST = ClaudeDesktop(
    "claude-desktop",
    "Claude Desktop",
    "mcpServers",
    linux="$XDG_CONFIG_HOME/Claude/claude_desktop_config.json",
    macos="~/Library/Application Support/Claude/claude_desktop_config.json",
    windows="%APPDATA%/Claude/claude_desktop_config.json",
    restart="Quit and reopen Claude Desktop to load the change.",
)
