"""Zed: ``settings.json`` (JSON with comments), servers under ``context_servers``.

Current Zed writes ``{"source": "custom", "command": …, "args": …, "env": …}``;
older versions nested the launch as ``"command": {"path", "args", "env"}``.
Both are read; connect writes the current shape.
"""

from typing import Any

from app.hosts.host import Host, Launch


class Zed(Host):
    def launch(self, raw: dict[str, Any]) -> Launch:
        command = raw.get("command")
        if isinstance(command, dict):  # the older shape
            return Launch.of(command.get("path"), command.get("args"), command.get("env"))
        return super().launch(raw)

    def launch_entry(self, command: str, args: list[str]) -> dict[str, Any]:
        return {"source": "custom", **super().launch_entry(command, args)}


HOST = Zed(
    "zed",
    "Zed",
    "context_servers",
    linux="$XDG_CONFIG_HOME/zed/settings.json",
    macos="~/.config/zed/settings.json",
    windows="%APPDATA%/Zed/settings.json",
    restart="Zed reloads its settings by itself.",
)
