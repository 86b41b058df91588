"""All servers at a glance, in words a person knows: the tray icon, its tooltip,
the status line, and each server's state, uptime and problem.

Works on ``status`` rows (app.core.supervise.status.ServerStatus), so the
tray shows the same whether it runs the hub itself or presents one already
running. The enum
names (``crash-loop``, ``needs-secret``) stay in the CLI and the logs; here
they become "Keeps crashing — paused", "Needs a secret" and "Needs Node.js". Qt-free.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from app.core.signin.auth import SIGNED_OUT
from app.core.supervise.programs import MissingProgram
from app.core.supervise.states import State
from app.core.supervise.status import ServerStatus

NEEDS_YOU = frozenset(
    {State.CRASH_LOOP, State.NEEDS_SECRET, State.NEEDS_PROGRAM, State.NEEDS_SIGN_IN}
)
IN_MOTION = frozenset({State.STARTING, State.STOPPING, State.BACKOFF})


def needs_you(row: ServerStatus) -> bool:
    """Whether the server waits for the user to fix something (not for a sign-in they
    chose to end: that is theirs to take up again, like a stop)."""
    return row.state in NEEDS_YOU and not signed_out(row)


def signed_out(row: ServerStatus) -> bool:
    """Whether it waits for a sign-in because the user signed out."""
    return (
        row.state is State.NEEDS_SIGN_IN
        and row.failure is not None
        and row.failure.phrase == SIGNED_OUT
    )


class Colour(enum.StrEnum):
    """A state's colour, as the icons draw it."""

    GREEN = "#2ea043"
    AMBER = "#d29922"
    RED = "#cf222e"
    GREY = "#8c959f"


class Shape(enum.StrEnum):
    """A state's shape, so colour is never the only sign (colour-blind users)."""

    DOT = "dot"  # running
    HALF = "half"  # on its way: starting, restarting, stopping
    RING = "ring"  # at rest: stopped, turned off
    WARNING = "warning"  # needs you


@dataclass(frozen=True)
class Look:
    words: str
    colour: Colour
    shape: Shape


_LOOKS: dict[State, Look] = {
    State.RUNNING: Look("Running", Colour.GREEN, Shape.DOT),
    State.STARTING: Look("Starting…", Colour.AMBER, Shape.HALF),
    State.BACKOFF: Look("Restarting…", Colour.AMBER, Shape.HALF),
    State.STOPPING: Look("Stopping…", Colour.GREY, Shape.HALF),
    State.STOPPED: Look("Stopped", Colour.GREY, Shape.RING),
    State.DISABLED: Look("Turned off", Colour.GREY, Shape.RING),
    State.CRASH_LOOP: Look("Keeps crashing — paused", Colour.RED, Shape.WARNING),
    State.NEEDS_SECRET: Look("Needs a secret", Colour.RED, Shape.WARNING),
    State.NEEDS_PROGRAM: Look("Needs a program", Colour.RED, Shape.WARNING),
    State.NEEDS_SIGN_IN: Look("Needs you to sign in", Colour.RED, Shape.WARNING),
}


# A remote server connects: it does not start, and it cannot be reached rather than crash.
_REMOTE_LOOKS: dict[State, Look] = {
    State.STARTING: Look("Connecting…", Colour.AMBER, Shape.HALF),
    State.BACKOFF: Look("Offline — trying again…", Colour.AMBER, Shape.HALF),
    State.CRASH_LOOP: Look("Can't connect — paused", Colour.RED, Shape.WARNING),
}


def look(row: ServerStatus) -> Look:
    """How a server's state reads and looks in the tray."""
    if row.remote and row.state in _REMOTE_LOOKS:
        return _REMOTE_LOOKS[row.state]
    if row.state is State.STOPPED and row.stopped_by_user:
        return Look("Stopped by you", Colour.GREY, Shape.RING)
    if signed_out(row):
        return Look("Signed out", Colour.GREY, Shape.RING)
    missing = row.failure.missing_program if row.failure else None
    if row.state is State.NEEDS_PROGRAM and missing:
        source = MissingProgram(missing).source  # "Needs Node.js", for one people know
        if source is not None:
            return Look(f"Needs {source.product}", Colour.RED, Shape.WARNING)
    return _LOOKS[row.state]


class Overall(enum.StrEnum):
    """What the tray icon shows, most urgent first."""

    ATTENTION = "attention"  # something needs the user: a server, or a config error
    BUSY = "busy"  # something is starting or restarting
    RUNNING = "running"  # every server that should run, runs
    IDLE = "idle"  # nothing runs (no servers, or all stopped)


def overall(rows: Sequence[ServerStatus], *, config_problem: bool = False) -> Overall:
    states = {row.state for row in rows}
    if config_problem or any(needs_you(row) or row.held_tools for row in rows):
        return Overall.ATTENTION
    if states & IN_MOTION:
        return Overall.BUSY
    if State.RUNNING in states:
        return Overall.RUNNING
    return Overall.IDLE


def headline(rows: Sequence[ServerStatus], *, config_problem: bool = False) -> str:
    """The one status line under the app's name: what needs the user, else what runs."""
    needy = sum(needs_you(row) or bool(row.held_tools) for row in rows)
    needy += 1 if config_problem else 0
    if needy:
        return f"{needy} need{'s' if needy == 1 else ''} you"
    if not rows:
        return "No servers yet"
    running = sum(row.state is State.RUNNING for row in rows)
    if any(row.state in IN_MOTION for row in rows):
        return f"{running} of {_servers(len(rows))} running, starting the rest…"
    if running == len(rows):
        return f"{_servers(running)} running" if running > 1 else "1 server running"
    if running == 0:
        return "No server running"
    return f"{running} of {_servers(len(rows))} running"


def tooltip(rows: Sequence[ServerStatus], *, config_problem: bool = False) -> str:
    """The icon's tooltip: the status line, then who needs the user and why."""
    lines = [headline(rows, config_problem=config_problem)]
    lines += [f"{row.name}: {look(row).words}" for row in rows if needs_you(row)]
    if config_problem:
        lines.append("The config file has a mistake")
    return "MCP Tray\n" + "\n".join(lines)


def summary(row: ServerStatus) -> str:
    """One server's line under its name: state words, how long it has run, restarts."""
    parts = [look(row).words]
    if row.uptime_s is not None:
        parts.append(f"for {human_duration(row.uptime_s)}")
    text = " ".join(parts)
    if row.restarts:
        text += f" · {restarts(row)}"
    return text


def restarts(row: ServerStatus) -> str:
    """ "restarted twice"; "reconnected twice" for a remote server, which runs elsewhere."""
    return f"{'reconnected' if row.remote else 'restarted'} {times(row.restarts)}"


def human_duration(seconds: float | None) -> str:
    """A span as people say it: "less than a minute", "5 min", "2 h 5 min", "3 days"."""
    if seconds is None:
        return ""
    minutes = int(seconds) // 60
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days = hours // 24
    return "1 day" if days == 1 else f"{days} days"


def duration(seconds: float | None) -> str:
    """A span for the command line's table, to the second: "0m16s", "2h05m"."""
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _servers(count: int) -> str:
    return f"{count} server{'s' if count != 1 else ''}"


def times(count: int) -> str:
    """ "once", "twice", "3 times"."""
    return {1: "once", 2: "twice"}.get(count, f"{count} times")
