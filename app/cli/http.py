"""``mcp-tray http rotate-token``: replace the HTTP endpoint's access token.

The new token goes into the keyring, then into every app config that
``connect --http`` gave the old one; then the running hub, if any, is told
(control op ``http_token_changed``) and from that moment takes only the new
token. The keyring stays the one place the token lives: the hub re-reads it
rather than receive it over the socket.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app.core.errors import EXIT_FIXABLE, EXIT_OK, CommandError

if TYPE_CHECKING:
    from app.core.paths import Paths
    from app.hosts.linking import Rotation

TELL_HUB_S = 30.0  # the hub reads the keyring, which may wait on an unlock prompt


def add_parser(commands: Any) -> None:
    http = commands.add_parser("http", help="the HTTP endpoint, for apps that take a URL")
    verbs = http.add_subparsers(title="actions", metavar="ACTION", required=True)
    rotate = verbs.add_parser(
        "rotate-token",
        help="make a new access token; the old one stops working at once",
    )
    rotate.set_defaults(http_verb="rotate-token")


def run(args: argparse.Namespace, paths: Paths) -> int:
    from app.hosts.host import HostError
    from app.hosts.linking import rotate_token

    try:
        rotation = rotate_token(paths)
    except HostError as error:
        raise CommandError(f"the access token was not changed: {error}") from None
    print("Made a new access token for the HTTP endpoint.")
    told = _tell_hub(paths)
    print("\n".join(given_lines(rotation)))
    if rotation.trouble:
        print("Could not update:")
        print("\n".join(f"  {line}" for line in rotation.trouble))
    print(
        "Any other app you gave the token to needs the new one: "
        "`mcp-tray connect APP --http` writes it for you."
    )
    if told is not None:
        raise CommandError(told)
    return EXIT_FIXABLE if rotation.trouble else EXIT_OK


def given_lines(rotation: Rotation) -> list[str]:
    if not rotation.given:
        return ["No app connected with `connect --http` needed updating."]
    lines = []
    for given in rotation.given:
        servers = ", ".join(given.servers)
        lines.append(f"Updated {given.host.title} ({given.path}): {servers}. {given.host.restart}")
    return lines


def _tell_hub(paths: Paths) -> str | None:
    """Make the running hub take the new token; a message when it could not."""
    from app.core.endpoint import client
    from app.core.endpoint.protocol import ProtocolError

    try:
        serving = client.call(paths.socket_path, "http_token_changed", timeout=TELL_HUB_S)
    except client.HubNotRunning:
        print("MCP Tray is not running; it takes the new token when it starts.")
        return None
    except (client.HubRefused, OSError, ProtocolError) as error:
        return (
            f"the running MCP Tray still takes the old token ({error}); "
            "quit it (`mcp-tray quit`) and start it again"
        )
    if serving:
        print("The old token no longer works.")
    else:
        print("The HTTP endpoint is off; it takes the new token when it is turned on.")
    return None
