"""``mcp-tray secret set|rm|list|migrate``: the keyring side of the config.

These commands talk to the keyring themselves (the hub need not run) and
then tell a running hub, which starts a server that waited in
``needs-secret`` and restarts one that runs with an old value. Values are
read without echo from a terminal, or from standard input when piped; they
are never printed. A value too short or too common to be masked in logs is
refused before it reaches the keyring.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.core.config import Config
    from app.core.paths import Paths
    from app.core.secrets import SecretStore

EXIT_OK, EXIT_FIXABLE = 0, 1


class SecretCommandError(Exception):
    """A failure to report in one readable message, with exit code 1."""


def add_parser(commands: Any) -> None:
    secret = commands.add_parser("secret", help="keep a server's secrets in the OS keyring")
    actions = secret.add_subparsers(title="actions", metavar="ACTION", required=True)
    put = actions.add_parser("set", help="store a secret (prompts, or reads standard input)")
    put.add_argument("server", metavar="SERVER")
    put.add_argument("name", metavar="NAME")
    put.set_defaults(secret_action=_set)
    remove = actions.add_parser("rm", help="delete a secret from the keyring")
    remove.add_argument("server", metavar="SERVER")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(secret_action=_rm)
    listing = actions.add_parser("list", help="a server's secret names (never the values)")
    listing.add_argument("server", metavar="SERVER")
    listing.set_defaults(secret_action=_list)
    migrate = actions.add_parser(
        "migrate", help="move plaintext tokens from the config into the keyring"
    )
    migrate.add_argument("--dry-run", action="store_true", help="only show what would move")
    migrate.set_defaults(secret_action=_migrate)


def run(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.config import ConfigError
    from app.core.secrets import KeyringUnavailable, UnsafeSecret

    try:
        result: int = args.secret_action(args, paths)
    except UnsafeSecret as error:
        what = getattr(args, "name", "A value")
        raise SecretCommandError(f"{what} was not stored. {error}") from None
    except KeyringUnavailable as error:
        raise SecretCommandError(str(error)) from None
    except ConfigError as error:
        raise SecretCommandError(f"the config has errors; fix them first.\n{error}") from None
    return result


# ----- the actions


def _set(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.secrets import secret_names

    config = _server_config(paths, args.server)
    _check_name(args.name)
    value = _read_value(args.server, args.name)
    store = _store(paths)
    store.set(args.server, args.name, value)
    print(f"Stored {args.name} for {args.server} in the keyring.")
    if args.name not in secret_names(config.servers[args.server]):
        print(
            f'Note: {args.server} does not use it yet; add "{args.name}": '
            f'"${{secret:{args.name}}}" to its "env" in the config.',
            file=sys.stderr,
        )
    _tell_hub(paths, args.server, args.name)
    return EXIT_OK


def _rm(args: argparse.Namespace, paths: Paths) -> int:
    _server_config(paths, args.server)
    if not _store(paths).delete(args.server, args.name):
        raise SecretCommandError(f"no secret {args.name} is stored for {args.server}")
    print(f"Deleted {args.name} of {args.server} from the keyring.")
    _tell_hub(paths, args.server, args.name)
    return EXIT_OK


def _list(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.secrets import secret_names

    config = _server_config(paths, args.server)
    store = _store(paths)
    used = secret_names(config.servers[args.server])
    names = sorted({*used, *store.names(args.server)})
    if not names:
        print(f"{args.server} has no secrets.")
        return EXIT_OK
    width = max(len(name) for name in names)
    for name in names:
        stored = "stored" if store.get(args.server, name) is not None else "missing"
        note = "" if name in used else "  (the config does not use it)"
        print(f"{name:<{width}}  {stored}{note}")
    return EXIT_OK


def _migrate(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.config import parse_config, write_config_text
    from app.core.secrets.migrate import plan_migration, rewrite, unmaskable

    text = paths.config_file.read_text(encoding="utf-8")
    config = parse_config(text, path=paths.config_file)
    moves = plan_migration(config)
    for server, where in unmaskable(config):
        print(
            f"Left as it is: {server}: {where} is too short or too common to be a real "
            "secret (it is not hidden in logs either)."
        )
    if not moves:
        print(f"No plaintext secrets found in {paths.config_file}.")
        return EXIT_OK
    verb = "Would move" if args.dry_run else "Moving"
    print(f"{verb} {len(moves)} value(s) from {paths.config_file} into the keyring:")
    for move in moves:
        place = "args" if move.in_args else f"env {move.where[-1]}"
        print(f"  {move.server}: {place} → ${{secret:{move.name}}}")
    if args.dry_run:
        print("Nothing was changed (--dry-run).")
        return EXIT_OK
    store = _store(paths)
    for move in moves:  # all stored and read back before the config changes
        store.set(move.server, move.name, move.value)
        if store.get(move.server, move.name) != move.value:
            raise SecretCommandError(
                f"the keyring did not keep {move.name} of {move.server}; the config is unchanged"
            )
    new_text = rewrite(text, moves)
    parse_config(new_text, path=paths.config_file)  # what is written must load
    backup = write_config_text(paths.config_file, new_text)
    print(f"The config now refers to them as ${{secret:NAME}}: {paths.config_file}")
    if backup is not None:
        print(
            f"The previous config, with the plaintext values, is kept as {backup} "
            "(readable only by you); delete it once everything works."
        )
    if any(move.in_args for move in moves):
        print(
            "Warning: secrets passed in args are visible to every user of this computer in the "
            "process list; move them to the server's env if it can read them from there.",
            file=sys.stderr,
        )
    return EXIT_OK


# ----- helpers


def _store(paths: Paths) -> SecretStore:
    from app.core.secrets import SecretStore

    return SecretStore(paths.secret_index)


def _server_config(paths: Paths, server: str) -> Config:
    from app.core.config import load_config

    config = load_config(paths.config_file)
    if server not in config.servers:
        known = ", ".join(sorted(config.servers)) or "none"
        raise SecretCommandError(f"no server named {server!r} in the config (configured: {known})")
    return config


def _check_name(name: str) -> None:
    from app.core.secrets import SECRET_NAME_PATTERN

    if not SECRET_NAME_PATTERN.fullmatch(name):
        raise SecretCommandError(
            f'invalid secret name {name!r}: start with a letter or "_", then letters, digits, '
            '"_", "." or "-"'
        )


def _read_value(server: str, name: str) -> str:
    import getpass

    if sys.stdin.isatty():
        value = getpass.getpass(f"{name} for {server} (not shown): ")
    else:
        value = sys.stdin.read()
        value = value[:-1] if value.endswith("\n") else value
        value = value[:-1] if value.endswith("\r") else value
    if not value:
        raise SecretCommandError("the value is empty; nothing was stored")
    return value


def _tell_hub(paths: Paths, server: str, name: str) -> None:
    """A running hub starts or restarts what uses the secret; none running is fine."""
    from app.core.endpoint import client

    try:
        acted = client.call(
            paths.socket_path, "secrets_changed", name=server, secrets=[name], timeout=3600
        )
    except client.HubNotRunning:
        return
    except (client.HubRefused, OSError, TimeoutError) as error:
        print(f"Note: MCP Tray could not act on it now: {error}", file=sys.stderr)
        return
    for instance in acted:
        print(f"{instance} (re)started with its secrets.")
