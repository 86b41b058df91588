"""``mcp-tray activity [NAME] [-f] [-n N]``: what the apps asked of the servers, and how it went.

One row per request that reached a server (app.core.activity): when, which
app, which server, the method and the tool, how long it took and how it
ended (``ok``, ``tool-error``, ``error -32602``, ``cancelled``, ``crashed``,
``interrupted``); then, per tool (or method), how often it was asked, how
often it failed and its median time, over every request the hub keeps. With
``-f`` new rows follow as they come. The record lives in the running hub
only: without one there is nothing to show.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from app.core.activity import Request, clock, usage
from app.core.activity import took as took_text
from app.core.errors import EXIT_OK, CommandError, UserError

if TYPE_CHECKING:
    from app.core.paths import Paths

ROWS_SHOWN = 50  # the newest, by default; the summary counts every row kept
# Columns: a header, and how wide a cell is at least and at most (longer ones are cut
# with "…"): as wide as the rows shown need, and rows printed while following line up
# with them unless one is wider than any before.
COLUMNS = (
    ("TIME", 8, 8),
    ("APP", 12, 24),
    ("SERVER", 10, 24),
    ("METHOD", 14, 28),
    ("TOOL", 14, 32),
    ("TOOK", 7, 9),
    ("OUTCOME", 0, 0),  # last: as long as it is
)
Widths = list[int]
USAGE_COLUMNS = ("SERVER", "TOOL OR METHOD", "CALLS", "FAILED", "MEDIAN")


def add_parser(commands: Any) -> None:
    activity = commands.add_parser(
        "activity", help="the requests apps made of the servers, and how each ended"
    )
    activity.add_argument("name", metavar="NAME", nargs="?", help="one server (default: all)")
    activity.add_argument("-f", "--follow", action="store_true", help="keep printing new rows")
    activity.add_argument(
        "-n", "--lines", type=_count, default=ROWS_SHOWN, metavar="N", help=f"default {ROWS_SHOWN}"
    )
    activity.add_argument("--json", action="store_true", help="one JSON object a line")


def run(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.endpoint import client
    from app.core.endpoint.protocol import ProtocolError

    arguments: dict[str, Any] = {"follow": args.follow}
    if args.name is not None:
        arguments["name"] = args.name
    try:
        replies = client.stream(paths.socket_path, "activity", **arguments)
        show([_row(wire) for wire in next(replies)], args)
        if args.follow:
            follow((_row(wire) for wire in replies), args)
    except UserError as error:  # not running, or an unknown server
        raise CommandError(str(error)) from None
    except (OSError, ProtocolError) as error:
        raise CommandError(f"could not talk to MCP Tray: {error}") from None
    return EXIT_OK


def show(rows: list[Request], args: argparse.Namespace) -> None:
    """The newest ``args.lines`` rows, then the summary of them all."""
    shown = rows[-args.lines :] if args.lines else []
    if args.json:
        for row in shown:
            print(json.dumps(row.to_wire()))
        return
    if not rows:
        whose = f"{args.name} has" if args.name else "no server has"
        print(f"No requests yet: {whose} been asked anything since MCP Tray started.")
        return
    if shown:
        widths = column_widths(shown)
        print(table_line(header(), widths))
        for row in shown:
            print(table_line(cells(row), widths))
        print()
    print(usage_table(rows))


def follow(rows: Iterable[Request], args: argparse.Namespace) -> None:
    widths = column_widths([])
    if not args.json:
        print("\nFollowing new requests (Ctrl-C to stop):", flush=True)
        print(table_line(header(), widths), flush=True)
    for row in rows:
        line = json.dumps(row.to_wire()) if args.json else table_line(cells(row), widths)
        print(line, flush=True)


def header() -> list[str]:
    return [title for title, _, _ in COLUMNS]


def column_widths(rows: list[Request]) -> Widths:
    """As wide as the header and ``rows`` need, within each column's bounds."""
    needed = [len(title) for title in header()]
    for row in rows:
        needed = [max(width, len(cell)) for width, cell in zip(needed, cells(row), strict=True)]
    return [
        min(max(width, least), most) if most else 0
        for width, (_, least, most) in zip(needed, COLUMNS, strict=True)
    ]


def cells(row: Request) -> list[str]:
    return [
        clock(row.at),
        row.app,
        row.server,
        row.method,
        row.tool or "-",
        took_text(row.duration_s),
        row.outcome_text(),
    ]


def table_line(values: list[str], widths: Widths) -> str:
    padded = [_cut(value, width).ljust(width) for value, width in zip(values, widths, strict=True)]
    return "  ".join(padded).rstrip()


def usage_table(rows: list[Request]) -> str:
    """Per server and tool (or method): calls, failures and the median time, as a table."""
    lines = [USAGE_COLUMNS] + [
        (found.server, found.what, str(found.calls), str(found.failed), took_text(found.median_s))
        for found in usage(rows)
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(USAGE_COLUMNS))]
    numbers = {2, 3}  # right-aligned
    return "\n".join(
        "  ".join(
            cell.rjust(width) if i in numbers else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )


def _count(text: str) -> int:
    """-n's value: a whole number, 0 or more (else a usage error)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, 0 or more")
    return int(text)


def _cut(value: str, width: int) -> str:
    if width and len(value) > width:
        return value[: width - 1] + "…"
    return value


def _row(wire: Any) -> Request:
    try:
        return Request.from_wire(wire)
    except (KeyError, TypeError, ValueError) as error:  # a newer hub's outcome, say
        message = f"MCP Tray sent a request row this version cannot read: {error}"
        raise CommandError(message) from None
