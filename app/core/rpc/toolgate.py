"""Which of a server's tools the attached apps see, and may call.

A :class:`ToolGate` is the relay's view of two things the user decides:
their switches (the config's ``tools``: ``enabled`` or ``disabled``, with
globs), and the tools held until they review them (app.core.tools: a tool
whose definition changed since they accepted it, or a new one). The relay
leaves the tools the gate keeps out of every ``tools/list`` it passes on, and
answers a call to one itself, saying how to turn it on; the server never
hears of it. A gate is replaced whole when either changes, and the relay
tells the apps their list changed, without restarting the server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from app.core.config.schema import ToolSwitches


@dataclass(frozen=True)
class ToolGate:
    server: str
    switches: ToolSwitches = field(default_factory=ToolSwitches)
    held: frozenset[str] = frozenset()  # changed or new, waiting for the user's review

    def allows(self, tool: str) -> bool:
        return tool not in self.held and self.switches.allows(tool)

    @property
    def open(self) -> bool:
        """Whether it lets every tool through (then lists pass untouched)."""
        return not self.held and self.switches.enabled is None and not self.switches.disabled

    def refusal(self, tool: str) -> str | None:
        """Why a call to ``tool`` is refused, in words that say how to allow it; None when
        it is allowed."""
        if tool in self.held:
            return (
                f"The tool {tool} of {self.server} changed since you last accepted it, so "
                f"MCP Tray holds it back until you review it: choose Review in MCP Tray's "
                f"notice or menu, or run `mcp-tray tools {self.server} --review`."
            )
        if not self.switches.allows(tool):
            return (
                f"The tool {tool} of {self.server} is switched off in MCP Tray. Turn it on "
                f"in MCP Tray's menu (under {self.server}, Tools), or run "
                f"`mcp-tray tools {self.server} --enable {tool}`."
            )
        return None

    def shown(self, listed: dict[str, Any]) -> dict[str, Any]:
        """A ``tools/list`` result with the tools it keeps out left out."""
        tools = listed.get("tools")
        if self.open or not isinstance(tools, list):
            return listed
        kept = [tool for tool in tools if not isinstance(tool, dict) or self.allows(_name(tool))]
        return {**listed, "tools": kept}

    def shows_the_same(self, other: ToolGate, tools: Iterable[str]) -> bool:
        """Whether ``other`` lets through the same of ``tools`` as this gate."""
        return all(self.allows(tool) == other.allows(tool) for tool in tools)


def _name(tool: dict[str, Any]) -> str:
    name = tool.get("name")
    return name if isinstance(name, str) else ""
