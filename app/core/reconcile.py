"""What a config change does to each server, decided as data.

:func:`plan` compares the servers of the running config with those of the
new one, given which servers the user stopped, and says what becomes of
each; it does no I/O and touches no process, so every rule has a
millisecond test. The hub carries the plan out, and its first start is the
plan from no servers at all.

    in the old config only          → remove: stopped; its waiting clients hear it is gone
    in both, entry changed          → replace: stopped, then supervised anew (clients wait)
    in both, only its tools changed → retune: the apps' lists change, the server runs on
    in the new config only          → add: supervised
    in both, entry unchanged        → leave: runs on untouched

What is supervised anew (added or replaced) starts at once, unless the user
stopped it (it stays stopped, across MCP Tray restarts too), it is disabled,
or it is unshared (``"shared": false``: one process per attached client, so
none until a client attaches).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Set
from dataclasses import dataclass, field

from app.core.config import ServerConfig


class Launch(enum.Enum):
    """What to do with a server that is supervised anew."""

    START = "start"
    KEEP_STOPPED = "keep-stopped"  # the user stopped it; its log says why it did not start
    IDLE = "idle"  # disabled, or unshared: nothing runs behind its name for now


@dataclass(frozen=True, kw_only=True)
class Plan:
    remove: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    add: tuple[str, ...] = ()
    leave: tuple[str, ...] = ()
    retune: tuple[str, ...] = ()  # its tool switches changed, and nothing else
    # For each added or replaced server, in config order.
    launch: Mapping[str, Launch] = field(default_factory=dict)

    @property
    def changed(self) -> list[str]:
        """The servers the change touched, sorted: what ``mcp-tray reload`` reports."""
        return sorted({*self.remove, *self.replace, *self.add, *self.retune})


def plan(
    old: Mapping[str, ServerConfig],
    new: Mapping[str, ServerConfig],
    *,
    stopped_by_user: Set[str] = frozenset(),
) -> Plan:
    """What applying ``new`` over ``old`` does to each server (see the module docstring)."""
    both = [name for name in old if name in new]
    retune = tuple(n for n in both if old[n] != new[n] and old[n].same_but_tools(new[n]))
    replace = tuple(n for n in both if old[n] != new[n] and n not in retune)
    return Plan(
        remove=tuple(name for name in old if name not in new),
        replace=replace,
        add=tuple(name for name in new if name not in old),
        leave=tuple(name for name in both if old[name] == new[name]),
        retune=retune,
        launch={
            name: _launch(name, server, stopped_by_user)
            for name, server in new.items()
            if name not in old or name in replace
        },
    )


def _launch(name: str, server: ServerConfig, stopped_by_user: Set[str]) -> Launch:
    if not server.shared or server.disabled:
        return Launch.IDLE
    if name in stopped_by_user:
        return Launch.KEEP_STOPPED
    return Launch.START
