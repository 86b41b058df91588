"""All servers at a glance: the tray icon's state, its tooltip, and a line per server.

Works on ``status`` rows (``Hub.status_rows()`` or the control API's
``status``), so the tray shows the same whether it runs the hub itself or
presents one already running. Qt-free.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

Row = Mapping[str, Any]

NEEDS_YOU = frozenset({"crash-loop", "needs-secret"})
IN_MOTION = frozenset({"starting", "stopping", "backoff"})


class Overall(enum.StrEnum):
    """What the tray icon shows, most urgent first."""

    ATTENTION = "attention"  # something needs the user: crash-loop, needs-secret, config error
    BUSY = "busy"  # something is starting or restarting
    RUNNING = "running"  # every server that should run, runs
    IDLE = "idle"  # nothing runs (no servers, or all stopped)


def overall(rows: Sequence[Row], *, config_problem: bool = False) -> Overall:
    states = {row["state"] for row in rows}
    if config_problem or states & NEEDS_YOU:
        return Overall.ATTENTION
    if states & IN_MOTION:
        return Overall.BUSY
    if "running" in states:
        return Overall.RUNNING
    return Overall.IDLE


def tooltip(rows: Sequence[Row], *, config_problem: bool = False) -> str:
    """A few lines for the icon's tooltip: counts, then who needs the user."""
    if not rows:
        lines = ["No servers configured"]
    else:
        running = sum(row["state"] == "running" for row in rows)
        lines = [f"{running} of {len(rows)} server{'s' if len(rows) != 1 else ''} running"]
    lines += [f"{row['name']}: {row['state']}" for row in rows if row["state"] in NEEDS_YOU]
    if config_problem:
        lines.append("The config has an error")
    return "MCP Tray\n" + "\n".join(lines)


def describe(row: Row) -> str:
    """One server's line under its name: state, uptime, restarts."""
    parts = [str(row["state"])]
    if row.get("uptime_s") is not None:
        parts.append(f"up {duration(row['uptime_s'])}")
    restarts = row.get("restarts") or 0
    if restarts:
        parts.append(f"{restarts} restart{'s' if restarts != 1 else ''}")
    return " · ".join(parts)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
