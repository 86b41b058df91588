"""``mcp-tray import|connect|disconnect HOST``: bring an app's servers into MCP Tray.

``import`` copies an app's stdio servers into MCP Tray's config
(app.hosts.importing); ``connect`` then points the app at them through
``mcp-tray attach``, and ``disconnect`` undoes that (app.hosts.linking).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.errors import EXIT_OK

if TYPE_CHECKING:
    from app.core.paths import Paths
    from app.hosts.host import Host


def add_parsers(commands: Any) -> None:
    from app.hosts.names import HOST_NAMES

    names = ", ".join(HOST_NAMES)
    for verb, text in (
        ("import", f"copy an app's servers into MCP Tray ({names})"),
        ("connect", "make an app reach its servers, and MCP Tray's, through MCP Tray"),
        ("disconnect", "undo connect: the app starts its servers itself again"),
    ):
        command = commands.add_parser(verb, help=text)
        command.add_argument("host", metavar="HOST", help=names)
        command.add_argument("--path", type=Path, help="the app's config file, if not the usual")
        if verb == "import":
            command.add_argument("--dry-run", action="store_true", help="only show the plan")
        if verb == "connect":
            command.add_argument(
                "--http",
                action="store_true",
                help="give the app each server's URL and token instead of a command",
            )
        command.set_defaults(host_verb=verb)


def run(args: argparse.Namespace, paths: Paths) -> int:
    """Raises app.hosts.host.HostError, in words, for the command line to report."""
    from app.hosts import importing, linking

    host, path = _host_and_path(args)
    if args.host_verb == "import":
        plan = importing.import_servers(host, path, paths, dry_run=args.dry_run)
        print(f"{host.title} ({path}):")
        print("\n".join(f"  {line}" for line in plan.lines) or "  no servers")
        if args.dry_run or not plan.added:
            print("Nothing was changed." if args.dry_run else "Nothing to import.")
        else:
            print(f"Imported {len(plan.added)} server(s) into {paths.config_file}.")
            print(
                f"Next: `mcp-tray connect {host.name}` makes {host.title} "
                "use them through MCP Tray."
            )
        return EXIT_OK
    if args.host_verb == "connect":
        outcome = linking.connect(host, path, paths, http=args.http)
    else:
        outcome = linking.disconnect(host, path, paths)
    for line in outcome.untouched:
        print(f"  {line}")
    print(outcome.message)
    return EXIT_OK


def _host_and_path(args: argparse.Namespace) -> tuple[Host, Path]:
    """The app named on the command line, and its config file (``--path`` or the usual)."""
    from app.hosts.registry import host_named

    host = host_named(args.host)
    return host, args.path or host.default_path()
