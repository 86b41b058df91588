"""What MCP Tray knows about a host app: where its config lives, and how its entries look.

Each host has its own module (``claude_desktop``, ``vscode``, …) holding
one :class:`Host`; hosts whose entries differ from the common shape
(``{"command", "args", "env"}`` under ``mcpServers``) subclass it there.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

REMOTE_TYPES = frozenset({"http", "sse", "streamable-http", "streamableHttp"})
# How an entry reaches its server. Connect replaces these (the tray starts the
# server now, with its env); every other key is the host's own setting and stays.
LAUNCH_KEYS = frozenset(
    {"type", "source", "command", "args", "env", "cwd", "envFile"}
    | {"url", "serverUrl", "httpUrl", "headers"}
)


@dataclass(frozen=True)
class Launch:
    """How a host entry starts its server."""

    command: Any  # a str when the entry is usable; anything else is reported
    args: list[Any]
    env: dict[str, Any]


@dataclass(frozen=True)
class Host:
    name: str  # as typed on the command line
    title: str  # as shown to people
    key: str  # the object holding the servers
    linux: str  # locations; "~", "$XDG_CONFIG_HOME" and "%APPDATA%" are expanded
    macos: str
    windows: str
    restart: str  # what the user does so that the host reads the change
    bare_variables: ClassVar[bool] = False  # the host expands $VAR as well as ${VAR}
    no_urls_because: ClassVar[str] = ""  # why the host's file takes no URLs (connect --http)

    def default_path(self) -> Path:
        if sys.platform == "darwin":
            where = self.macos
        elif sys.platform == "win32":
            where = self.windows
        else:
            where = self.linux
        appdata = os.environ.get("APPDATA", str(Path.home() / "AppData" / "Roaming"))
        config = os.environ.get("XDG_CONFIG_HOME", str(Path.home() / ".config"))
        where = where.replace("%APPDATA%", appdata).replace("$XDG_CONFIG_HOME", config)
        return Path(where).expanduser()

    def servers(self, data: Any) -> dict[str, Any]:
        """The server entries of a parsed config (none when the shape is not the host's)."""
        servers = data.get(self.key) if isinstance(data, dict) else None
        return servers if isinstance(servers, dict) else {}

    def is_remote(self, raw: dict[str, Any]) -> bool:
        return "url" in raw or "serverUrl" in raw or raw.get("type") in REMOTE_TYPES

    def launch(self, raw: dict[str, Any]) -> Launch:
        return Launch(raw.get("command"), raw.get("args") or [], raw.get("env") or {})

    def attach_entry(
        self, command: str, args: list[str], previous: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The entry ``connect`` writes in place of ``previous``: the host runs ``command
        args`` as a stdio server, with its own settings (Gemini's ``timeout``, Windsurf's
        ``disabled`` …) kept from ``previous``."""
        kept = {k: v for k, v in (previous or {}).items() if k not in LAUNCH_KEYS}
        return {**self.launch_entry(command, args), **kept}

    def launch_entry(self, command: str, args: list[str]) -> dict[str, Any]:
        return {"command": command, "args": args}

    def url_entry(
        self, url: str, headers: dict[str, str], previous: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The entry ``connect --http`` writes: the host reaches ``url`` with ``headers``."""
        kept = {k: v for k, v in (previous or {}).items() if k not in LAUNCH_KEYS}
        return {**self.remote_entry(url, headers), **kept}

    def remote_entry(self, url: str, headers: dict[str, str]) -> dict[str, Any]:
        return {"url": url, "headers": headers}

    def url_of(self, raw: dict[str, Any]) -> str | None:
        """Where a remote entry points (None: it starts a command)."""
        for key in ("url", "serverUrl", "httpUrl"):
            if isinstance(raw.get(key), str):
                return str(raw[key])
        return None

    def workspace_of(self, path: Path) -> Path | None:
        """The folder ``${workspaceFolder}`` means for a config at ``path`` (None: none)."""
        return None


class HostError(Exception):
    """Something about a host's config, in one sentence for the user; nothing was changed."""
