"""Adding, changing and removing a server: what the Add dialog and ``mcp-tray add|remove`` share.

:func:`check` says, in words, what stops a draft (app.core.config.draft) from
being saved. :func:`add` saves one, new or in place of an existing server;
:func:`remove` takes one out; :func:`draft_of` fills the form from a server
already in the config, for Edit.

Nothing is left half-written. A draft's secrets are stored in the keyring and
read back (``secret migrate``'s :func:`~app.core.secrets.migrate.keep`)
before config.json changes; when that or the write fails, the keyring is put
back as it was. The config is edited in place (atomic, with a backup), member
by member, so the user's formatting and other servers stay as they are. A
running hub is told last: its reload starts an added server, restarts an
edited one and stops a removed one.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from app.core import shellenv
from app.core.config import (
    SERVER_NAME_PATTERN,
    SERVER_NAME_RULE,
    Config,
    ServerConfig,
    ensure_config,
    parse_config,
    write_config_text,
)
from app.core.config.draft import ServerDraft, Variable
from app.core.endpoint import client
from app.core.endpoint.secret_changes import secrets_changed
from app.core.errors import HubNotTold, UserError
from app.core.installation import demo_command
from app.core.jsontext.jsonc import Document
from app.core.paths import Paths
from app.core.secrets import SecretStore, refusal, secret_names
from app.core.secrets.migrate import Move, keep
from app.core.signin.tokens import forget_sign_in
from app.core.supervise.programs import MissingProgram, is_path, path_missing
from app.hosts import linking
from app.hosts.importing import our_config
from app.hosts.linking import without_member

# Applying a change stops what it replaces or removes (each gets its grace
# period); starting is not waited for.
RELOAD_WAIT_S = 60.0
# The keys of an entry the form edits; Edit keeps every other one (restart, disabled …).
FORM_KEYS = frozenset({"command", "args", "env", "cwd", "watch", "shared", "type"})


class ServerNotSaved(UserError):
    """The server cannot be added, changed or removed as asked; nothing was changed."""


@dataclass(frozen=True)
class HubTold:
    """What the running MCP Tray made of the change."""

    running: bool  # False: none runs; the change applies when it starts
    changed: tuple[str, ...] = ()  # the servers it started, restarted or stopped
    problem: str = ""  # why it could not act on it now, in its words


@dataclass(frozen=True)
class Saved:
    name: str
    backup: Path | None  # the config as it was
    secrets: tuple[str, ...]  # stored in the keyring
    hub: HubTold
    # The connected apps it was added to (a new or renamed server), as in Removed:
    apps: tuple[tuple[str, Path], ...] = ()
    apps_trouble: tuple[str, ...] = ()


@dataclass(frozen=True)
class Removed:
    name: str
    backup: Path | None
    hub: HubTold
    secrets_deleted: tuple[str, ...] = ()
    secrets_kept: tuple[str, ...] = ()
    secrets_problem: str = ""  # why the keyring kept them although asked to delete them
    bundle_deleted: Path | None = None  # the bundle's folder it ran from, deleted with it
    # The apps whose files reached it through MCP Tray, its entry taken out of them:
    apps: tuple[tuple[str, Path], ...] = ()  # (the app's title, its file)
    apps_trouble: tuple[str, ...] = ()  # a sentence for each app file that still names it


# ----- checking


def check(
    draft: ServerDraft, config: Config, *, path_for_lookup: str, replacing: str | None = None
) -> list[str]:
    """What stops ``draft`` from being saved into ``config``, one sentence each; none: it can be.

    ``path_for_lookup``: the PATH the server will get (:func:`server_path`), where its
    program must be found. ``replacing``: the server being edited, whose name it may keep.
    """
    problems = _fit_problems(draft, config, replacing)
    if draft.remote_url:
        return problems
    if not draft.command.strip():  # already said; there is no program to look for
        return problems + _secret_problems(draft)
    problem = _program_problem(draft, path_for_lookup)
    return problems + ([problem] if problem else []) + _secret_problems(draft)


def server_path(draft: ServerDraft, environ: Mapping[str, str]) -> str:
    """The PATH the server's program is looked up on, the one the hub starts it with
    (app.core.shellenv): its own PATH variable, if it sets one in plain words, or else
    the login shell's with the runtime folders, found from ``environ`` (MCP Tray's own).

    The first call may take a few seconds (it asks the login shell); later ones do not.
    """
    own = next(
        (
            variable.value
            for variable in draft.variables
            if variable.name == "PATH" and not variable.secret and "${" not in variable.value
        ),
        None,
    )
    return shellenv.server_path(environ, own)


def _fit_problems(draft: ServerDraft, config: Config, replacing: str | None) -> list[str]:
    """What no save can get past: the name, a remote server, an entry config.json refuses."""
    problems = []
    if not draft.name:
        problems.append("Give the server a name.")
    elif not SERVER_NAME_PATTERN.fullmatch(draft.name):
        problems.append(f"{draft.name!r} cannot be a server's name: use {SERVER_NAME_RULE}.")
    elif draft.name in config.servers and draft.name != replacing:
        problems.append(
            f"MCP Tray already has a server named {draft.name}; choose another name, "
            "or change that server instead."
        )
    if draft.remote_url:
        problems.append(
            f"{draft.name or 'This server'} runs on the internet ({draft.remote_url}). This "
            "window cannot add such a server yet: put its entry in MCP Tray's config file "
            "(Open config), and MCP Tray connects to it."
        )
    elif not draft.command.strip():
        problems.append("Say which program starts the server.")
    else:
        problems += _entry_problems(draft)
    return problems


def _entry_problems(draft: ServerDraft) -> list[str]:
    """What config.json would refuse in the entry, said of the form's fields."""
    try:
        ServerConfig.model_validate(draft.config_entry())
    except ValidationError as error:
        return [_entry_problem(problem) for problem in error.errors()]
    return []


# A literal "${" is written "$${" (app.core.config.placeholders).
_DOLLAR_AS_IT_IS = "To use a $ sign as it is, write $$."


def _entry_problem(problem: ErrorDetails) -> str:
    where = _field(problem["loc"])
    sentence = f"{where}: {problem['msg']}." if where else f"{problem['msg']}."
    if problem["type"] == "placeholder" and "$${" not in problem["msg"]:
        sentence += f" {_DOLLAR_AS_IT_IS}"
    return sentence[:1].upper() + sentence[1:]


def _field(loc: tuple[int | str, ...]) -> str | None:
    """The form's words for where in the entry a problem is: ("args", 1) is "The 2nd
    argument"; None for the entry as a whole."""
    match loc:
        case ("command", *_):
            return "The program"
        case ("args", int(index), *_):
            return f"The {_ordinal(index + 1)} argument"
        case ("env", str(name), *_):
            return f"The setting {name}"
        case ("cwd", *_):
            return "The folder"
        case ():
            return None
    return "The setting " + ".".join(map(str, loc))


def _ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th … 11th, 12th, 13th … 21st."""
    suffix = (
        "th" if 11 <= number % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"{number}{suffix}"


def _program_problem(draft: ServerDraft, path: str) -> str | None:
    command = os.path.expanduser(draft.command)
    if "${" in command:
        return None  # filled in when it starts
    if is_path(command):
        return _file_problem(draft, command)
    if shutil.which(command, path=path) is not None:
        return None
    missing = MissingProgram(draft.command)
    if missing.source is None:
        return (
            f"{draft.command} cannot be found on this computer; install it, or give its full path."
        )
    return (
        f"{draft.command} cannot be found on this computer: it comes with "
        f"{missing.source.product}. {missing.get_it()}, or give the program's full path."
    )


def _file_problem(draft: ServerDraft, command: str) -> str | None:
    """A program given as a path: a mistake in the form, or a server not built yet, when
    it is not there; never something to install."""
    folder = None if os.path.isabs(command) else os.path.expanduser(draft.cwd or os.getcwd())
    file = Path(command if folder is None else os.path.join(folder, command))
    if not file.exists():
        words = path_missing(draft.command, folder)
        return f"{words[:1].upper()}{words[1:]}."
    if not os.access(file, os.X_OK) or file.is_dir():
        return (
            f"{draft.command} is not a program this computer can run: start it with the "
            "program that runs it (node, python …), or make it executable."
        )
    return None


def _secret_problems(draft: ServerDraft) -> list[str]:
    problems = []
    for variable in draft.variables:
        if variable.required and not variable.value:
            problems.append(f"{variable.name} needs a value: the server cannot run without it.")
        elif variable.secret and variable.value and (reason := refusal(variable.value)):
            problems.append(f"{variable.name} cannot be kept as a secret. {reason}")
    return problems


# ----- adding and changing


def add(
    paths: Paths, draft: ServerDraft, store: SecretStore, *, replace: str | None = None
) -> Saved:
    """Save ``draft`` into the config, its secrets into the keyring, and tell the hub.

    ``replace``: the server this draft edits (it may be renamed); its settings
    the form does not show are kept, and a secret left empty keeps its stored
    value. Raises ServerNotSaved (and the keyring's errors) with nothing changed.
    """
    ensure_config(paths.config_file, demo=demo_command())
    text, config = our_config(paths)
    if replace is not None and replace not in config.servers:
        raise ServerNotSaved(_unknown(replace, config))
    problems = _fit_problems(draft, config, replace)
    if problems:
        raise ServerNotSaved(f"{draft.name or 'The server'} was not saved: {problems[0]}")
    new_text = _with_entry(text, draft, replace)
    parse_config(new_text, path=paths.config_file)  # what is written must load
    values = _secret_values(draft, store, replace)
    before = _store_secrets(store, draft.name, values)
    try:
        backup = write_config_text(paths.config_file, new_text)
    except BaseException:
        _put_back(store, draft.name, before)
        raise
    if replace not in (None, draft.name):
        _forget(store, replace, list(values))  # the renamed server took them
    hub = reload_hub(paths)
    if replace == draft.name and values and hub.running and draft.name not in hub.changed:
        hub = _secrets_changed(paths, draft.name, list(values), hub)
    if replace == draft.name:
        return Saved(draft.name, backup, tuple(values), hub)
    given = _given_to_apps(paths, draft.name, store, renamed_from=replace)
    apps = tuple((host.title, path) for host, path in given.changed)
    return Saved(draft.name, backup, tuple(values), hub, apps, tuple(given.trouble))


def _given_to_apps(
    paths: Paths, name: str, store: SecretStore, *, renamed_from: str | None
) -> linking.AppsChanged:
    """The connected apps get the server saved as ``name``, and lose it under the name it
    was renamed from, where it would only fail now. The server is saved by then: trouble
    here is said, never raised. Given first, so that an app whose only entry from MCP Tray
    was the old name stays connected."""
    try:
        given = linking.give_to_connected(paths, name, store)
        if renamed_from is not None:
            taken = linking.take_out(paths, renamed_from)
            given = linking.AppsChanged(given.changed, given.trouble + taken.trouble)
    except (UserError, OSError) as error:
        return linking.AppsChanged(
            [], [f"the apps connected to MCP Tray were not changed: {error}"]
        )
    return given


def _with_entry(text: str, draft: ServerDraft, replace: str | None) -> str:
    document = Document.parse(text)
    entry = draft.config_entry()
    if replace is not None:
        entry = _merged(document.data["mcpServers"][replace], entry, draft)
        if replace == draft.name:
            return document.replace(("mcpServers", replace), entry)
        document = Document.parse(without_member(document, ("mcpServers", replace)))
    if "mcpServers" not in document.data:
        document = Document.parse(document.insert((), "mcpServers", {}))
    return document.insert(("mcpServers",), draft.name, entry)


def _merged(old: dict[str, Any], entry: dict[str, Any], draft: ServerDraft) -> dict[str, Any]:
    """``entry`` with the settings of ``old`` the form does not show; a watch given as
    globs or options stays as written while the form says watch."""
    kept = {key: value for key, value in old.items() if key not in FORM_KEYS}
    if draft.watch and not isinstance(old.get("watch", False), bool):
        kept["watch"] = old["watch"]
    return {**entry, **kept}


def _secret_values(draft: ServerDraft, store: SecretStore, replace: str | None) -> dict[str, str]:
    """The values to store: those typed, and for a renamed server, the stored ones kept."""
    values = {name: value for name, value in draft.secrets.items() if value}
    if replace not in (None, draft.name):
        for name in draft.secrets.keys() - values.keys():
            stored = store.get(replace, name)
            if stored is not None:
                values[name] = stored
    return values


def _store_secrets(
    store: SecretStore, server: str, values: dict[str, str]
) -> dict[str, str | None]:
    """Store and read back each value; what the keyring held before, to put back."""
    before = {name: store.get(server, name) for name in values}
    moves = [
        Move(server, name, value, ("mcpServers", server, "env", name), f"${{secret:{name}}}")
        for name, value in values.items()
    ]
    try:
        keep(store, moves)
    except BaseException:
        _put_back(store, server, before)
        raise
    return before


def _put_back(store: SecretStore, server: str, before: dict[str, str | None]) -> None:
    for name, value in before.items():
        if value is None:
            store.delete(server, name)
        else:
            store.set(server, name, value)


def _forget(store: SecretStore, server: str, names: list[str]) -> None:
    for name in names:
        store.delete(server, name)


# ----- removing


def remove(paths: Paths, name: str, store: SecretStore, *, delete_secrets: bool) -> Removed:
    """Take ``name`` out of the config, let the hub stop it, and (``delete_secrets``) delete
    its secrets from the keyring.

    A server's secrets are its own (the keyring keeps them under its name), so
    no other server uses them. The config changes first: a keyring that then
    fails leaves them stored, and :attr:`Removed.secrets_problem` says why.

    Each app connect pointed at it (app.hosts.linking) loses its entry for it,
    which would only fail now.

    A server added from a bundle ran from the bundle's folder under the data
    folder, which MCP Tray made for it: that goes too (unless another server
    runs from it) once the config no longer names it.
    """
    text, config = our_config(paths)
    if name not in config.servers:
        raise ServerNotSaved(_unknown(name, config))
    new_text = without_member(Document.parse(text), ("mcpServers", name))
    remaining = parse_config(new_text, path=paths.config_file)
    backup = write_config_text(paths.config_file, new_text)
    taken = linking.take_out(paths, name)
    hub = reload_hub(paths)
    removed = Removed(
        name,
        backup,
        hub,
        bundle_deleted=_delete_bundle(paths, config.servers[name].cwd, remaining),
        apps=tuple((host.title, path) for host, path in taken.changed),
        apps_trouble=tuple(taken.trouble),
    )
    names = sorted({*secret_names(config.servers[name]), *store.names(name)})
    if not delete_secrets:
        return dataclasses.replace(removed, secrets_kept=tuple(names))
    deleted: list[str] = []
    try:
        for secret in names:
            if store.delete(name, secret):
                deleted.append(secret)
        if config.servers[name].remote:
            forget_sign_in(store, name)  # its tokens go with its secrets
    except UserError as error:  # KeyringUnavailable, in its own words
        kept = tuple(secret for secret in names if secret not in deleted)
        return dataclasses.replace(
            removed, secrets_deleted=tuple(deleted), secrets_kept=kept, secrets_problem=str(error)
        )
    return dataclasses.replace(removed, secrets_deleted=tuple(deleted))


def _delete_bundle(paths: Paths, cwd: str | None, remaining: Config) -> Path | None:
    """Delete the bundle folder a removed server ran from; that folder, if it is gone now."""
    from app.hosts import mcpb  # which imports this module

    if not cwd or not Path(cwd).is_dir():
        return None
    mcpb.discard(ServerDraft(cwd=cwd), paths.data_dir, remaining)
    return None if Path(cwd).exists() else Path(cwd)


def _unknown(name: str, config: Config) -> str:
    known = ", ".join(sorted(config.servers)) or "none"
    return f"MCP Tray has no server named {name!r} (its servers: {known})."


# ----- editing


def draft_of(server: ServerConfig, name: str) -> ServerDraft:
    """The form for ``name``'s entry ``server``: a variable that is ``${secret:ITSELF}`` is a
    secret whose stored value stays unless the user types another."""
    variables = [
        Variable(key, "", secret=True) if value == f"${{secret:{key}}}" else Variable(key, value)
        for key, value in server.env.items()
    ]
    return ServerDraft(
        name=name,
        command=server.command,
        args=list(server.args),
        cwd=server.cwd or "",
        variables=variables,
        watch=server.watch is not False,
        shared=server.shared,
    )


# ----- telling the hub


def reload_hub(paths: Paths) -> HubTold:
    """Ask the running hub to apply the config file as it now is."""
    try:
        changed = client.call(paths.socket_path, "reload", timeout=RELOAD_WAIT_S)
    except client.HubNotRunning:
        return HubTold(running=False)
    except (client.HubRefused, OSError) as error:
        return HubTold(running=True, problem=str(error))
    return HubTold(running=True, changed=tuple(changed))


def _secrets_changed(paths: Paths, server: str, names: list[str], hub: HubTold) -> HubTold:
    """An entry unchanged by an edit is not restarted by reload; new secrets restart it."""
    try:
        acted = secrets_changed(paths.socket_path, server, names)
    except HubNotTold as error:
        return HubTold(running=True, changed=hub.changed, problem=str(error))
    return HubTold(running=True, changed=(*hub.changed, *acted))
