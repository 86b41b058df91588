"""``mcp-tray tools NAME [--enable|--disable TOOL…] [--review] [--accept TOOL…]``.

Without options it lists the tools the server last offered, each on or off
for the apps (from the running hub; without one, the config's switches).
``--enable`` and ``--disable`` write the server's ``tools`` entry in the
config (app.hosts.tools) and the running hub applies it at once: the apps'
lists change, the server keeps running. ``--review`` shows the tools held
back because the server changed them since they were accepted, or added them
(app.core.accepted), what changed in each; ``--accept`` lets them through.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app.core.errors import EXIT_OK, CommandError, UserError

if TYPE_CHECKING:
    from app.core.paths import Paths

DESCRIPTION_CHARS = 60  # a tool's description in the list: its first line, cut here


def add_parser(commands: Any) -> None:
    tools = commands.add_parser("tools", help="list a server's tools, or switch them on and off")
    tools.add_argument("name", metavar="NAME")
    tools.add_argument("--enable", nargs="+", default=[], metavar="TOOL", help="switch on")
    tools.add_argument("--disable", nargs="+", default=[], metavar="TOOL", help="switch off")
    tools.add_argument(
        "--review", action="store_true", help="what changed in the tools held for your review"
    )
    tools.add_argument(
        "--accept", nargs="+", default=[], metavar="TOOL", help="let held tools through"
    )


def run(args: argparse.Namespace, paths: Paths) -> int:
    if args.enable or args.disable:
        return _switch(args, paths)
    if args.review:
        return _review(args, paths)
    if args.accept:
        return _accept(args, paths)
    return _list(args, paths)


def _review(args: argparse.Namespace, paths: Paths) -> int:
    held: list[dict[str, Any]] = _call(paths, "held_tools", name=args.name)
    if not held:
        print(f"No tool of {args.name} is held for review.")
        return EXIT_OK
    for tool in held:
        before, now = tool.get("accepted"), tool["offered"]
        if before is None:
            print(f"{tool['name']}: a new tool.")
            print(f"  says: {_plain(now.get('description') or '(no description)')}")
        else:
            print(f"{tool['name']}: changed since you accepted it.")
            for key, label in (("description", "says"), ("inputSchema", "takes")):
                if before.get(key) != now.get(key):
                    print(f"  {label} before: {_shown(before.get(key))}")
                    print(f"  {label} now:    {_shown(now.get(key))}")
    names = " ".join(tool["name"] for tool in held)
    print(f"To let them reach your apps: mcp-tray tools {args.name} --accept {names}")
    return EXIT_OK


def _accept(args: argparse.Namespace, paths: Paths) -> int:
    """Each named tool as it is offered now, said again as it is accepted."""
    held = {tool["name"]: tool for tool in _call(paths, "held_tools", name=args.name)}
    reviewed = {name: held[name]["fingerprint"] for name in args.accept if name in held}
    accepted: list[str] = _call(paths, "accept_tools", name=args.name, reviewed=reviewed)
    for name in accepted:
        says = _plain(held[name]["offered"].get("description") or "(no description)")
        print(f"Accepted {name}, which says: {says}")
    if accepted:
        print("Your apps get them now.")
    unknown = [tool for tool in args.accept if tool not in accepted]
    if unknown:
        raise CommandError(f"not held for review: {', '.join(unknown)}")
    return EXIT_OK


def _shown(value: Any) -> str:
    import json

    return _plain(value if isinstance(value, str) else json.dumps(value, sort_keys=True))


def _plain_lines(text: str) -> list[str]:
    return [_plain(line) for line in text.strip().splitlines()]


def _plain(text: str) -> str:
    """A server's own words as a terminal shows them: no control characters, which could
    move the cursor and rewrite what the reader sees."""
    return "".join(c if c.isprintable() else " " for c in text)


def _call(paths: Paths, op: str, **arguments: Any) -> Any:
    from app.core.endpoint import client

    try:
        return client.call(paths.socket_path, op, **arguments)
    except UserError as error:
        raise CommandError(str(error)) from None


def _switch(args: argparse.Namespace, paths: Paths) -> int:
    from app.hosts.tools import switch

    both = sorted(set(args.enable) & set(args.disable))
    if both:
        raise CommandError(f"{', '.join(both)}: both --enable and --disable; choose one")
    try:
        switched = switch(paths, args.name, on=args.enable, off=args.disable)
    except UserError as error:
        raise CommandError(str(error)) from None
    if args.enable:
        print(f"Switched on for the apps: {', '.join(args.enable)}.")
    if args.disable:
        print(f"Switched off for the apps: {', '.join(args.disable)}.")
    hub = switched.hub
    if not hub.running:
        print("MCP Tray is not running; the apps see the change once it starts.")
    elif hub.problem:
        raise CommandError(f"saved, but MCP Tray could not apply it now: {hub.problem}")
    else:
        print(f"The apps attached to {args.name} see the change now; {args.name} keeps running.")
    return EXIT_OK


def _list(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.endpoint import client

    try:
        tools: list[dict[str, Any]] = client.call(paths.socket_path, "tools", name=args.name)
    except client.HubNotRunning:
        return _switches_only(args, paths)
    except UserError as error:
        raise CommandError(str(error)) from None
    if not tools:
        print(f"{args.name} has not listed its tools yet (is it running?).")
        return EXIT_OK
    width = max(len(tool["name"]) for tool in tools)
    for tool in tools:
        state = "on " if tool["on"] else "off"
        description = _plain_lines(tool.get("description") or "")
        first = description[0] if description else ""
        if len(first) > DESCRIPTION_CHARS:
            first = first[: DESCRIPTION_CHARS - 1] + "…"
        print(f"{state}  {_plain(tool['name']):<{width}}  {first}".rstrip())
    return EXIT_OK


def _switches_only(args: argparse.Namespace, paths: Paths) -> int:
    """No hub runs, so no list: the config's switches say what will be kept from the apps."""
    from app.core.config import ConfigError, load_config

    try:
        server = load_config(paths.config_file).servers.get(args.name)
    except ConfigError as error:
        raise CommandError(f"the config file has a mistake:\n{error}") from None
    if server is None:
        raise CommandError(f"no server named {args.name!r} in MCP Tray's config")
    switches = server.tools
    if switches.enabled is not None:
        print(f"Only these tools reach the apps: {', '.join(switches.enabled) or 'none'}.")
    elif switches.disabled:
        print(f"Kept from the apps: {', '.join(switches.disabled)}.")
    else:
        print("Every tool it offers reaches the apps.")
    print("MCP Tray is not running, so the server's own list is not known.")
    return EXIT_OK
