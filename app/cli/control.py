"""``mcp-tray status|start|stop|restart|logs|quit``: asking the running hub, and saying its answer.

Each is one request on the control socket (app.core.endpoint.client); a hub
that is not running, refuses, or cannot be reached is a CommandError that
says so. ``logs`` reads the server's log file when no hub runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.errors import EXIT_FIXABLE, EXIT_OK, CommandError
from app.core.supervise.states import State
from app.core.supervise.status import ServerStatus

if TYPE_CHECKING:
    from app.core.paths import Paths

# start/restart wait for the handshake (a first npx download, a long start
# timeout in the config); the hub itself gives up first and says why.
CONTROL_WAIT_S = 3600.0
# quit waits while every server stops (each gets its grace period, all at once).
QUIT_WAIT_S = 60.0


def quit_hub(paths: Paths) -> int:
    """Ask the running MCP Tray to stop, and wait until it has (servers stopped too)."""
    from app.core.endpoint import client

    try:
        pid = client.call(paths.socket_path, "hello")["pid"]
    except client.HubNotRunning:
        print("MCP Tray is not running.")
        return EXIT_OK
    _call(paths, "quit")
    if not _ended(pid, QUIT_WAIT_S):
        raise CommandError(
            f"MCP Tray (pid {pid}) is still stopping its servers after {QUIT_WAIT_S:.0f} s; "
            "see its log (hub.log)"
        )
    print("MCP Tray has stopped, and every server with it.")
    return EXIT_OK


def status(args: argparse.Namespace, paths: Paths) -> int:
    wire = _call(paths, "status")
    if args.json:
        print(json.dumps(wire, indent=2))  # as the hub sent it: scripts read these fields
    else:
        print(status_table(_rows(wire)))
    return EXIT_OK


def status_table(rows: list[ServerStatus]) -> str:
    from app.core.overview import duration

    if not rows:
        return "No servers configured. Add one to the config (`mcp-tray config path`)."
    header = ("NAME", "STATE", "PID", "RESTARTS", "UPTIME", "LAST ERROR")
    table = [header] + [
        (
            row.name,
            _state_cell(row),
            str(row.pid or "-"),
            str(row.restarts),
            duration(row.uptime_s),
            row.failure.text() if row.failure else "",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False))
        + "  "
        + line[-1]
        for line in table
    ).rstrip()


def _state_cell(row: ServerStatus) -> str:
    """The state, and for a server the user stopped, that it stays so until started."""
    if row.state is State.STOPPED and row.stopped_by_user:
        return "stopped by you"
    return row.state.value


def control(args: argparse.Namespace, paths: Paths) -> int:
    """start, stop or restart ``args.name``, then say how it fares."""
    _call(paths, args.verb, name=args.name, timeout=CONTROL_WAIT_S)
    rows = {row.name: row for row in _rows(_call(paths, "status"))}
    row = rows.get(args.name)
    if row is None or args.verb == "stop":
        print(f"{args.name} is stopped.")
        return EXIT_OK
    print(f"{args.name} is {row.state.value}" + (f" (pid {row.pid})." if row.pid else "."))
    if row.state is not State.RUNNING:
        print(f"  {row.failure.text() if row.failure else f'see `mcp-tray logs {args.name}`'}")
        return EXIT_FIXABLE
    return EXIT_OK


def logs(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.endpoint import client
    from app.core.endpoint.protocol import ProtocolError

    try:
        replies = client.stream(
            paths.socket_path, "logs", name=args.name, lines=args.lines, follow=args.follow
        )
        for line in next(replies):
            print(line)
        if args.follow:
            for line in replies:
                print(line, flush=True)
    except client.HubNotRunning:
        return _logs_from_file(paths.server_log(args.name), args)
    except client.HubRefused as error:
        raise CommandError(str(error)) from None
    except (OSError, ProtocolError) as error:
        raise CommandError(f"could not talk to MCP Tray: {error}") from None
    return EXIT_OK


def _logs_from_file(log_file: Path, args: argparse.Namespace) -> int:
    """With no hub running the log file still tells what happened."""
    if not log_file.exists():
        raise CommandError(f"no log for {args.name!r} yet ({log_file} does not exist)")
    with log_file.open(encoding="utf-8", errors="replace") as file:
        lines = file.read().splitlines()[-args.lines :] if args.lines > 0 else []
    print("\n".join(lines))
    if args.follow:
        from app.core.endpoint.client import HOW_TO_START

        raise CommandError(
            f"MCP Tray is not running, so there is nothing to follow. {HOW_TO_START}"
        )
    return EXIT_OK


def _rows(wire: list[dict[str, Any]]) -> list[ServerStatus]:
    try:
        return [ServerStatus.from_wire(row) for row in wire]
    except (KeyError, TypeError, ValueError) as error:  # a newer hub's state, say
        message = f"MCP Tray answered with a status this version cannot read: {error}"
        raise CommandError(message) from None


def _call(paths: Paths, op: str, **arguments: Any) -> Any:
    from app.core.endpoint import client
    from app.core.endpoint.protocol import ProtocolError

    try:
        return client.call(paths.socket_path, op, **arguments)
    except (client.HubNotRunning, client.HubRefused) as error:
        raise CommandError(str(error)) from None
    except TimeoutError:
        raise CommandError("MCP Tray did not answer in time; see its log (hub.log)") from None
    except (OSError, ProtocolError) as error:
        raise CommandError(f"could not talk to MCP Tray: {error}") from None


def _ended(pid: int, timeout: float) -> bool:
    """Whether process ``pid`` ends within ``timeout`` (exited and not yet reaped counts)."""
    import time

    import psutil

    deadline = time.monotonic() + timeout
    try:
        process = psutil.Process(pid)
        while process.status() != psutil.STATUS_ZOMBIE:
            if time.monotonic() > deadline:
                return False
            try:
                process.wait(timeout=0.1)
                return True
            except psutil.TimeoutExpired:
                continue
    except psutil.NoSuchProcess:
        pass
    return True
