"""Tools as the user last accepted them, and those held back until they review them.

A server that changes what a tool does after the user trusted it ("tool
poisoning": a description rewritten to steer the model) is not believed at
once. MCP Tray keeps, per server, each tool's definition as last accepted
(name, description, input and output schemas: what a model reads), in a file
of its own state. The first time a server lists its tools, they are accepted
as they are. After that, a tool whose definition changed, and a new tool, is
**held**: the relay leaves it out of the apps' lists and refuses calls to it
(app.core.rpc.toolgate) until the user accepts it. A server that trusts its
own changes (``trustChanges``, or ``watch`` set: the user is editing it) has
its changes accepted as they come.

:class:`AcceptedTools` is that record; :meth:`AcceptedTools.saw` is told each
page of tools the server lists, and says whether what is held changed. The
user accepts a tool as they saw it (its :func:`fingerprint`): one that changed
again while they looked stays held. The file is written on a worker thread,
never on the loop that carries the apps' requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.atomic import write_atomically

logger = logging.getLogger(__name__)

# What a model reads of a tool, so what a changed tool is judged by.
_READ = ("name", "description", "inputSchema", "outputSchema")


def definition(tool: dict[str, Any]) -> dict[str, Any]:
    """The parts of a tool's listing that tell what it does."""
    return {key: tool[key] for key in _READ if key in tool}


def fingerprint(tool: dict[str, Any]) -> str:
    text = json.dumps(definition(tool), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Held:
    """A tool held back: as the user accepted it (None: new), and as it is now."""

    name: str
    accepted: dict[str, Any] | None
    offered: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "accepted": self.accepted,
            "offered": self.offered,
            "fingerprint": fingerprint(self.offered),
        }


class AcceptedTools:
    """Every server's tools as the user last accepted them (one JSON file)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._accepted: dict[str, dict[str, dict[str, Any]]] = self._load()
        self._held: dict[str, dict[str, Held]] = {}
        # Seen for the first time: every page of its first full list is accepted.
        self._first_sight: set[str] = set()
        self._unsaved = False
        self._writing: asyncio.Future[None] | None = None

    def held(self, server: str) -> list[Held]:
        return list(self._held.get(server, {}).values())

    def held_names(self, server: str) -> frozenset[str]:
        return frozenset(self._held.get(server, {}))

    def saw(
        self, server: str, tools: Iterable[dict[str, Any]], *, trusting: bool, last_page: bool
    ) -> bool:
        """The server listed a page of ``tools`` (``last_page``: the list ends there):
        accepted (its first full list, or ``trusting``) or held. Whether what is held
        changed."""
        offered = {tool["name"]: definition(tool) for tool in tools if _named(tool)}
        accepted = self._accepted.get(server)
        if accepted is None:
            self._first_sight.add(server)
        before = self.held_names(server)
        if trusting or server in self._first_sight:
            merged = {**(accepted or {}), **offered}
            if merged != accepted:
                self._accepted[server] = merged
                self._save()
            held = {
                name: h for name, h in self._held.get(server, {}).items() if name not in offered
            }
        else:
            held = dict(self._held.get(server, {}))
            for name, now in offered.items():  # a page: the tools on others keep their state
                if accepted is not None and accepted.get(name) == now:
                    held.pop(name, None)
                else:
                    held[name] = Held(name, (accepted or {}).get(name), now)
        if last_page:
            self._first_sight.discard(server)
        self._held[server] = held
        return frozenset(held) != before

    def accept(self, server: str, reviewed: dict[str, str]) -> list[str]:
        """The user accepted these held tools as they saw them (name: fingerprint); those
        accepted. One that changed again since is not: it stays held."""
        held = self._held.get(server, {})
        taken = [
            name
            for name, seen in reviewed.items()
            if name in held and fingerprint(held[name].offered) == seen
        ]
        if not taken:
            return []
        accepted = self._accepted.setdefault(server, {})
        for name in taken:
            accepted[name] = held.pop(name).offered
        self._save()
        return taken

    def forget(self, server: str) -> None:
        """The server left the config: it is first seen again if it comes back."""
        self._held.pop(server, None)
        if self._accepted.pop(server, None) is not None:
            self._save()

    def _load(self) -> dict[str, dict[str, dict[str, Any]]]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            # Starting afresh accepts every tool as offered now: said, not hidden.
            logger.warning("cannot read %s (%s); tools are accepted afresh", self._path, error)
            return {}
        if not isinstance(data, dict):
            return {}
        return {
            str(server): {str(name): tool for name, tool in tools.items() if isinstance(tool, dict)}
            for server, tools in data.items()
            if isinstance(tools, dict)
        }

    def _save(self) -> None:
        """Write the record soon, on a worker thread; saves asked meanwhile are one write."""
        self._unsaved = True
        if self._writing is None or self._writing.done():
            self._writing = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        while self._unsaved:
            self._unsaved = False
            text = json.dumps(self._accepted, indent=2, sort_keys=True) + "\n"
            try:
                await asyncio.to_thread(write_atomically, self._path, text.encode())
            except OSError as error:
                logger.warning("cannot write %s: %s", self._path, error)

    async def flush(self) -> None:
        """Until what was accepted is on disk (the hub's shutdown)."""
        if self._writing is not None:
            await self._writing


def _named(tool: Any) -> bool:
    return isinstance(tool, dict) and isinstance(tool.get("name"), str)
