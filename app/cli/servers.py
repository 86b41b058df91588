"""``mcp-tray add|remove|catalog``: adding and removing servers without editing JSON.

``add`` takes a server from a command line (``add NAME -- COMMAND ARGS…``),
from a README's snippet on standard input (``--paste``), from the
catalog (``--catalog ID``), or from an ``.mcpb`` bundle (``--bundle FILE``,
unpacked by app.hosts.mcpb, which asks for the values its manifest
requires); app.hosts.servers checks and saves it, the same code the Add
dialog uses. Each says what it wrote, then waits a bounded time
for the running hub to say whether the server started. Secrets (``--secret
NAME``) are read without echo from a terminal, or from standard input when
piped, and go to the keyring only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from app.core.errors import EXIT_FIXABLE, EXIT_OK, CommandError, UserError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from app.core.config.draft import ServerDraft
    from app.core.paths import Paths
    from app.core.secrets import SecretStore
    from app.hosts.servers import Removed, Saved

# A first npx or uvx run downloads the package before the server answers.
START_WAIT_S = 120.0
STATUS_POLL_S = 0.2  # the hub's status is asked again this often while it starts
# After a token given with --env, which the shell's history keeps.
SECRET_HINT = "Next time, use --secret NAME: it asks for the value without showing it."
# States in which a server added a moment ago will not get further by itself.
SETTLED = frozenset(
    {
        "running",
        "backoff",
        "crash-loop",
        "needs-secret",
        "needs-program",
        "needs-sign-in",
        "disabled",
        "stopped",
    }
)


def add_parsers(commands: Any) -> None:
    add = commands.add_parser(
        "add",
        help="add a server: NAME -- COMMAND ARGS, --paste (a README's snippet), --catalog ID "
        "or --bundle FILE.mcpb",
        parents=[_add_options(argparse.ArgumentParser(add_help=False))],
    )
    add.add_argument("name", metavar="NAME", nargs="?")
    add.add_argument("command", metavar="-- COMMAND ARGS", nargs=argparse.REMAINDER)
    add.set_defaults(servers_action=_add)
    remove = commands.add_parser("remove", help="stop a server and take it out of the config")
    remove.add_argument("name", metavar="NAME")
    remove.add_argument(
        "--keep-secrets", action="store_true", help="leave its secrets in the keyring"
    )
    remove.add_argument("-y", "--yes", action="store_true", help="do not ask first")
    remove.set_defaults(servers_action=_remove)
    catalog = commands.add_parser("catalog", help="well-known servers, to add with --catalog ID")
    catalog.add_argument("search", metavar="SEARCH", nargs="?", default="")
    catalog.set_defaults(servers_action=_catalog)


def _add_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="K=V",
        help="a variable (for a token, use --secret: it is not shown)",
    )
    parser.add_argument(
        "--secret", action="append", default=[], metavar="K", help="a variable for the keyring"
    )
    parser.add_argument("--watch", action="store_true", help="restart when its files change")
    parser.add_argument("--cwd", metavar="DIR", help="the folder it runs in")
    parser.add_argument("--paste", action="store_true", help="read a snippet on standard input")
    parser.add_argument("--catalog", metavar="ID", help="add this catalog entry")
    parser.add_argument("--bundle", metavar="FILE", help="add this .mcpb (or .dxt) bundle")
    parser.add_argument("--name", dest="new_name", metavar="NAME", help="name it so")
    return parser


def run(args: argparse.Namespace, paths: Paths) -> int:
    """Raises a UserError (bad input, a config with errors, no keyring) with nothing changed."""
    result: int = args.servers_action(args, paths)
    return result


# ----- add


def _add(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.config import ensure_config
    from app.core.installation import demo_command
    from app.core.secrets import SecretStore
    from app.hosts import servers
    from app.hosts.importing import our_config

    _split_options(args)
    drafts = _drafts(args, paths)
    try:
        _refuse_same_names(drafts)  # before any secret is asked for
        for draft in drafts:
            _apply_options(draft, args)
        ensure_config(paths.config_file, demo=demo_command())
        _, config = our_config(paths)
        for draft in drafts:
            lookup = servers.server_path(draft, os.environ)
            problems = servers.check(draft, config, path_for_lookup=lookup)
            if problems:
                raise CommandError(f"{draft.name or 'the server'} was not added: {problems[0]}")
        saved = _save_all(args, drafts, paths, SecretStore(paths.secret_index))
    except BaseException:
        if args.bundle:
            _discard_bundle(drafts[0], paths)
        raise
    started = _say_started(paths, saved)
    return EXIT_OK if started and len(saved) == len(drafts) else EXIT_FIXABLE


def _refuse_same_names(drafts: list[ServerDraft]) -> None:
    """Two servers of one snippet with one name: the second would fail after the first is
    saved, so neither is."""
    seen: set[str] = set()
    for draft in drafts:
        if draft.name in seen:
            raise CommandError(
                f"the snippet holds more than one server named {draft.name}; nothing was "
                "added. Rename one in the snippet, or paste them one at a time"
            )
        seen.add(draft.name)


def _save_all(
    args: argparse.Namespace, drafts: list[ServerDraft], paths: Paths, store: SecretStore
) -> list[ServerDraft]:
    """Save each draft, the hub told after each (app.hosts.servers.add); those saved.

    One that cannot be saved does not stop the rest; when none can, its error is raised
    (nothing was changed), else the user is told which were not added.
    """
    from app.hosts import servers

    saved: list[ServerDraft] = []
    refused: list[str] = []
    for draft in drafts:
        try:
            with _bundle_placed(args, draft, paths):
                _say_saved(servers.add(paths, draft, store), paths)
        except (UserError, OSError) as error:
            if len(drafts) == 1:
                raise
            refused.append(f"{draft.name} was not added: {error}")
        else:
            saved.append(draft)
    if refused and not saved:
        raise CommandError("nothing was added: " + "; ".join(refused))
    if refused:
        print(f"Added {len(saved)} of {len(drafts)}; " + "; ".join(refused), file=sys.stderr)
    return saved


def _bundle_placed(
    args: argparse.Namespace, draft: ServerDraft, paths: Paths
) -> AbstractContextManager[None]:
    """Around the save of a bundle: its new files take the place of an older unpack."""
    import contextlib

    from app.hosts import mcpb

    return mcpb.placed(draft, paths.data_dir) if args.bundle else contextlib.nullcontext()


def _discard_bundle(draft: ServerDraft, paths: Paths) -> None:
    """A bundle that was not added leaves no unpacked files behind."""
    from app.core.config import ConfigError
    from app.hosts import mcpb
    from app.hosts.importing import our_config

    try:
        _, config = our_config(paths)
    except (ConfigError, OSError):  # no config to consult: keep the files, to be safe
        return
    mcpb.discard(draft, paths.data_dir, config)


def _split_options(args: argparse.Namespace) -> None:
    """Options written after NAME (``add NAME --env K=V -- COMMAND``) are the command's
    words for argparse; here they become options again, and the command what follows ``--``."""
    words: list[str] = args.command
    if "--" not in words:
        return
    cut = words.index("--")
    args.command = words[cut + 1 :]
    more = _add_options(argparse.ArgumentParser(prog="mcp-tray add", add_help=False))
    for key, value in vars(more.parse_args(words[:cut])).items():
        if isinstance(value, list):
            getattr(args, key).extend(value)
        elif value not in (None, False):
            setattr(args, key, value)


def _drafts(args: argparse.Namespace, paths: Paths) -> list[ServerDraft]:
    from app.hosts.paste import drafts_from_text

    ways = [bool(args.paste), bool(args.catalog), bool(args.bundle), bool(args.command)]
    if sum(ways) != 1 or (args.command and not args.name):
        raise CommandError(
            "say what to add: NAME -- COMMAND ARGS, --paste (with the snippet on standard "
            "input), --catalog ID, or --bundle FILE.mcpb"
        )
    if args.paste:
        drafts = drafts_from_text(_read_snippet())
    elif args.catalog:
        drafts = [_catalog_draft(args.catalog)]
    elif args.bundle:
        drafts = [_bundle_draft(args.bundle, paths)]
    else:
        drafts = drafts_from_text(" ".join(_quoted(word) for word in args.command))
    name = args.new_name or (args.name if not args.paste else None)
    if name and len(drafts) > 1:
        raise CommandError(
            f"the snippet holds {len(drafts)} servers, so one name cannot be given to it; "
            "leave out the name, or paste one server"
        )
    if name:
        drafts[0].name = name
    return drafts


def _quoted(word: str) -> str:
    import shlex

    return shlex.quote(word)


def _read_snippet() -> str:
    if sys.stdin.isatty():
        print("Paste the server's snippet, then press Ctrl-D:", file=sys.stderr)
    return sys.stdin.read()


def _bundle_draft(file: str, paths: Paths) -> ServerDraft:
    from pathlib import Path

    from app.hosts import mcpb

    return mcpb.draft_from_bundle(Path(file).expanduser(), paths.data_dir)


def _catalog_draft(entry_id: str) -> ServerDraft:
    from app.core import catalog

    return catalog.entry(catalog.bundled(), entry_id).draft()


def _apply_options(draft: ServerDraft, args: argparse.Namespace) -> None:
    """--env, --secret, --watch and --cwd on top of what the draft says."""
    from app.core.config.draft import Variable
    from app.core.secrets.migrate import looks_secret

    exposed = False
    for assignment in args.env:
        key, equals, value = assignment.partition("=")
        if not equals or not key:
            raise CommandError(f"--env {assignment!r} is not KEY=value; nothing was added")
        secret = looks_secret(key, value)  # a token given as --env still goes to the keyring
        exposed |= secret
        _set_variable(draft, Variable(key, value, secret=secret, required=secret))
    if exposed:  # it stays in the shell's history, and was in the process list meanwhile
        print(SECRET_HINT, file=sys.stderr)
    for key in args.secret:
        _set_variable(draft, Variable(key, _read_secret(draft.name, key, args), secret=True))
    if sys.stdin.isatty() or args.bundle:  # a bundle's manifest says what it requires
        for variable in draft.variables:
            if variable.required and not variable.value:
                variable.value = _read_secret(draft.name, variable.name, args)
    if args.bundle:
        _fill_bundle(draft, args)
    draft.watch = draft.watch or args.watch
    draft.cwd = args.cwd or draft.cwd


def _fill_bundle(draft: ServerDraft, args: argparse.Namespace) -> None:
    """Ask for the values a bundle uses in its arguments; leave out the optional secrets
    not given, which the server would otherwise wait for."""
    from app.hosts import mcpb

    for key in mcpb.unfilled(draft):
        mcpb.fill(draft, key, _read_secret(draft.name, key, args))
    mcpb.drop_unset(draft)


def _set_variable(draft: ServerDraft, variable: Any) -> None:
    draft.variables = [v for v in draft.variables if v.name != variable.name] + [variable]


def _read_secret(server: str, name: str, args: argparse.Namespace) -> str:
    import getpass

    if sys.stdin.isatty():
        return getpass.getpass(f"{name} for {server} (not shown): ")
    if args.paste:
        raise CommandError(
            f"{name} cannot be read: standard input holds the snippet; run the command in a "
            "terminal to be asked for it"
        )
    value = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not value:
        raise CommandError(f"{name} is empty on standard input; nothing was added")
    return value


def _say_saved(saved: Saved, paths: Paths) -> None:
    print(f"Added {saved.name} to {paths.config_file}.")
    if saved.secrets:
        print(f"Stored {', '.join(saved.secrets)} for {saved.name} in the keyring.")
    if saved.hub.problem:
        print(f"Note: MCP Tray could not act on it now: {saved.hub.problem}", file=sys.stderr)
    for title, path in saved.apps:
        print(f"Gave {saved.name} to {title} in {path}; restart {title} to load the change.")
    for trouble in saved.apps_trouble:
        print(f"Note: {trouble}", file=sys.stderr)


def _say_started(paths: Paths, drafts: list[ServerDraft]) -> bool:
    """Say how the new servers fare, once all have settled or the wait is over; False
    when one failed. They start together: one wait, not one after another."""
    from app.core.endpoint import client

    if not drafts:
        return False
    names = " and ".join(draft.name for draft in drafts)
    deadline = time.monotonic() + START_WAIT_S
    while True:
        try:
            rows = client.call(paths.socket_path, "status")
        except client.HubNotRunning:
            print(f"MCP Tray is not running; {names} {_verb(drafts, 'starts')} with it.")
            return True
        except (client.HubRefused, OSError) as error:
            print(f"Note: MCP Tray did not say how {names} fare: {error}", file=sys.stderr)
            return True
        by_name: dict[str, dict[str, Any]] = {row.get("name"): row for row in rows}
        found = [by_name.get(draft.name, {}) for draft in drafts]
        settled = all(row.get("state") in SETTLED for row in found)
        if settled or time.monotonic() > deadline:
            return all([_say_state(draft, row) for draft, row in zip(drafts, found, strict=True)])
        time.sleep(STATUS_POLL_S)


def _verb(drafts: list[ServerDraft], singular: str) -> str:
    return singular if len(drafts) == 1 else singular.removesuffix("s")


def _say_state(draft: ServerDraft, row: dict[str, Any]) -> bool:
    name, state = draft.name, row.get("state")
    if state == "running":
        print(f"{name} is running (pid {row.get('pid')}).")
    elif state == "stopped" and not draft.shared:
        print(f"{name} starts for each app that connects to it.")
    elif state in ("disabled", "stopped"):
        print(f"{name} is {state}; `mcp-tray start {name}` starts it.")
    elif state in SETTLED:
        print(f"{name} did not start: {row.get('last_error') or 'see `mcp-tray logs ' + name}`")
        return False
    else:
        print(f"{name} is still starting; `mcp-tray status` says how it fares.")
    return True


# ----- remove


def _remove(args: argparse.Namespace, paths: Paths) -> int:
    from app.core.secrets import SecretStore
    from app.hosts import servers
    from app.hosts.importing import our_config

    _, config = our_config(paths)
    if args.name not in config.servers:
        known = ", ".join(sorted(config.servers)) or "none"
        raise CommandError(f"MCP Tray has no server named {args.name!r} (its servers: {known})")
    if sys.stdin.isatty() and not args.yes and not _confirmed(args, paths):
        print("Nothing was changed.")
        return EXIT_OK
    store = SecretStore(paths.secret_index)
    _say_removed(servers.remove(paths, args.name, store, delete_secrets=not args.keep_secrets))
    return EXIT_OK


def _confirmed(args: argparse.Namespace, paths: Paths) -> bool:
    from app.hosts.linking import apps_reaching

    secrets = "" if args.keep_secrets else " and delete its secrets from the keyring"
    apps = sorted({host.title for host, _ in apps_reaching(paths, args.name)})
    if apps:
        use = "uses" if len(apps) == 1 else "use"
        print(f"{' and '.join(apps)} {use} it; MCP Tray takes it out of their settings too.")
    answer = input(f"Stop {args.name}, remove it from MCP Tray{secrets}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _say_removed(removed: Removed) -> None:
    name = removed.name
    print(f"Removed {name} from the config.")
    if removed.hub.problem:
        print(f"Note: MCP Tray could not act on it now: {removed.hub.problem}", file=sys.stderr)
    elif removed.hub.running:
        print(f"MCP Tray stopped {name}.")
    if removed.secrets_deleted:
        print(f"Deleted {', '.join(removed.secrets_deleted)} of {name} from the keyring.")
    if removed.secrets_problem:
        print(f"Note: the keyring kept them: {removed.secrets_problem}", file=sys.stderr)
    if removed.secrets_kept:
        kept = ", ".join(removed.secrets_kept)
        print(f"{kept} stay in the keyring; `mcp-tray secret rm {name} NAME` deletes one.")
    for title, path in removed.apps:
        print(f"Took {name} out of {title}'s {path}; restart {title} to load the change.")
    for trouble in removed.apps_trouble:
        print(f"Note: {trouble}", file=sys.stderr)


# ----- catalog


def _catalog(args: argparse.Namespace, paths: Paths) -> int:
    from app.core import catalog

    entries = catalog.search(catalog.bundled(), args.search)
    if not entries:
        raise CommandError(f"no catalog entry matches {args.search!r}")
    table = [("ID", "TITLE", "RUNS WITH", "NEEDS")]
    for entry in entries:
        draft = entry.draft()
        needs = ", ".join(
            f"{v.name} (secret)" if v.secret else v.name for v in draft.variables if v.required
        )
        table.append((entry.id, entry.title, entry.runs_with, needs or "-"))
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for row in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  "
            + row[3]
        )
    print("Add one with `mcp-tray add --catalog ID`.")
    return EXIT_OK
