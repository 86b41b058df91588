"""The apps on this computer, what each has configured, and connecting one in one step.

This is what the tray's "Connect an app…" shows: each host whose config
file exists at its usual place, with every server it lists and whether that
server already goes through MCP Tray. :func:`connect_app` is the one click:
import the app's stdio servers (the new ones), then connect it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from app.core.paths import Paths
from app.core.secrets import SecretStore
from app.hosts import importing, linking
from app.hosts.host import Host, HostError
from app.hosts.registry import HOSTS


class Route(Enum):
    THROUGH_TRAY = "through MCP Tray"
    STARTS_ITSELF = "the app starts it itself"
    REMOTE = "a remote server; stays as it is"
    UNUSABLE = "cannot go through MCP Tray"


@dataclass(frozen=True)
class AppServer:
    name: str
    route: Route
    why: str = ""  # for UNUSABLE: the reason


@dataclass(frozen=True)
class FoundApp:
    host: Host
    path: Path
    servers: list[AppServer]
    connected: bool  # connect changed this file, and disconnect can undo it
    problem: str = ""  # the file cannot be read; nothing can be done until it is fixed

    @property
    def can_connect(self) -> bool:
        return not self.problem and any(s.route is Route.STARTS_ITSELF for s in self.servers)


def survey(paths: Paths, hosts: list[Host] | None = None) -> list[FoundApp]:
    """Every host whose config is at its usual place. Reads files: call it off the loop."""
    found = []
    connections = linking.Connections(paths.connections_dir)
    for host in hosts or list(HOSTS.values()):
        path = host.default_path()
        if path.is_file():
            found.append(look_at(host, path, connected=connections.connected(host, path)))
    return found


def look_at(host: Host, path: Path, *, connected: bool = False) -> FoundApp:
    try:
        document = importing.read_host_config(path)
    except HostError as error:
        return FoundApp(host, path, [], connected, problem=str(error))
    raw = host.servers(document.data)
    servers = [
        AppServer(entry.name, *_route(host, entry, raw[entry.name]))
        for entry in importing.host_entries(host, path, document)
    ]
    return FoundApp(host, path, servers, connected)


def _route(host: Host, entry: importing.Entry, raw: Any) -> tuple[Route, str]:
    if isinstance(raw, dict) and host.is_remote(raw):
        return Route.REMOTE, ""
    if entry.config is None:
        return Route.UNUSABLE, "; ".join(entry.notes)
    if linking.attaches(host, entry.name, raw):
        return Route.THROUGH_TRAY, ""
    return Route.STARTS_ITSELF, ""


def connect_app(app: FoundApp, paths: Paths, *, store: SecretStore | None = None) -> str:
    """Import the app's new stdio servers, then connect it; what happened, for the user.

    Raises HostError. Reads and writes files and the keyring: call it off the loop.
    """
    plan = importing.import_servers(app.host, app.path, paths, store=store)
    outcome = linking.connect(app.host, app.path, paths)
    skipped = [line for line in plan.lines if "not imported" in line]
    return "\n".join([outcome.message, *skipped])


def disconnect_app(app: FoundApp, paths: Paths) -> str:
    """Undo connect_app's connect (the servers stay in MCP Tray's config). Raises HostError."""
    outcome = linking.disconnect(app.host, app.path, paths)
    return "\n".join([outcome.message, *outcome.untouched])
