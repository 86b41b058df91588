"""The apps on this computer, what each has configured, and connecting one in one step.

This is what the tray's "Connect an app…" shows: each host whose config
file exists at its usual place, and each file the user pointed it at, with
every server it lists and whether that server already goes through MCP Tray.
:func:`connect_app` is the one click: import the app's servers (the new
ones, remote ones too), then connect it; :func:`disconnect_app` undoes the
connect.

Everything a person reads in that dialog is worded here, without Qt: how
each server runs, what Connect and Disconnect changed, and each failure as
what happened and what to do, in a sentence or two. These words are for the
tray, so they name its buttons (Look again, Choose a file…) and never a
command line; the command line keeps linking's and importing's own messages.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from app.core.config import Config, ConfigError, shown_name
from app.core.jsontext.jsonc import Document, JsoncError
from app.core.paths import Paths
from app.core.secrets import KeyringUnavailable, SecretStore
from app.hosts import importing, linking
from app.hosts.host import Host, HostError, NotAConfigFile, read_config_file
from app.hosts.registry import HOSTS

logger = logging.getLogger(__name__)

# Where a project or profile keeps an app's file, beyond its usual place: how
# "Choose a file…" tells the app from the path alone.
PLACES = {
    "claude-desktop": ("claude_desktop_config.json",),
    "claude-code": (".mcp.json", ".claude.json"),
    "cursor": (".cursor/mcp.json",),
    "vscode": (".vscode/mcp.json", "Code/User/mcp.json"),
    "windsurf": ("windsurf/mcp_config.json",),
    "zed": (".zed/settings.json", "zed/settings.json"),
    "gemini": (".gemini/settings.json",),
}
_SECRET = re.compile(r"\$\{secret:([^}]+)\}")
_UNTRANSLATABLE = re.compile(r"cannot translate (\$\{[^}]*\}): MCP Tray has no equivalent")


class Route(Enum):
    THROUGH_TRAY = "through MCP Tray"
    STARTS_ITSELF = "the app starts it itself"
    REMOTE = "the app connects to a remote server itself"
    UNUSABLE = "cannot go through MCP Tray"


@dataclass(frozen=True)
class AppServer:
    name: str
    route: Route
    why: str = ""  # for UNUSABLE: the reason, in words


@dataclass(frozen=True)
class FoundApp:
    host: Host
    path: Path
    servers: list[AppServer]
    connected: bool  # connect changed this file, and disconnect can undo it
    problem: str = ""  # the file cannot be read; what happened and what to do
    to_give: tuple[str, ...] = ()  # MCP Tray's servers it has none of the same name of

    @property
    def can_connect(self) -> bool:
        its_own = any(s.route in (Route.STARTS_ITSELF, Route.REMOTE) for s in self.servers)
        return not self.problem and (its_own or bool(self.to_give))

    def named(self, route: Route) -> list[str]:
        return [server.name for server in self.servers if server.route is route]

    def describe(self, server: AppServer) -> str:
        """How ``server`` runs now, after its name: "Cursor starts it itself"."""
        title = self.host.title
        return {
            Route.THROUGH_TRAY: "runs in MCP Tray",
            Route.STARTS_ITSELF: f"{title} starts it itself",
            Route.REMOTE: f"a remote server {title} connects to itself",
            Route.UNUSABLE: f"stays with {title}: {server.why}",
        }[server.route]


class Unreadable(HostError):
    """The app's file cannot be read: ``what`` happened, and ``todo``."""

    def __init__(self, what: str, todo: str) -> None:
        super().__init__(f"{what}. {todo}")
        self.what = what
        self.todo = todo


def where(path: Path) -> str:
    """A path as a person recognises it: under the home folder, with "~"."""
    try:
        return str(Path("~") / path.relative_to(Path.home()))
    except ValueError:
        return str(path)


# ----- looking


def survey(
    paths: Paths, hosts: Sequence[Host] | None = None, chosen: Iterable[tuple[Host, Path]] = ()
) -> list[FoundApp]:
    """Every host whose config is at its usual place, then the files in ``chosen``
    (those the user pointed at; listed even when gone, to say so). Reads files:
    call it off the loop."""
    places = [(host, host.default_path()) for host in hosts or list(HOSTS.values())]
    places = [(host, path) for host, path in places if _present(path)]
    seen = {same_file(path) for _, path in places}
    for host, path in chosen:
        if same_file(path) not in seen:
            places.append((host, path))
            seen.add(same_file(path))
    connections = linking.Connections(paths.connections_dir)
    ours = _our_config(paths)
    return [
        _look_on_its_own(h, p, connected=connections.connected(h, p), ours=ours) for h, p in places
    ]


def _present(path: Path) -> bool:
    """A file is at ``path``, or something MCP Tray may not look into (said when read)."""
    try:
        return path.is_file()
    except OSError:  # a folder on the way that is not the user's
        return True


def _look_on_its_own(host: Host, path: Path, *, connected: bool, ours: Config | None) -> FoundApp:
    """:func:`look_at`, but an error no one foresaw is this file's problem, not the list's:
    the file is the app's and may hold anything, and the other apps still show."""
    try:
        return look_at(host, path, connected=connected, ours=ours)
    except Exception:
        logger.exception("could not make sense of %s's %s", host.name, path)
        problem = (
            f"MCP Tray could not make sense of {where(path)}; its log has the details. "
            f"Fix the file in {host.title}, or undo the last change to it, then press Look again."
        )
        return FoundApp(host, path, [], connected, problem=problem)


def same_file(path: Path) -> Path:
    """One key per file, whichever way it was named (a dotfile manager's link)."""
    return Path(os.path.realpath(path))


def look_at(
    host: Host, path: Path, *, connected: bool = False, ours: Config | None = None
) -> FoundApp:
    """The app's file at ``path`` as the Connect dialog lists it; with ``ours`` (MCP Tray's
    config), also which of MCP Tray's servers connecting would give it."""
    try:
        document = read(path, title=host.title)
    except Unreadable as error:
        return FoundApp(host, path, [], connected, problem=str(error))
    raw = host.servers(document.data)
    servers = [
        AppServer(shown_name(entry.name), *_route(host, entry, raw[entry.name]))
        for entry in importing.host_entries(host, path, document)
    ]
    to_give = tuple(linking.to_give(host, document.data, ours)) if ours else ()
    return FoundApp(host, path, servers, connected, to_give=to_give)


def read(path: Path, *, title: str = "the app") -> Document:
    """The file of the app called ``title``, parsed; or :class:`Unreadable`, in words."""
    try:
        text = read_config_file(path)
    except FileNotFoundError:
        raise Unreadable(
            f"{where(path)} is no longer there",
            "Press Look again, or Choose a file… if the app keeps its servers elsewhere now.",
        ) from None
    except NotAConfigFile as error:
        raise Unreadable(
            f"{where(path)} {error}", f"Choose the file {title} keeps its MCP servers in."
        ) from None
    except OSError as error:
        raise Unreadable(
            f"MCP Tray cannot open {where(path)} ({error.strerror or error})",
            "Make sure the file is yours and can be opened, then press Look again.",
        ) from None
    except UnicodeDecodeError:
        raise Unreadable(
            f"{where(path)} is not a text file",
            f"Choose the file {title} keeps its MCP servers in.",
        ) from None
    try:
        return Document.parse(text)
    except JsoncError as error:
        raise Unreadable(
            f"{where(path)} has a mistake " + (f"at {error}" if error.at else f"({error})"),
            f"Fix it in {title}, or undo the last change to it, then press Look again.",
        ) from None


def nothing_found(hosts: Sequence[Host]) -> str:
    """The dialog's empty state: which apps MCP Tray looks for, and the way to another file."""
    return (
        f"No app with MCP servers was found. MCP Tray looks for {_and([h.title for h in hosts])}, "
        "each in its usual place (below). If an app keeps its servers somewhere else, such as "
        "a project's .cursor/mcp.json or .vscode/mcp.json, press Choose a file… to add it."
    )


def added(host: Host, path: Path) -> str:
    """What "Choose a file…" did, short: the box below shows the whole place."""
    folder = path.parent.parent if path.parent.name.startswith(".") else path.parent
    return f"Added {host.title}'s file from the {folder.name or folder} folder to the list."


def news(before: Sequence[FoundApp], after: Sequence[FoundApp]) -> str:
    """What Look again found that was not there before, in one line."""
    old = {same_file(app.path): app for app in before}
    new = {same_file(app.path): app for app in after}
    found = [app.host.title for key, app in new.items() if key not in old]
    gone = [f"{app.host.title}'s {where(app.path)}" for key, app in old.items() if key not in new]
    changed = [app.host.title for key, app in new.items() if key in old and old[key] != app]
    said = []
    if found:
        said.append(f"Found {_and(found)}.")
    if changed:
        said.append(f"{_and(changed)} changed since the last look.")
    if gone:
        said.append(f"{_and(gone)} {'is' if len(gone) == 1 else 'are'} no longer there.")
    return " ".join(said) or "Looked again; nothing has changed."


def _route(host: Host, entry: importing.Entry, raw: Any) -> tuple[Route, str]:
    if entry.config is None:
        return Route.UNUSABLE, "; ".join(_reason(host, n) for n in entry.notes if "`" not in n)
    if linking.attaches(host, entry.name, raw):
        return Route.THROUGH_TRAY, ""
    if host.is_remote(raw):
        return Route.REMOTE, ""
    return Route.STARTS_ITSELF, ""


def _reason(host: Host, note: str) -> str:
    """importing's note on an entry it cannot take, in the dialog's words (notes that tell a
    command line to type are left out by the caller)."""
    if match := _UNTRANSLATABLE.fullmatch(note):
        return f"it uses {match[1]}, which only {host.title} can fill in"
    return note


def hosts_for(path: Path, hosts: Sequence[Host]) -> list[Host]:
    """The apps a chosen file can belong to: one when its place tells, else every app whose
    kind of file it is. Raises HostError (in words) when it holds no MCP servers."""
    try:
        document = read(path)
    except Unreadable as error:
        what = f"{error.what}, so it was not added"
        raise HostError(f"{what}. Fix it, then choose it again.") from None
    data = document.data if isinstance(document.data, dict) else {}
    fitting = [host for host in hosts if host.key in data]
    if not fitting:
        raise HostError(
            f"{where(path)} lists no MCP servers. Choose the file an app keeps its MCP servers "
            "in, often called mcp.json."
        )
    by_place = [host for host in fitting if _placed(host, path)]
    return by_place[:1] or fitting


def _placed(host: Host, path: Path) -> bool:
    if same_file(path) == same_file(host.default_path()):
        return True
    return any(path.as_posix().endswith("/" + place) for place in PLACES.get(host.name, ()))


# ----- connecting


def connect_app(app: FoundApp, paths: Paths, *, store: SecretStore | None = None) -> str:
    """Import the app's new servers, then connect it; what changed, for the user.

    Raises HostError saying what happened and what to do. Reads and writes files and the
    keyring: call it off the loop.
    """
    title = app.host.title
    try:
        read(app.path, title=title)
        plan = importing.import_servers(app.host, app.path, paths, store=store)
    except (HostError, OSError) as error:
        raise HostError(_trouble(error, app, f"so {title} was not connected")) from None
    try:
        outcome = linking.connect(app.host, app.path, paths)
    except HostError as error:
        added = f"MCP Tray added {_and(list(plan.added))}, but " if plan.added else ""
        raise HostError(
            added + _trouble(error, app, f"so {title} still starts its servers itself")
        ) from None
    return "\n".join(_connected(app, look_at(app.host, app.path), plan, outcome, paths))


def _connected(
    before: FoundApp,
    after: FoundApp,
    plan: importing.ImportPlan,
    outcome: linking.Outcome,
    paths: Paths,
) -> list[str]:
    title = before.host.title
    through = after.named(Route.THROUGH_TRAY)
    if outcome.changed:
        said = [
            f"{title} now reaches {_count(through, 'server')} through MCP Tray: "
            f"{', '.join(through)}. {before.host.restart}"
        ]
    elif through:
        said = [f"{title} already reaches {_and(through)} through MCP Tray; nothing changed."]
    else:
        said = [f"{title} was left as it is: none of its servers can go through MCP Tray."]
    said += _left_as_they_are(after, plan, paths)
    for name, config in plan.added.items():
        moved = {move.name for move in plan.moves if move.server == name}
        wanted = sorted(set(_SECRET.findall(str(config))) - moved)
        if wanted:  # ${input:ID} became ${secret:ID}: the hub will ask for it
            said.append(f"{name} needs {_and(wanted)}; MCP Tray will ask you for it.")
    no_key = [name for name, config in plan.added.items() if importing.may_ask_to_sign_in(config)]
    if no_key:  # the hub waits in needs-sign-in, and the tray asks
        it = "it does" if len(no_key) == 1 else "they do"
        said.append(f"{_and(no_key)} may ask you to sign in; if {it}, MCP Tray will ask you.")
    return said


def _left_as_they_are(app: FoundApp, plan: importing.ImportPlan, paths: Paths) -> list[str]:
    """One sentence per reason the app's other servers were not changed."""
    ours = _ours(paths)
    reasons: dict[str, list[str]] = {}
    for server in app.servers:
        if server.route is Route.UNUSABLE:
            reasons.setdefault(server.why, []).append(server.name)
        elif server.route in (Route.STARTS_ITSELF, Route.REMOTE):
            if server.name in ours:
                why = f"MCP Tray already has a different server called {server.name}"
            else:
                details = _not_imported(plan, server.name)
                run = "reach" if server.route is Route.REMOTE else "run"
                why = f"MCP Tray cannot {run} it as written" + (f" ({details})" if details else "")
            reasons.setdefault(why, []).append(server.name)
    said = []
    for why, names in reasons.items():
        one = len(names) == 1
        said.append(f"{_and(names)} {'stays as it is' if one else 'stay as they are'}: {why}.")
    return said


def _not_imported(plan: importing.ImportPlan, name: str) -> str:
    prefix = f"{name}: not imported: "
    return next((line[len(prefix) :] for line in plan.lines if line.startswith(prefix)), "")


def _ours(paths: Paths) -> set[str]:
    """The servers in MCP Tray's config (none when it cannot be read just now)."""
    config = _our_config(paths)
    return set(config.servers) if config else set()


def _our_config(paths: Paths) -> Config | None:
    """MCP Tray's config, or None when it cannot be read just now."""
    try:
        return importing.our_config(paths)[1]
    except (HostError, OSError):
        return None


def disconnect_app(app: FoundApp, paths: Paths) -> str:
    """Undo connect_app's connect (the servers stay in MCP Tray); what changed, for the user.

    Raises HostError saying what happened and what to do.
    """
    title = app.host.title
    try:
        read(app.path, title=title)
        outcome = linking.disconnect(app.host, app.path, paths)
    except HostError as error:
        raise HostError(
            _trouble(error, app, f"so {title} still reaches its servers through MCP Tray")
        ) from None
    edited = [line.split(": ", 1)[0] for line in outcome.untouched]
    if not outcome.changed and not edited:
        return f"MCP Tray had not connected {title}, so nothing changed."
    said = []
    if outcome.changed:
        said.append(f"{title} is back to starting its servers itself.")
        running = [name for name in outcome.changed if name in _ours(paths)]
        if running:
            them = "it" if len(running) == 1 else "them"
            said.append(
                f"{_and(running)} {'keeps' if len(running) == 1 else 'keep'} running in MCP "
                f"Tray; remove {them} there if you no longer need {them}."
            )
    if edited:
        one = len(edited) == 1
        said.append(
            f"{_and(edited)} {'was' if one else 'were'} changed after MCP Tray connected "
            f"{title}, so {'it stays as it is' if one else 'they stay as they are'}."
        )
    if outcome.changed:
        said.append(app.host.restart)
    return "\n".join(said)


def _trouble(error: BaseException, app: FoundApp, so: str) -> str:
    """What went wrong, ``so`` what it means, and what to do; two sentences."""
    if isinstance(error, Unreadable):
        return f"{error.what}, {so}. {error.todo}"
    # importing and linking raise HostError "from None": the cause stays the context
    cause = error.__context__ if isinstance(error, HostError) and error.__context__ else error
    if isinstance(cause, ConfigError):
        issue = cause.issues[0] if cause.issues else None
        at = f" at line {issue.line}" if issue and issue.line else ""
        what = f"MCP Tray's own config has a mistake{at} ({issue.message if issue else cause})"
        return f"{what}, {so}. Choose Open config in the tray menu, fix it, and try again."
    if isinstance(cause, KeyringUnavailable):
        return (
            f"{app.host.title}'s servers use secrets, which MCP Tray keeps only in your system "
            f"keyring, and the keyring cannot be reached, {so}. "
            "Unlock the keyring or sign in again, then try again."
        )
    if isinstance(error, OSError):  # not wrapped by importing: MCP Tray's own config
        return (
            f"MCP Tray could not use its own config ({error.strerror or error}), {so}. "
            "Check that its folder is not full or read-only, then try again."
        )
    if isinstance(cause, OSError):
        return (
            f"MCP Tray could not change {where(app.path)} ({cause.strerror or cause}), {so}. "
            "Make sure the file is yours and not read-only, then try again."
        )
    return f"{_sentence(str(error))}, {so}. Press Look again, then try once more."


def _sentence(text: str) -> str:
    text = text.split("\n", 1)[0].rstrip(".")
    return text[:1].upper() + text[1:]


def _and(names: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _count(names: Sequence[str], noun: str) -> str:
    return f"{len(names)} {noun}{'' if len(names) == 1 else 's'}"
