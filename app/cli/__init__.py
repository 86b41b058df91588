"""The ``mcp-tray`` command line: it parses the arguments and prints the outcome.

The work is done in app.core and app.hosts; the modules here say what
happened: app.cli.control (the running hub: status, start|stop|restart, logs,
quit), app.cli.secret, app.cli.hosts (import, connect, disconnect),
app.cli.servers (add, remove, catalog) and app.cli.http. Each subcommand
imports what it needs when it runs, so that quick commands (and ``attach``,
which editors start often) pay only for themselves.

A failure reaches :func:`main` as a UserError (app.core.errors), whatever
raised it; main prints ``mcp-tray: `` and its sentence on stderr and exits
with EXIT_FIXABLE. A command catches one only to say what it then did not do
("API_TOKEN was not stored. …"). Exit codes: app.core.errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app import __version__
from app.core.errors import EXIT_FIXABLE, EXIT_INTERRUPTED, EXIT_OK, CommandError, UserError

if TYPE_CHECKING:
    from app.core.paths import Paths


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    command: Callable[[argparse.Namespace], int]
    if len(arguments) == 2 and arguments[0] == "attach" and not arguments[1].startswith("-"):
        # What editors start, often, and wait for: building every command's parser
        # (and importing their modules) took longer than the rest of its start-up.
        command, args = _attach, argparse.Namespace(name=arguments[1], config=None)
    else:
        args = _parser().parse_args(_opened_file(arguments))
        command = getattr(args, "run", _default)
    try:
        return command(args)
    except UserError as error:
        print(f"mcp-tray: {error}", file=sys.stderr)
        return EXIT_FIXABLE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _opened_file(argv: list[str]) -> list[str]:
    """``mcp-tray FILE.mcpb``, as a desktop runs MCP Tray to open a bundle (``Exec=mcp-tray
    %f``): with a display, the tray's Add dialog on it (app.gui.app, started or asked);
    without one, ``mcp-tray add --bundle FILE.mcpb``, which asks in the terminal."""
    options, last = argv[:-1], argv[-1:]
    plain = options == [] or (len(options) == 2 and options[0] == "--config")
    # No command has a dot in it; only a file name makes it worth loading app.hosts.mcpb,
    # which `attach` (started often, by editors) should not wait for.
    if not (plain and last and Path(last[0]).suffix and not last[0].startswith("-")):
        return argv
    from app.hosts.mcpb import is_bundle

    if not is_bundle(last[0]):
        return argv
    if _has_display():  # the running tray is told the path, so it must be a full one
        return [*options, "--open-bundle", str(Path(last[0]).expanduser().absolute())]
    return [*options, "add", "--bundle", last[0]]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-tray",
        description="Keeps your local MCP servers running and shares them with every editor.",
    )
    parser.add_argument("--version", action="version", version=f"mcp-tray {__version__}")
    parser.add_argument("--config", type=Path, metavar="FILE", help="use this config file")
    # What a bundle file opened on the desktop becomes (_opened_file), not typed by anyone.
    parser.add_argument("--open-bundle", type=Path, help=argparse.SUPPRESS)
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

    from app.cli import hosts, http, secret, servers, signin, tools

    secret.add_parser(commands)
    commands.choices["secret"].set_defaults(run=_secret)

    hosts.add_parsers(commands)
    for verb in ("import", "connect", "disconnect"):
        commands.choices[verb].set_defaults(run=_hosts)

    http.add_parser(commands)
    commands.choices["http"].set_defaults(run=_http)

    servers.add_parsers(commands)
    for verb in ("add", "remove", "catalog"):
        commands.choices[verb].set_defaults(run=_servers)

    tools.add_parser(commands)
    commands.choices["tools"].set_defaults(run=_tools)

    signin.add_parsers(commands)
    for verb in ("signin", "signout"):
        commands.choices[verb].set_defaults(run=_signin)

    from app.cli import activity

    activity.add_parser(commands)
    commands.choices["activity"].set_defaults(run=_activity)

    config = commands.add_parser("config", help="where the config is, and whether it is valid")
    config.add_argument("action", choices=["path", "check"])
    config.set_defaults(run=_config)
    return parser


def _paths(args: argparse.Namespace) -> Paths:
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

    return run_tray(_paths(args), write_default=args.config is None, open_bundle=args.open_bundle)


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


def _demo(args: argparse.Namespace) -> int:
    from app.demo.__main__ import main as serve_demo

    return serve_demo()


def _quit(args: argparse.Namespace) -> int:
    from app.cli import control

    return control.quit_hub(_paths(args))


def _status(args: argparse.Namespace) -> int:
    from app.cli import control

    return control.status(args, _paths(args))


def _control(args: argparse.Namespace) -> int:
    from app.cli import control

    return control.control(args, _paths(args))


def _logs(args: argparse.Namespace) -> int:
    from app.cli import control

    return control.logs(args, _paths(args))


def _secret(args: argparse.Namespace) -> int:
    from app.cli import secret

    return secret.run(args, _paths(args))


def _hosts(args: argparse.Namespace) -> int:
    from app.cli import hosts

    return hosts.run(args, _paths(args))


def _servers(args: argparse.Namespace) -> int:
    from app.cli import servers

    return servers.run(args, _paths(args))


def _tools(args: argparse.Namespace) -> int:
    from app.cli import tools

    return tools.run(args, _paths(args))


def _signin(args: argparse.Namespace) -> int:
    from app.cli import signin

    return signin.run(args, _paths(args))


def _activity(args: argparse.Namespace) -> int:
    from app.cli import activity

    return activity.run(args, _paths(args))


def _http(args: argparse.Namespace) -> int:
    from app.cli import http

    return http.run(args, _paths(args))


def _config(args: argparse.Namespace) -> int:
    paths = _paths(args)
    if args.action == "path":
        print(paths.config_file)
        return EXIT_OK
    from app.core.config import ConfigError, load_config

    try:
        config = load_config(paths.config_file)
    except ConfigError as error:  # the answer to `check`: it has these problems
        raise CommandError(f"the config has errors; fix them, then check again:\n{error}") from None
    print(f"{paths.config_file}: OK, {len(config.servers)} server(s)")
    return EXIT_OK
