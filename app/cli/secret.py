"""``mcp-tray secret set|rm|list|migrate``: the keyring side of the config.

These commands talk to the keyring themselves (the hub need not run) and
then tell a running hub, which starts a server that waited in
``needs-secret`` and restarts one that runs with an old value; what the hub
then reports is printed (running, or which secret it still needs). Values are
read without echo from a terminal, or from standard input when piped; they
are never printed. A value too short or too common to be masked in logs is
refused before it reaches the keyring.

``rm`` and ``list`` also work for a server that is no longer in the config
(renamed or removed): its secrets stay in the keyring until removed, and
``list`` shows them apart, with the command that removes them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.core.errors import EXIT_OK, CommandError

if TYPE_CHECKING:
    from app.core.config import Config
    from app.core.paths import Paths
    from app.core.secrets import SecretStore


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
    listing = actions.add_parser(
        "list", help="secret names (never the values), of one server or of all"
    )
    listing.add_argument("server", metavar="SERVER", nargs="?")
    listing.set_defaults(secret_action=_list)
    migrate = actions.add_parser(
        "migrate", help="move plaintext tokens from the config into the keyring"
    )
    migrate.add_argument("--dry-run", action="store_true", help="only show what would move")
    migrate.set_defaults(secret_action=_migrate)


def run(args: argparse.Namespace, paths: Paths) -> int:
    """Raises a UserError (a config with errors, no keyring to use, …) for the command
    line to report."""
    result: int = args.secret_action(args, paths)
    return result


# ----- the actions


def _set(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.endpoint.secret_changes import store_secret
    from app.core.secrets import refusal, secret_names

    config = _server_config(paths, args.server)
    _check_name(args.name)
    value = _read_value(args.server, args.name)
    reason = refusal(value)  # the store refuses it too, but cannot say which secret it was
    if reason is not None:
        raise CommandError(f"{args.name} was not stored. {reason}")

    def stored() -> None:
        print(f"Stored {args.name} for {args.server} in the keyring.")
        if args.name not in secret_names(config.servers[args.server]):
            print(
                f'Note: {args.server} does not use it yet; add "{args.name}": '
                f'"${{secret:{args.name}}}" to its "env" in the config.',
                file=sys.stderr,
            )

    store = _store(paths)
    _tell_hub(
        paths,
        args.server,
        lambda: store_secret(
            store, paths.socket_path, args.server, args.name, value, stored=stored
        ),
        waiting="still",
    )
    return EXIT_OK


def _rm(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.endpoint.secret_changes import secrets_changed

    configured = _configured_servers(paths)
    if not _store(paths).delete(args.server, args.name):
        raise CommandError(f"no secret {args.name} is stored for {args.server}")
    print(f"Deleted {args.name} of {args.server} from the keyring.")
    if configured is None or args.server in configured:  # else no hub runs it
        _tell_hub(
            paths,
            args.server,
            lambda: secrets_changed(paths.socket_path, args.server, [args.name]),
            waiting="now",
        )
    return EXIT_OK


def _list(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.config import load_config
    from app.core.secrets import secret_names

    config = load_config(paths.config_file)
    store = _store(paths)
    if args.server in config.servers:
        _list_server(store, args.server, secret_names(config.servers[args.server]))
    elif args.server is not None:
        if not store.names(args.server):
            known = ", ".join(sorted(config.servers)) or "none"
            raise CommandError(
                f"no server named {args.server!r} in the config, and no secrets kept for it "
                f"(configured: {known})"
            )
        print(
            f"{args.server} is no longer in the config (renamed or removed); "
            "its secrets are still in the keyring:"
        )
        _list_names(store, args.server, store.names(args.server), None, indent="  ")
        print(f"Remove them with `mcp-tray secret rm {args.server} NAME`.")
    else:
        _list_all(store, config)
    return EXIT_OK


def _list_all(store: SecretStore, config: Config) -> None:
    from app.core.secrets import secret_names

    for server, entry in sorted(config.servers.items()):
        used = secret_names(entry)
        names = sorted({*used, *store.names(server)})
        print(f"{server}:" if names else f"{server}: no secrets")
        _list_names(store, server, names, used, indent="  ")
    gone = [server for server in store.servers() if server not in config.servers]
    if not gone:
        return
    print("No longer in the config (renamed or removed), still in the keyring:")
    for server in gone:
        print(f"{server}:")
        _list_names(store, server, store.names(server), None, indent="  ")
    example = f"mcp-tray secret rm {gone[0]} {store.names(gone[0])[0]}"
    print(f"Remove them with `mcp-tray secret rm SERVER NAME`, for example `{example}`.")


def _list_server(store: SecretStore, server: str, used: list[str]) -> None:
    names = sorted({*used, *store.names(server)})
    if not names:
        print(f"{server} has no secrets.")
    _list_names(store, server, names, used, indent="")


def _list_names(
    store: SecretStore, server: str, names: list[str], used: list[str] | None, *, indent: str
) -> None:
    """One line per name: whether the keyring holds it, and (``used`` given) whether
    the config uses it."""
    width = max((len(name) for name in names), default=0)
    for name in names:
        stored = "stored" if store.get(server, name) is not None else "missing"
        note = "  (the config does not use it)" if used is not None and name not in used else ""
        print(f"{indent}{name:<{width}}  {stored}{note}")


def _migrate(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.config import parse_config
    from app.core.errors import NotKept
    from app.core.secrets.migrate import migrate, plan_migration, unmaskable

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
    try:
        backup = migrate(paths.config_file, text, moves, _store(paths))
    except NotKept as error:
        raise CommandError(f"{error}; the config is unchanged") from None
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


def _configured_servers(paths: Paths) -> set[str] | None:
    """The servers in the config; None when it cannot be read (the hub keeps its last
    good one)."""
    from app.core.config import ConfigError, load_config

    try:
        return set(load_config(paths.config_file).servers)
    except ConfigError:
        return None


def _server_config(paths: Paths, server: str) -> Config:
    from app.core.config import load_config

    config = load_config(paths.config_file)
    if server not in config.servers:
        known = ", ".join(sorted(config.servers)) or "none"
        raise CommandError(f"no server named {server!r} in the config (configured: {known})")
    return config


def _check_name(name: str) -> None:
    from app.core.secrets import SECRET_NAME_PATTERN

    if not SECRET_NAME_PATTERN.fullmatch(name):
        raise CommandError(
            f'{name!r} cannot be a secret name: start it with a letter or "_", then use '
            'letters, digits, "_", "." or "-"'
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
        raise CommandError("the value is empty; nothing was stored")
    return value


def _tell_hub(paths: Paths, server: str, tell: Callable[[], list[str]], *, waiting: str) -> None:
    """``tell`` the running hub, which starts or restarts what uses the secret; none
    running is fine.

    Then say how each of the server's processes fares, from the hub's status:
    ``waiting`` ("still", "now") introduces what one that waits for a secret needs.
    """
    from app.core.endpoint import client
    from app.core.errors import HubNotTold

    try:
        acted = tell()
    except HubNotTold as not_told:
        if not isinstance(not_told.cause, client.HubNotRunning):
            print(f"Note: MCP Tray could not act on it now: {not_told}", file=sys.stderr)
        return
    try:
        rows = client.call(paths.socket_path, "status")
    except client.HubNotRunning:
        return
    except (client.HubRefused, OSError) as error:
        print(f"Note: MCP Tray could not act on it now: {error}", file=sys.stderr)
        return
    for row in rows:
        instance = str(row.get("name"))
        if instance.partition("#")[0] != server:
            continue
        if instance in acted:
            state = "is running" if row.get("state") == "running" else "is starting"
            print(f"{instance} {state} with its secrets.")
        elif row.get("state") == "needs-secret":
            print(f"{instance} {waiting} {row.get('last_error')}.")
