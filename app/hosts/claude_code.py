"""Claude Code: user servers in ``~/.claude.json``; a project's in its ``.mcp.json``.

Both keep ``mcpServers`` at the top level, so ``--path PROJECT/.mcp.json``
imports and connects a project's servers the same way. Entries written by
``claude mcp add`` carry ``"type": "stdio"``, which reads like the common shape.
"""

from typing import Any

from app.hosts.host import Host


class ClaudeCode(Host):
    def remote_entry(self, url: str, headers: dict[str, str]) -> dict[str, Any]:
        return {"type": "http", **super().remote_entry(url, headers)}


HOST = ClaudeCode(
    "claude-code",
    "Claude Code",
    "mcpServers",
    linux="~/.claude.json",
    macos="~/.claude.json",
    windows="~/.claude.json",
    restart="Start a new Claude Code session to load the change.",
)
