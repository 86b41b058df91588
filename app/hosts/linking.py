"""Pointing an app at MCP Tray (connect) and back (disconnect).

``connect`` rewrites each server the app shares with MCP Tray's config to
``{"command": "/abs/path/mcp-tray", "args": ["attach", NAME]}`` (VS Code adds
``"type": "stdio"``, Zed ``"source": "custom"``), editing only those values,
atomically, with a backup. It keeps the app's original file and what it
wrote in MCP Tray's state folder, so ``disconnect`` can restore the file
byte for byte, or, when the user changed it since, put back only the
entries MCP Tray wrote that are still as it wrote them.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.atomic import write_atomically
from app.core.config import write_config_text
from app.hosts.jsonc import Document
from app.hosts.registry import Host


@dataclass(frozen=True)
class Outcome:
    changed: list[str]  # servers whose entries were rewritten or put back
    untouched: list[str]  # with the reason, for the user
    message: str


def attach_command(name: str) -> tuple[str, list[str]]:
    """The command line an app runs to reach server ``name``: absolute, and lasting.

    A bundle's own executable; else the ``mcp-tray`` script installed next to
    this Python; else this Python running the package.
    """
    if getattr(sys, "frozen", False):
        return sys.executable, ["attach", name]
    script = Path(sys.executable).parent / (
        "mcp-tray.exe" if sys.platform == "win32" else "mcp-tray"
    )
    if script.exists():
        return str(script), ["attach", name]
    return sys.executable, ["-m", "app", "attach", name]


def attach_entry(host: Host, name: str) -> dict[str, Any]:
    command, args = attach_command(name)
    entry: dict[str, Any] = {"command": command, "args": args}
    if host.stdio_type:
        entry = {"type": "stdio", **entry}
    if host.zed_style:
        entry = {"source": "custom", **entry}
    return entry


class Connections:
    """What connect wrote into each app's config, kept under MCP Tray's state folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def connect(self, host: Host, path: Path, ours: set[str]) -> Outcome:
        text = path.read_bytes().decode("utf-8")  # not read_text(): keep \r\n as it is
        document = Document.parse(text)
        servers = _servers(document, host)
        shared = [name for name in servers if name in ours]
        if not shared:
            return Outcome([], [], f"{host.title} has no server MCP Tray runs; import them first")
        record = self._record(host)
        if record is None:
            record = {"path": str(path), "entries": {}, "byte_restore": True}
        elif _digest(text.encode("utf-8")) != record.get("written_sha256"):
            # Edited since the last connect: restoring the first original would
            # undo those edits, so disconnect will put back entries one by one.
            record["byte_restore"] = False
        changed = []
        for name in shared:
            wanted = attach_entry(host, name)
            if servers[name] == wanted:
                continue
            record["entries"].setdefault(name, {"original": servers[name]})["written"] = wanted
            text = Document.parse(text).replace((host.key, name), wanted)
            changed.append(name)
        if not changed:
            return Outcome([], [], f"{host.title} already reaches its servers through MCP Tray")
        if record["byte_restore"] and not self._original(host).exists():
            write_atomically(self._original(host), path.read_bytes())
        write_config_text(path, text)
        record["written_sha256"] = _digest(path.read_bytes())
        self._save(host, record)
        return Outcome(changed, [], f"Connected {', '.join(changed)}. {host.restart}")

    def disconnect(self, host: Host, path: Path) -> Outcome:
        record = self._record(host)
        if record is None:
            return Outcome([], [], f"MCP Tray has not connected {host.title}; nothing to undo")
        current = path.read_bytes()
        names = list(record["entries"])
        unchanged = _digest(current) == record.get("written_sha256")
        if unchanged and record.get("byte_restore") and self._original(host).exists():
            write_atomically(path, self._original(host).read_bytes(), mode=path.stat().st_mode)
            self._forget(host)
            return Outcome(names, [], f"Restored {path} as it was. {host.restart}")
        text, changed, untouched = current.decode("utf-8"), [], []
        for name, entry in record["entries"].items():
            servers = _servers(Document.parse(text), host)
            if servers.get(name) != entry["written"]:
                untouched.append(f"{name}: changed since MCP Tray connected it; left as it is")
                continue
            text = Document.parse(text).replace((host.key, name), entry["original"])
            changed.append(name)
        if changed:
            write_config_text(path, text)
        self._forget(host)
        return Outcome(
            changed, untouched, f"Put back {', '.join(changed) or 'nothing'}. {host.restart}"
        )

    # ----- the record

    def _record(self, host: Host) -> dict[str, Any] | None:
        try:
            record: dict[str, Any] = json.loads(self._record_file(host).read_text())
        except FileNotFoundError:
            return None
        return record

    def _save(self, host: Host, record: dict[str, Any]) -> None:
        write_atomically(self._record_file(host), json.dumps(record, indent=2).encode())

    def _forget(self, host: Host) -> None:
        self._record_file(host).unlink(missing_ok=True)
        self._original(host).unlink(missing_ok=True)

    def _record_file(self, host: Host) -> Path:
        return self.folder / f"{host.name}.json"

    def _original(self, host: Host) -> Path:
        """The app's file as it was before the first connect (it may hold secrets: 0600)."""
        return self.folder / f"{host.name}.original"


def _servers(document: Document, host: Host) -> dict[str, Any]:
    servers = document.data.get(host.key) if isinstance(document.data, dict) else None
    return servers if isinstance(servers, dict) else {}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
