"""Switching a server's tools on and off: the config's ``tools``, written for the user.

:func:`switch` takes tool names to turn on and off and writes the server's
``tools`` entry (comments and layout of the rest of the file kept, a backup
made), then asks the running hub to apply it: the apps' tool lists change,
and the server itself runs on (app.core.reconcile's retune). The tray's
Tools submenu and ``mcp-tray tools NAME --enable/--disable`` both come here.

A tool switched off by a pattern (``"disabled": ["push_*"]``) cannot be
switched on alone without rewriting the pattern, which is the user's: the
refusal says so, and where.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core.config import ConfigError, load_config, write_config_text
from app.core.config.schema import ToolSwitches
from app.core.errors import UserError
from app.core.jsontext.jsonc import Document
from app.core.paths import Paths
from app.hosts.servers import HubTold, reload_hub


class NotSwitched(UserError):
    """The tools were not switched, and why; the config was not changed."""


@dataclass(frozen=True)
class Switched:
    switches: ToolSwitches  # as they are now
    hub: HubTold


def switch(paths: Paths, name: str, *, on: Sequence[str] = (), off: Sequence[str] = ()) -> Switched:
    """Turn the tools ``on`` on and ``off`` off for server ``name``. NotSwitched."""
    try:
        config = load_config(paths.config_file)
    except ConfigError as error:
        raise NotSwitched(f"the config file has a mistake; fix it first:\n{error}") from None
    server = config.servers.get(name)
    if server is None:
        raise NotSwitched(f"no server named {name!r} in MCP Tray's config")
    switches = _switched(server.tools, on, off)
    text = paths.config_file.read_text(encoding="utf-8")
    document = Document.parse(text)
    entry = ("mcpServers", name)
    wanted = _as_written(switches)
    if "tools" in document.data["mcpServers"][name]:
        new_text = document.replace((*entry, "tools"), wanted)
    else:
        new_text = document.insert(entry, "tools", wanted)
    write_config_text(paths.config_file, new_text)
    return Switched(switches, reload_hub(paths))


def _switched(current: ToolSwitches, on: Sequence[str], off: Sequence[str]) -> ToolSwitches:
    if current.enabled is not None:  # a list of those offered: on adds, off takes away
        enabled = [tool for tool in current.enabled if tool not in off]
        enabled += [tool for tool in on if tool not in enabled]
        still_on = [tool for tool in off if ToolSwitches(enabled=enabled).allows(tool)]
        _refuse_patterns(still_on, current.enabled, "enabled", "on")
        return ToolSwitches(enabled=enabled)
    disabled = [tool for tool in current.disabled if tool not in on]
    disabled += [tool for tool in off if tool not in disabled]
    still_off = [tool for tool in on if not ToolSwitches(disabled=disabled).allows(tool)]
    _refuse_patterns(still_off, current.disabled, "disabled", "off")
    return ToolSwitches(disabled=disabled)


def _refuse_patterns(tools: list[str], patterns: list[str], key: str, state: str) -> None:
    if tools:
        raise NotSwitched(
            f'{", ".join(tools)} stays {state}: a pattern in the server\'s "tools" '
            f'"{key}" list ({", ".join(p for p in patterns if p not in tools)}) covers it. '
            "Change that pattern in the config file (Open config)."
        )


def _as_written(switches: ToolSwitches) -> dict[str, Any]:
    if switches.enabled is not None:
        return {"enabled": switches.enabled}
    return {"disabled": switches.disabled}
