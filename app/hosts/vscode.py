"""VS Code: ``mcp.json`` in the user profile, or a workspace's ``.vscode/mcp.json``.

JSON with comments and trailing commas; servers under ``servers`` (not
``mcpServers``), each with ``"type": "stdio"``; ``inputs`` prompts for
values (``${input:ID}``), and ``${workspaceFolder}`` means the folder that
holds ``.vscode/``.
"""

from pathlib import Path
from typing import Any

from app.hosts.host import Host


class VSCode(Host):
    def launch_entry(self, command: str, args: list[str]) -> dict[str, Any]:
        return {"type": "stdio", **super().launch_entry(command, args)}

    def remote_entry(self, url: str, headers: dict[str, str]) -> dict[str, Any]:
        return {"type": "http", **super().remote_entry(url, headers)}

    def workspace_of(self, path: Path) -> Path | None:
        return path.parent.parent if path.parent.name == ".vscode" else None


HOST = VSCode(
    "vscode",
    "VS Code",
    "servers",
    linux="$XDG_CONFIG_HOME/Code/User/mcp.json",
    macos="~/Library/Application Support/Code/User/mcp.json",
    windows="%APPDATA%/Code/User/mcp.json",
    restart="VS Code picks up the change by itself; if not, restart the servers from its MCP view.",
)
