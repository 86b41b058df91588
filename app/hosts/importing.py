"""A host's servers, as MCP Tray would run them: read, translated, and merged into its config.

Each host entry becomes an :class:`Entry`: either a config entry for MCP
Tray, or a reason it cannot be one (a remote HTTP/SSE server, a variable
without an equivalent). Variables the host expands are translated where
MCP Tray has the same thing:

- ``${env:VAR}``, ``${VAR}``, ``${VAR:-default}`` → ``${env:VAR}`` (a default is dropped, and said);
- ``${input:ID}`` (VS Code asks for it) → ``${secret:ID}``, to be set once with ``secret set``;
- ``${workspaceFolder}`` → the workspace folder, for a workspace's ``.vscode/mcp.json``;
- ``${userHome}`` → the home folder.

Plaintext values that look like secrets are moved to the keyring by the
caller (``secret migrate``'s rules), so the import never copies a token
into MCP Tray's config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.hosts.jsonc import Document
from app.hosts.registry import Host

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# VS Code's own variables: without the editor they mean nothing (workspaceFolder
# is translated when the file belongs to a workspace).
EDITOR_VARIABLES = frozenset(
    {"workspaceFolder", "workspaceFolderBasename", "file", "cwd", "execPath", "pathSeparator"}
)


@dataclass
class Entry:
    name: str
    config: dict[str, Any] | None  # for MCP Tray's mcpServers; None: not importable
    notes: list[str] = field(default_factory=list)  # what was translated, or why not


def host_entries(host: Host, path: Path, document: Document) -> list[Entry]:
    """Every server the host config at ``path`` defines, translated."""
    servers = document.data.get(host.key) if isinstance(document.data, dict) else None
    if not isinstance(servers, dict):
        return []
    workspace = path.parent.parent if path.parent.name == ".vscode" else None
    return [_entry(host, name, raw, workspace) for name, raw in servers.items()]


def _entry(host: Host, name: str, raw: Any, workspace: Path | None) -> Entry:
    if not isinstance(raw, dict):
        return Entry(name, None, ["its entry is not an object"])
    if "url" in raw or raw.get("type") in ("http", "sse", "streamable-http", "streamableHttp"):
        return Entry(name, None, ["a remote (HTTP/SSE) server: MCP Tray runs local stdio servers"])
    command, args, env = _command(host, raw)
    if not isinstance(command, str) or not command:
        return Entry(name, None, ["no command to run (provided by an extension?)"])
    entry = Entry(name, {})
    config: dict[str, Any] = {"command": _translate(command, entry, workspace)}
    if args:
        config["args"] = [_translate(str(arg), entry, workspace) for arg in args]
    if env:
        config["env"] = {str(k): _translate(str(v), entry, workspace) for k, v in env.items()}
    if isinstance(raw.get("cwd"), str):
        config["cwd"] = _translate(raw["cwd"], entry, workspace)
    if raw.get("envFile"):
        entry.notes.append(f"envFile {raw['envFile']} is not read; copy what it sets into env")
    entry.config = None if any(n.startswith("cannot") for n in entry.notes) else config
    return entry


def _command(host: Host, raw: dict[str, Any]) -> tuple[Any, list[Any], dict[str, Any]]:
    command = raw.get("command")
    if host.zed_style and isinstance(command, dict):  # Zed's older shape
        return command.get("path"), command.get("args") or [], command.get("env") or {}
    return command, raw.get("args") or [], raw.get("env") or {}


def _translate(value: str, entry: Entry, workspace: Path | None) -> str:
    def replace(match: re.Match[str]) -> str:
        replacement, note = _equivalent(match.group(1), entry.name, workspace)
        if note:
            entry.notes.append(note)
        return match.group(0) if replacement is None else replacement

    return _VARIABLE.sub(replace, value)


def _equivalent(body: str, server: str, workspace: Path | None) -> tuple[str | None, str | None]:
    """What MCP Tray writes for the host's ``${body}`` (None: nothing), and what to tell."""
    kind, colon, rest = body.partition(":")
    variable, dash, _ = body.partition(":-")
    if colon and kind == "env":
        return "${env:" + rest + "}", None
    if colon and kind == "input":
        note = f"${{input:{rest}}} became ${{secret:{rest}}}; set it once with "
        return "${secret:" + rest + "}", note + f"`mcp-tray secret set {server} {rest}`"
    if body == "workspaceFolder" and workspace is not None:
        return str(workspace), None
    if body == "userHome":
        return str(Path.home()), None
    if body not in EDITOR_VARIABLES and _NAME.fullmatch(variable) and (not colon or dash):
        return (
            "${env:" + variable + "}",
            f"the default of ${{{body}}} was dropped" if dash else None,
        )
    return None, f"cannot translate ${{{body}}}: MCP Tray has no equivalent"
