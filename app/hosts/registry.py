"""Every host MCP Tray knows, by the name typed on the command line.

The README's host table is this table, in words. ``--path`` overrides a
host's usual location (for example a project's ``.mcp.json`` or
``.vscode/mcp.json``).
"""

from __future__ import annotations

from app.hosts import claude_code, claude_desktop, cursor, gemini, vscode, windsurf, zed
from app.hosts.host import Host, HostError
from app.hosts.names import HOST_NAMES

HOSTS: dict[str, Host] = {
    module.HOST.name: module.HOST
    for module in (claude_desktop, claude_code, cursor, vscode, windsurf, zed, gemini)
}
assert tuple(HOSTS) == HOST_NAMES, "app.hosts.names lists the hosts in this order"


class UnknownHost(HostError):
    """No app of that name; the message lists the names MCP Tray knows."""

    def __init__(self, name: str) -> None:
        known = ", ".join(HOSTS)
        super().__init__(f'MCP Tray knows no app called "{name}"; the apps it knows: {known}')


def host_named(name: str) -> Host:
    try:
        return HOSTS[name]
    except KeyError:
        raise UnknownHost(name) from None
