"""The ``mcp-tray`` command line.

Each subcommand imports what it needs when it runs, so that quick commands
(and later ``attach``, which editors start often) pay only for themselves.
Exit codes: 0 ok, 1 a failure the user can fix (stderr says how), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app import __version__
from app.core.errors import EXIT_FIXABLE, EXIT_INTERRUPTED, EXIT_OK, CommandError, UserError

# start/restart wait for the handshake (a first npx download, a long start
# timeout in the config); the hub itself gives up first and says why.
CONTROL_WAIT_S = 3600.0
# quit waits while every server stops (each gets its grace period, all at once).
QUIT_WAIT_S = 60.0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command: Callable[[argparse.Namespace], int] = getattr(args, "run", _default)
    try:
        return command(args)
    except UserError as error:
        print(f"mcp-tray: {error}", file=sys.stderr)
        return EXIT_FIXABLE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-tray",
        description="Keeps your local MCP servers running and shares them with every editor.",
    )
    parser.add_argument("--version", action="version", version=f"mcp-tray {__version__}")
    parser.add_argument("--config", type=Path, metavar="FILE", help="use this config file")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    attach = commands.add_parser("attach", help="connect an editor to a server (for host configs)")
    attach.add_argument("name", metavar="NAME")
    attach.set_defaults(run=_attach)

    serve = commands.add_parser("serve", help="run the hub without a tray icon")
    serve.set_defaults(run=_serve)

    quit_ = commands.add_parser("quit", help="stop MCP Tray (tray or serve) and every server")
    quit_.set_defaults(run=_quit)

    demo = commands.add_parser("demo", help="serve the bundled demo MCP server on stdio")
    demo.set_defaults(run=_demo)

    status = commands.add_parser("status", help="one line per server")
    status.add_argument("--json", action="store_true", help="print JSON for scripts")
    status.set_defaults(run=_status)

    for verb, text in (("start", "start"), ("stop", "stop"), ("restart", "restart")):
        sub = commands.add_parser(verb, help=f"{text} one server")
        sub.add_argument("name", metavar="NAME")
        sub.set_defaults(run=_control, verb=verb)

    logs = commands.add_parser("logs", help="what a server wrote to stderr")
    logs.add_argument("name", metavar="NAME")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=int, default=50, metavar="N", help="default 50")
    logs.set_defaults(run=_logs)

    from app.secret_commands import add_parser as add_secret_parser

    add_secret_parser(commands)
    commands.choices["secret"].set_defaults(run=_secret)

    from app.host_commands import add_parsers as add_host_parsers

    add_host_parsers(commands)
    for verb in ("import", "connect", "disconnect"):
        commands.choices[verb].set_defaults(run=_hosts)

    from app.http_commands import add_parser as add_http_parser

    add_http_parser(commands)
    commands.choices["http"].set_defaults(run=_http)

    config = commands.add_parser("config", help="where the config is, and whether it is valid")
    config.add_argument("action", choices=["path", "check"])
    config.set_defaults(run=_config)
    return parser


def _paths(args: argparse.Namespace) -> Any:
    from app.core.paths import default_paths

    return default_paths(config_file=args.config)


def _default(args: argparse.Namespace) -> int:
    """Plain ``mcp-tray``: the tray app, with the hub in-process; headless without a display."""
    if not _has_display():
        print(
            "No desktop display found (DISPLAY and WAYLAND_DISPLAY are not set), so MCP Tray "
            "runs without a tray icon; press Ctrl-C to stop.",
            file=sys.stderr,
        )
        return _serve(args)
    from app.gui.app import run_tray

    return run_tray(_paths(args), write_default=args.config is None)


def _has_display() -> bool:
    import os

    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True  # macOS and Windows always have one; an explicit Qt platform is trusted
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _serve(args: argparse.Namespace) -> int:
    from app.core.headless import serve

    # A config named with --config is the user's own: a missing one is an
    # error (reported by the hub), never replaced by the default.
    return serve(_paths(args), write_default=args.config is None)


def _attach(args: argparse.Namespace) -> int:
    from app.core.endpoint.attach import attach

    return attach(_paths(args).socket_path, args.name, config=args.config)


def _call(args: argparse.Namespace, op: str, **arguments: Any) -> Any:
    from app.core.endpoint import client
    from app.core.endpoint.protocol import ProtocolError

    try:
        return client.call(_paths(args).socket_path, op, **arguments)
    except (client.HubNotRunning, client.HubRefused) as error:
        raise CommandError(str(error)) from None
    except TimeoutError:
        raise CommandError("MCP Tray did not answer in time; see its log (hub.log)") from None
    except (OSError, ProtocolError) as error:
        raise CommandError(f"could not talk to MCP Tray: {error}") from None


def _quit(args: argparse.Namespace) -> int:
    """Ask the running MCP Tray to stop, and wait until it has (servers stopped too)."""
    from app.core.endpoint import client

    try:
        pid = client.call(_paths(args).socket_path, "hello")["pid"]
    except client.HubNotRunning:
        print("MCP Tray is not running.")
        return EXIT_OK
    _call(args, "quit")
    if not _ended(pid, QUIT_WAIT_S):
        raise CommandError(
            f"MCP Tray (pid {pid}) is still stopping its servers after {QUIT_WAIT_S:.0f} s; "
            "see its log (hub.log)"
        )
    print("MCP Tray has stopped, and every server with it.")
    return EXIT_OK


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


def _demo(args: argparse.Namespace) -> int:
    from app.demo.__main__ import main as serve_demo

    return serve_demo()


def _status(args: argparse.Namespace) -> int:
    rows = _call(args, "status")
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(_status_table(rows))
    return EXIT_OK


def _status_table(rows: list[dict[str, Any]]) -> str:
    from app.core.overview import duration

    if not rows:
        return "No servers configured. Add one to the config (`mcp-tray config path`)."
    header = ("NAME", "STATE", "PID", "RESTARTS", "UPTIME", "LAST ERROR")
    table = [header] + [
        (
            row["name"],
            _state_cell(row),
            str(row["pid"] or "-"),
            str(row["restarts"]),
            duration(row["uptime_s"]),
            row["last_error"] or "",
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


def _state_cell(row: dict[str, Any]) -> str:
    """The state, and for a server the user stopped, that it stays so until started."""
    if row["state"] == "stopped" and row.get("stopped_by_user"):  # older hubs send no such field
        return "stopped by you"
    return str(row["state"])


def _control(args: argparse.Namespace) -> int:
    _call(args, args.verb, name=args.name, timeout=CONTROL_WAIT_S)
    rows = {row["name"]: row for row in _call(args, "status")}
    row = rows.get(args.name)
    if row is None or args.verb == "stop":
        print(f"{args.name} is stopped.")
        return EXIT_OK
    print(f"{args.name} is {row['state']}" + (f" (pid {row['pid']})." if row["pid"] else "."))
    if row["state"] != "running":
        print(f"  {row['last_error'] or 'see `mcp-tray logs ' + args.name + '`'}")
        return EXIT_FIXABLE
    return EXIT_OK


def _logs(args: argparse.Namespace) -> int:
    from app.core.endpoint import client
    from app.core.endpoint.protocol import ProtocolError

    paths = _paths(args)
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


def _secret(args: argparse.Namespace) -> int:
    from app import secret_commands

    return secret_commands.run(args, _paths(args))


def _hosts(args: argparse.Namespace) -> int:
    from app import host_commands
    from app.hosts.host import HostError

    try:
        return host_commands.run(args, _paths(args))
    except HostError as error:
        raise CommandError(str(error)) from None


def _http(args: argparse.Namespace) -> int:
    from app import http_commands

    return http_commands.run(args, _paths(args))


def _config(args: argparse.Namespace) -> int:
    paths = _paths(args)
    if args.action == "path":
        print(paths.config_file)
        return EXIT_OK
    from app.core.config import ConfigError, load_config

    try:
        config = load_config(paths.config_file)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_FIXABLE
    print(f"{paths.config_file}: OK, {len(config.servers)} server(s)")
    return EXIT_OK
