"""``mcp-tray signin|signout NAME``: the user's sign-in to a remote server.

``signin`` asks the running hub to open the sign-in (app.core.signin.flow),
prints the sign-in page's address and opens the browser on it, then waits
until the user has finished there (or the hub gave up) and says how it went.
A sign-in already open is not opened twice: its address is printed again.
``signout`` forgets the tokens; without a hub running, it removes them from
the keyring itself.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app.core.errors import EXIT_OK, CommandError, UserError

if TYPE_CHECKING:
    from app.core.paths import Paths

# Finding the server's sign-in service and registering with it, before the page is known.
FIRST_ANSWER_S = 120.0


def add_parsers(commands: Any) -> None:
    signin = commands.add_parser("signin", help="sign in to a remote server (opens your browser)")
    signin.add_argument("name", metavar="NAME")
    signin.add_argument(
        "--no-browser", action="store_true", help="only print the sign-in page's address"
    )
    signin.set_defaults(signin_action=sign_in)
    signout = commands.add_parser(
        "signout", help="forget your sign-in to a remote server (its tokens)"
    )
    signout.add_argument("name", metavar="NAME")
    signout.set_defaults(signin_action=sign_out)


def run(args: argparse.Namespace, paths: Paths) -> int:
    action: Any = args.signin_action
    result: int = action(args, paths)
    return result


def sign_in(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.endpoint import client
    from app.core.endpoint.protocol import ProtocolError

    name = args.name
    try:
        replies = client.stream(paths.socket_path, "signin", name=name, timeout=FIRST_ANSWER_S)
        first = next(replies)
        page, new = str(first["page"]), bool(first.get("new"))
        if new:
            print(f"Sign in to {name} in your browser. If it does not open, go to:\n  {page}")
            if not args.no_browser:
                _open_browser(page)
        else:
            print(
                f"A sign-in to {name} is already open in your browser. If you closed it, "
                f"go to:\n  {page}"
            )
        print("Waiting for you to finish signing in…", flush=True)
        outcome = next(replies, None) or {}
    except UserError as error:  # not running, or refused (say, not a remote server)
        raise CommandError(str(error)) from None
    except (OSError, ProtocolError, KeyError, TypeError) as error:
        raise CommandError(f"could not talk to MCP Tray: {error}") from None
    if "error" in outcome:
        raise CommandError(str(outcome["error"]))
    if not outcome.get("signed_in"):
        raise CommandError("MCP Tray stopped before the sign-in ended; sign in again")
    print(f"Signed in to {name}.")
    return EXIT_OK


def sign_out(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.endpoint import client

    name = args.name
    try:
        was_signed_in = client.call(paths.socket_path, "signout", name=name, timeout=120.0)
    except client.HubNotRunning:
        was_signed_in = _forget_here(paths, name)
    except UserError as error:
        raise CommandError(str(error)) from None
    print(f"Signed out of {name}." if was_signed_in else f"{name} had no sign-in to forget.")
    return EXIT_OK


def _forget_here(paths: Paths, name: str) -> bool:
    """No hub runs: the tokens leave the keyring from here."""
    from app.core.secrets import SecretStore
    from app.core.signin.tokens import forget_sign_in

    try:
        return forget_sign_in(SecretStore(paths.secret_index), name)
    except UserError as error:  # the keyring cannot be used
        raise CommandError(str(error)) from None


def _open_browser(page: str) -> None:
    import contextlib
    import webbrowser

    with contextlib.suppress(webbrowser.Error):  # the address is printed above
        webbrowser.open(page)
