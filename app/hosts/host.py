"""What MCP Tray knows about a host app: where its config lives, and how its entries look.

Each host has its own module (``claude_desktop``, ``vscode``, …) holding
one :class:`Host`; hosts whose entries differ from the common shape
(``{"command", "args", "env"}`` under ``mcpServers``) subclass it there.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from app.core.errors import UserError

# Claude Code's ~/.claude.json holds its history as well as its servers, and
# files of 100 MB have been seen; anything larger is not an app's config.
MAX_CONFIG_BYTES = 128 << 20

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
    args: list[str]
    env: dict[str, str]
    problem: str = ""  # args or env are not what a host takes; said instead of importing

    @classmethod
    def of(cls, command: Any, args: Any, env: Any) -> Launch:
        """``args`` and ``env`` as written in a host's file: a list of words and an object
        of texts (numbers are taken as text, missing means none), else a ``problem``."""
        args, env = args or [], env or {}
        if not isinstance(args, list) or not all(_is_text(arg) for arg in args):
            return cls(command, [], {}, "its args are not a list of texts")
        if not isinstance(env, dict) or not all(_is_text(value) for value in env.values()):
            return cls(command, [], {}, "its env does not give each variable a text")
        return cls(command, [str(arg) for arg in args], {k: str(v) for k, v in env.items()})


def _is_text(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


# RFC 9110's token: what a header's name may be made of.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@dataclass(frozen=True)
class Remote:
    """Where a host's remote entry points, and how it is reached."""

    url: str
    headers: dict[str, str]
    old_sse: bool  # the old HTTP+SSE transport, not Streamable HTTP
    problem: str = ""  # the address or headers are not what MCP Tray takes; said instead

    @classmethod
    def of(cls, url: Any, headers: Any, *, old_sse: bool) -> Remote:
        """``url`` and ``headers`` as written in a host's file: a web address and an object
        of texts (numbers are taken as text, missing means none), else a ``problem``."""
        if not isinstance(url, str) or not url:
            return cls("", {}, old_sse, "it gives no address to reach")
        if not url.startswith(("https://", "http://")):
            return cls(
                url,
                {},
                old_sse,
                f"its address {url} is not a web address; MCP Tray reaches remote servers "
                "at http:// or https:// addresses only",
            )
        headers = {} if headers is None else headers
        if not isinstance(headers, dict) or not all(_is_text(v) for v in headers.values()):
            return cls(url, {}, old_sse, "its headers do not give each header a text")
        odd = [name for name in headers if not _HEADER_NAME.fullmatch(name)]
        if odd:
            return cls(url, {}, old_sse, f'the header name "{odd[0]}" is not one HTTP allows')
        if any("\r" in str(v) or "\n" in str(v) for v in headers.values()):
            return cls(url, {}, old_sse, "a header's value runs over more than one line")
        return cls(url, {k: str(v) for k, v in headers.items()}, old_sse)


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
        kind = raw.get("type")
        return (
            "url" in raw or "serverUrl" in raw or (isinstance(kind, str) and kind in REMOTE_TYPES)
        )

    def launch(self, raw: dict[str, Any]) -> Launch:
        return Launch.of(raw.get("command"), raw.get("args"), raw.get("env"))

    def remote(self, raw: dict[str, Any]) -> Remote:
        """How a remote entry (:meth:`is_remote`) reaches its server: "type": "sse" is the
        old HTTP+SSE transport, anything else Streamable HTTP."""
        key = next((key for key in ("url", "serverUrl", "httpUrl") if key in raw), "url")
        return Remote.of(raw.get(key), raw.get("headers"), old_sse=raw.get("type") == "sse")

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


class HostError(UserError):
    """Something about a host's config, in one sentence for the user; nothing was changed."""


class NotAConfigFile(Exception):
    """What is at the path cannot be an app's config; the message says what it is, after
    the path ("is a folder, not a file")."""

    def __init__(self, what: str, *, too_large: bool = False) -> None:
        super().__init__(what)
        self.too_large = too_large


def read_config_file(path: Path) -> str:
    """The text of the app's config file at ``path``, read without trusting what is there.

    Raises FileNotFoundError (or another OSError) when it cannot be opened,
    NotAConfigFile for a folder, a pipe, a device or a file larger than
    MAX_CONFIG_BYTES, and UnicodeDecodeError when it is not UTF-8 text. A pipe
    does not block: it is opened without waiting for a writer, then refused.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)
    try:
        status = os.fstat(descriptor)
        if stat.S_ISDIR(status.st_mode):
            raise NotAConfigFile("is a folder, not a file")
        if not stat.S_ISREG(status.st_mode):
            raise NotAConfigFile("is not an ordinary file")
        if status.st_size > MAX_CONFIG_BYTES:
            raise _too_large()
        with open(descriptor, "rb", closefd=False) as file:
            data = file.read(MAX_CONFIG_BYTES + 1)  # it may have grown since
    finally:
        os.close(descriptor)
    if len(data) > MAX_CONFIG_BYTES:
        raise _too_large()
    return data.decode("utf-8")


def _too_large() -> NotAConfigFile:
    return NotAConfigFile(
        f"is larger than {MAX_CONFIG_BYTES >> 20} MB, too large for an app's MCP config",
        too_large=True,
    )
