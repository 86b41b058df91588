"""``mcp-tray import|connect|disconnect HOST``: bring an app's servers into MCP Tray.

``import`` copies an app's stdio servers into MCP Tray's config;
``connect`` then points the app at them through ``mcp-tray attach``, and
``disconnect`` undoes that (app.hosts.linking).

Nothing is overwritten: a name MCP Tray already has is reported, not
replaced. Tokens the app's config holds in plain text go to the keyring
(the rules of ``secret migrate``), so they never reach MCP Tray's config.
MCP Tray's config is edited in place (atomic, with a backup), member by
member, so its formatting stays as it was.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.core.paths import Paths
    from app.core.secrets.migrate import Move

EXIT_OK = 0


class HostCommandError(Exception):
    """A failure to report in one readable message, with exit code 1."""


def add_parsers(commands: Any) -> None:
    from app.hosts.names import HOST_NAMES

    names = ", ".join(HOST_NAMES)
    for verb, text in (
        ("import", f"copy an app's servers into MCP Tray ({names})"),
        ("connect", "make an app reach its servers through MCP Tray"),
        ("disconnect", "undo connect: the app starts its servers itself again"),
    ):
        command = commands.add_parser(verb, help=text)
        command.add_argument("host", metavar="HOST", help=names)
        command.add_argument("--path", type=Path, help="the app's config file, if not the usual")
        if verb == "import":
            command.add_argument("--dry-run", action="store_true", help="only show the plan")
        command.set_defaults(host_verb=verb)


def run(args: argparse.Namespace, paths: Paths) -> int:
    if args.host_verb == "import":
        return run_import(args, paths)
    return run_link(args, paths)


def run_link(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.config import ConfigError, load_config
    from app.hosts.jsonc import JsoncError
    from app.hosts.linking import Connections

    host, path = _host_and_path(args)
    _read_host_config(path)  # a readable, valid file, or a clear error
    connections = Connections(paths.state_dir / "connections")
    try:
        if args.host_verb == "connect":
            ours = set(load_config(paths.config_file).servers)
            outcome = connections.connect(host, path, ours)
        else:
            outcome = connections.disconnect(host, path)
    except ConfigError as error:
        raise HostCommandError(f"MCP Tray's config has errors; fix them first.\n{error}") from None
    except (OSError, JsoncError) as error:
        raise HostCommandError(f"cannot change {path}: {error}; it was left as it is") from None
    for line in outcome.untouched:
        print(f"  {line}")
    print(outcome.message)
    return EXIT_OK


class _Plan:
    def __init__(self) -> None:
        self.added: dict[str, dict[str, Any]] = {}
        self.moves: list[Move] = []
        self.lines: list[str] = []  # one per host entry, for the user


def run_import(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.config import ConfigError, ensure_config, parse_config, write_config_text
    from app.core.secrets import KeyringUnavailable, SecretStore
    from app.hosts.jsonc import Document

    host, source = _host_and_path(args)
    document = _read_host_config(source)
    ensure_config(paths.config_file, python=sys.executable)
    ours = paths.config_file.read_text(encoding="utf-8")
    try:
        current = parse_config(ours, path=paths.config_file)
    except ConfigError as error:
        raise HostCommandError(f"MCP Tray's config has errors; fix them first.\n{error}") from None
    plan = _plan(host, source, document, set(current.servers), current)
    print(f"{host.title} ({source}):")
    print("\n".join(f"  {line}" for line in plan.lines) or "  no servers")
    if args.dry_run or not plan.added:
        print("Nothing was changed." if args.dry_run else "Nothing to import.")
        return EXIT_OK
    store = SecretStore(paths.secret_index)
    try:
        for move in plan.moves:
            store.set(move.server, move.name, move.value)
    except KeyringUnavailable as error:
        raise HostCommandError(f"{error}; nothing was imported") from None
    text = ours
    if "mcpServers" not in (document := Document.parse(text)).data:
        text = document.insert((), "mcpServers", {})
    for name, entry in plan.added.items():
        text = Document.parse(text).insert(("mcpServers",), name, entry)
    parse_config(text, path=paths.config_file)  # what is written must load
    write_config_text(paths.config_file, text)
    print(f"Imported {len(plan.added)} server(s) into {paths.config_file}.")
    print(f"Next: `mcp-tray connect {host.name}` makes {host.title} use them through MCP Tray.")
    return EXIT_OK


def _host_and_path(args: argparse.Namespace) -> tuple[Any, Path]:
    """The app named on the command line, and its config file (``--path`` or the usual)."""
    from app.hosts.registry import UnknownHost, host_named

    try:
        host = host_named(args.host)
    except UnknownHost as error:
        raise HostCommandError(str(error)) from None
    return host, args.path or host.default_path()


def _read_host_config(path: Path) -> Any:
    from app.hosts.jsonc import Document, JsoncError

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HostCommandError(f"no config at {path}; give its place with --path") from None
    except OSError as error:
        raise HostCommandError(f"cannot read {path}: {error}") from None
    try:
        return Document.parse(text)
    except JsoncError as error:
        raise HostCommandError(
            f"{path} is not valid JSON ({error}); it was left as it is"
        ) from None


def _plan(host: Any, source: Path, document: Any, taken: set[str], current: Any) -> _Plan:
    from pydantic import ValidationError

    from app.core.config import Config, ServerConfig
    from app.core.secrets.migrate import plan_migration
    from app.hosts.importing import host_entries

    plan = _Plan()
    for entry in host_entries(host, source, document):
        notes = "; ".join(entry.notes)
        if entry.config is None:
            plan.lines.append(f"{entry.name}: not imported: {notes}")
            continue
        if entry.name in taken:
            same = current.servers[entry.name].command == entry.config["command"]
            why = "already imported" if same else "MCP Tray has a server of that name; not imported"
            plan.lines.append(f"{entry.name}: {why}")
            continue
        config = dict(entry.config)
        try:
            server = ServerConfig.model_validate(config)
        except ValidationError as error:
            problems = "; ".join(str(e["msg"]) for e in error.errors())
            plan.lines.append(f"{entry.name}: not imported: {problems}")
            continue
        moves = plan_migration(Config(mcpServers={entry.name: server}))
        for move in moves:
            _apply(config, move)
        plan.added[entry.name] = config
        plan.moves += moves
        secrets = ", ".join(move.name for move in moves)
        told = [f"secret(s) {secrets} go to the keyring"] if moves else []
        plan.lines.append(
            f"{entry.name}: imported" + "".join(f"; {n}" for n in [*told, notes] if n)
        )
    return plan


def _apply(config: dict[str, Any], move: Move) -> None:
    """Put the placeholder where the plaintext value was."""
    if move.in_args:
        config["args"][int(move.where[-1])] = move.replacement
    else:
        config["env"][str(move.where[-1])] = move.replacement
