"""A host's servers, as MCP Tray would run them: read, translated, and added to its config.

Each host entry becomes an :class:`Entry`: either a config entry for MCP
Tray, or a reason it cannot be one (a variable without an equivalent, an
address that is not http:// or https://). A remote server becomes
``{"url", "headers"}``, with ``"type": "sse"`` when the app said it speaks
the old HTTP+SSE transport. Variables the host expands, in a command's
args and env and in a remote server's headers, are translated where MCP
Tray has the same thing:

- ``${env:VAR}``, ``${VAR}``, ``${VAR:-default}`` → ``${env:VAR}`` (a default is dropped, and said);
- ``${input:ID}`` (VS Code asks for it) → ``${secret:ID}``, to be set once with ``secret set``;
- ``${workspaceFolder}`` → the workspace folder, for a workspace's ``.vscode/mcp.json``;
- ``${userHome}`` → the home folder;
- ``${secret:NAME}`` and ``${env:NAME}``, MCP Tray's own, stay as they are.

Nothing is overwritten: a name MCP Tray already has is reported, not
replaced ("already imported" when it runs the same command or reaches the
same address). Plaintext values that look like secrets go to the keyring
(``secret migrate``'s rules; for headers app.hosts.header_secrets), and are
read back from it, before the config changes, so an import never copies a
token into MCP Tray's config; an address that holds a key itself is not
imported, for the same reason. A remote server that sends no key is imported
like any other: MCP Tray signs in to it (app.core.signin) if it asks, and its
line says how. One set up with the app's own sign-in settings stays with the
app. The config is edited in place (atomic, with a backup), member by member,
so its formatting stays.

The command line (``mcp-tray import``) and the tray's "Connect an app…"
both call :func:`import_servers`; a pasted snippet (app.hosts.paste) goes
through the same translation, :func:`translate`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import ValidationError

from app.core.config import (
    SERVER_NAME_PATTERN,
    SERVER_NAME_RULE,
    Config,
    ConfigError,
    ServerConfig,
    ensure_config,
    parse_config,
    shown_name,
    write_config_text,
)
from app.core.errors import NotKept
from app.core.installation import demo_command
from app.core.jsontext.jsonc import Document, JsoncError
from app.core.paths import Paths
from app.core.secrets import KeyringUnavailable, SecretStore
from app.core.secrets.migrate import Move, keep, looks_secret, plan_migration
from app.hosts.header_secrets import header_moves
from app.hosts.host import Host, HostError, NotAConfigFile, read_config_file

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_VARIABLE_OR_BARE = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Why an entry whose name MCP Tray cannot take stays behind (its own config's rule).
UNFIT_NAME = f"MCP Tray needs a name of {SERVER_NAME_RULE}"
# VS Code's own variables: without the editor they mean nothing (workspaceFolder
# is translated when the file belongs to a workspace).
EDITOR_VARIABLES = frozenset(
    {"workspaceFolder", "workspaceFolderBasename", "file", "cwd", "execPath", "pathSeparator"}
)


@dataclass
class Entry:
    name: str
    config: dict[str, Any] | None  # for MCP Tray's mcpServers; None: not importable
    notes: list[str] = field(default_factory=list)  # what was translated, or why not
    asked: list[str] = field(default_factory=list)  # ${input:ID}s, now ${secret:ID}s to set


@dataclass
class ImportPlan:
    lines: list[str] = field(default_factory=list)  # one per host entry, for the user
    added: dict[str, dict[str, Any]] = field(default_factory=dict)  # name: entry for ours
    moves: list[Move] = field(default_factory=list)  # plaintext values bound for the keyring


def read_host_config(path: Path) -> Document:
    """The host's config, parsed (comments allowed), or a HostError saying what is wrong."""
    try:
        text = read_config_file(path)
    except FileNotFoundError:
        raise HostError(f"no config at {path}; give its place with --path") from None
    except NotAConfigFile as error:
        todo = (
            "it was left as it is" if error.too_large else "give the app's config file with --path"
        )
        raise HostError(f"{path} {error}; {todo}") from None
    except UnicodeDecodeError:
        raise HostError(
            f"{path} is not a text file (MCP Tray reads UTF-8 text); it was left as it is"
        ) from None
    except OSError as error:
        raise HostError(
            f"cannot open {path} ({error.strerror or error}); make sure the file is yours "
            "and can be read"
        ) from None
    try:
        return Document.parse(text)
    except JsoncError as error:
        what = f"is not valid JSON ({error})" if error.at else f"cannot be read: {error}"
        raise HostError(f"{path} {what}; it was left as it is") from None


def our_config(paths: Paths) -> tuple[str, Config]:
    """MCP Tray's config, as text and loaded, or a HostError when it has errors."""
    text = paths.config_file.read_text(encoding="utf-8")
    try:
        return text, parse_config(text, path=paths.config_file)
    except ConfigError as error:
        raise HostError(f"MCP Tray's config has errors; fix them first.\n{error}") from None


def import_servers(
    host: Host,
    source: Path,
    paths: Paths,
    *,
    dry_run: bool = False,
    store: SecretStore | None = None,
) -> ImportPlan:
    """Copy the servers of the host config at ``source`` into MCP Tray's config.

    ``store`` is where moved values go: the system keyring unless given.
    """
    document = read_host_config(source)
    ensure_config(paths.config_file, demo=demo_command())
    ours, current = our_config(paths)
    plan = plan_import(host, source, document, current)
    if dry_run or not plan.added:
        return plan
    store = store or SecretStore(paths.secret_index)
    try:
        keep(store, plan.moves)
    except (KeyringUnavailable, NotKept) as error:
        raise HostError(f"{error}; nothing was imported") from None
    text = ours
    if "mcpServers" not in Document.parse(text).data:
        text = Document.parse(text).insert((), "mcpServers", {})
    for name, entry in plan.added.items():
        text = Document.parse(text).insert(("mcpServers",), name, entry)
    parse_config(text, path=paths.config_file)  # what is written must load
    write_config_text(paths.config_file, text)
    return plan


def plan_import(host: Host, source: Path, document: Document, current: Config) -> ImportPlan:
    """What importing would add, move to the keyring, and say; nothing is changed."""
    plan = ImportPlan()
    for entry in host_entries(host, source, document):
        notes = "; ".join(entry.notes)
        name = shown_name(entry.name)
        if entry.config is None:
            plan.lines.append(f"{name}: not imported: {notes}")
            continue
        if entry.name in current.servers:
            same = same_server(current.servers[entry.name], entry.config)
            why = "already imported" if same else "MCP Tray has a server of that name; not imported"
            plan.lines.append(f"{name}: {why}")
            continue
        config = dict(entry.config)
        try:
            server = ServerConfig.model_validate(config)
        except ValidationError as error:
            problems = "; ".join(str(e["msg"]) for e in error.errors())
            plan.lines.append(f"{name}: not imported: {problems}")
            continue
        moves = plan_migration(Config(mcpServers={entry.name: server}))
        moves += header_moves(entry.name, server.headers)
        for move in moves:
            _put_placeholder(config, move)
        plan.added[entry.name] = config
        plan.moves += moves
        secrets = ", ".join(move.name for move in moves)
        told = [f"secret(s) {secrets} go to the keyring"] if moves else []
        if may_ask_to_sign_in(config):
            told.append(
                "if it asks you to sign in, sign in from MCP Tray's menu or with "
                f"`mcp-tray signin {entry.name}`"
            )
        plan.lines.append(
            f"{entry.name}: imported" + "".join(f"; {n}" for n in [*told, notes] if n)
        )
    plan.lines = [_printable(line) for line in plan.lines]
    return plan


def _printable(text: str) -> str:
    """Words quoting an app's file, safe for a terminal: control characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def may_ask_to_sign_in(config: dict[str, Any]) -> bool:
    """Whether MCP Tray's entry ``config`` is a remote server that sends no key: most
    such servers want a sign-in, which the hub waits for (needs-sign-in)."""
    return "url" in config and not config.get("headers")


def same_server(mine: ServerConfig, config: dict[str, Any]) -> bool:
    """Whether MCP Tray's ``mine`` is the host's translated entry ``config``: it runs the
    same command, or reaches the same address."""
    if "url" in config:
        return mine.url == str(config["url"])
    return mine.command == str(config["command"])


def _put_placeholder(config: dict[str, Any], move: Move) -> None:
    """Put the placeholder where the plaintext value was."""
    *_, member, key = move.where  # ("args", 2), ("env", "TOKEN") or ("headers", "Authorization")
    if member == "args":
        config["args"][int(key)] = move.replacement
    else:
        config[str(member)][str(key)] = move.replacement


def host_entries(host: Host, path: Path, document: Document) -> list[Entry]:
    """Every server the host config at ``path`` defines, translated."""
    workspace = host.workspace_of(path)
    return [
        _importable(host, name, raw, workspace) for name, raw in host.servers(document.data).items()
    ]


def _importable(host: Host, name: str, raw: Any, workspace: Path | None) -> Entry:
    if not isinstance(raw, dict):
        return Entry(name, None, ["its entry is not an object"])
    if not SERVER_NAME_PATTERN.fullmatch(name):
        return Entry(name, None, [f"{UNFIT_NAME}; rename it in {host.title} to bring it over"])
    if host.is_remote(raw):
        entry = translate_remote(host, name, raw, workspace)
    else:
        entry = translate(host, name, raw, workspace)
    if any(note.startswith("cannot") for note in entry.notes):
        entry.config = None
    asked = [
        f"${{input:{key}}} became ${{secret:{key}}}; set it once with "
        f"`mcp-tray secret set {name} {key}`"
        for key in entry.asked
    ]
    entry.notes[:0] = asked
    return entry


def translate(host: Host, name: str, raw: dict[str, Any], workspace: Path | None) -> Entry:
    """The host's stdio entry ``raw`` as an MCP Tray entry, its variables translated.

    Importing and pasting (app.hosts.paste) both read a host's entry through
    here. ``config`` is None when the entry starts no command MCP Tray can
    run; the notes say why. A variable without an equivalent stays as written,
    with a note that starts "cannot translate" (config.json refuses it).
    ``${input:ID}`` values the host would have asked for are listed in
    ``asked``: each became ``${secret:ID}``, which nothing has set yet.
    """
    launch = host.launch(raw)
    if not isinstance(launch.command, str) or not launch.command:
        return Entry(name, None, ["no command to run (provided by an extension?)"])
    if launch.problem:
        return Entry(name, None, [launch.problem])
    entry = Entry(name, {})
    config: dict[str, Any] = {"command": _translate(launch.command, entry, host, workspace)}
    if launch.args:
        config["args"] = [_translate(arg, entry, host, workspace) for arg in launch.args]
    if launch.env:
        config["env"] = {k: _translate(v, entry, host, workspace) for k, v in launch.env.items()}
    if isinstance(raw.get("cwd"), str):
        config["cwd"] = _translate(raw["cwd"], entry, host, workspace)
    if raw.get("envFile"):
        entry.notes.append(f"envFile {raw['envFile']} is not read; copy what it sets into env")
    entry.config = config
    return entry


def translate_remote(host: Host, name: str, raw: dict[str, Any], workspace: Path | None) -> Entry:
    """The host's remote entry ``raw`` as an MCP Tray entry, as :func:`translate` does a
    command's: ``config`` is None, with the reason in the notes, when MCP Tray cannot
    reach the server as written."""
    remote = host.remote(raw)
    refused = remote.problem or _unfit_address(host, remote.url) or _own_sign_in(host, raw)
    if refused:
        return Entry(name, None, [refused])
    entry = Entry(name, {})
    config: dict[str, Any] = {"url": remote.url}
    if remote.old_sse:
        config["type"] = "sse"  # else the hub tries Streamable HTTP, then the old transport
    if remote.headers:
        config["headers"] = {
            k: _translate(v, entry, host, workspace) for k, v in remote.headers.items()
        }
    entry.config = config
    return entry


def _unfit_address(host: Host, url: str) -> str:
    """Why MCP Tray cannot take ``url`` as it is ("": it can)."""
    if (_VARIABLE_OR_BARE if host.bare_variables else _VARIABLE).search(url):
        return (
            "its address uses a variable, which MCP Tray does not fill in there "
            "(only in headers); write the address out in full"
        )
    parts = urlsplit(url)
    keys = [key for key, value in parse_qsl(parts.query) if looks_secret(key, value)]
    if parts.password or keys:
        where = f"{keys[0]}=" if keys else "a password"
        return (
            f"its address holds a key ({where}), which MCP Tray would have to copy into its "
            "config, and it keeps keys only in the keyring; ask the service for a way to send "
            "it in a header"
        )
    return ""


def _own_sign_in(host: Host, raw: dict[str, Any]) -> str:
    """Why an entry set up with the app's own sign-in settings stays there ("": it is not).

    MCP Tray signs in by itself, registering itself with the server's sign-in service
    (app.core.signin). Settings made for the app (Claude Code's client ID, Gemini CLI's
    Google credentials) are not MCP Tray's to use, and the server may take no other
    client; left with the app, it goes on working as before.
    """
    for key in ("oauth", "authProviderType"):
        if key in raw:
            return (
                f"{host.title} signs you in to it with settings of its own ({key}), "
                "which MCP Tray cannot use"
            )
    return ""


def _translate(value: str, entry: Entry, host: Host, workspace: Path | None) -> str:
    def replace(match: re.Match[str]) -> str:
        body = match.group(1) if match.group(1) is not None else match.group(2)
        replacement, note = _equivalent(body, workspace)
        if body.startswith("input:") and replacement is not None:
            entry.asked.append(body.partition(":")[2])
        if note:
            entry.notes.append(note)
        return match.group(0) if replacement is None else replacement

    return (_VARIABLE_OR_BARE if host.bare_variables else _VARIABLE).sub(replace, value)


def _equivalent(body: str, workspace: Path | None) -> tuple[str | None, str | None]:
    """What MCP Tray writes for the host's ``${body}`` (None: nothing), and what to tell."""
    kind, colon, rest = body.partition(":")
    variable, dash, _ = body.partition(":-")
    if colon and kind in ("env", "secret"):  # MCP Tray's own: a snippet may be one of ours
        return "${" + body + "}", None
    if colon and kind == "input":
        return "${secret:" + rest + "}", None
    if body == "workspaceFolder" and workspace is not None:
        return str(workspace), None
    if body == "userHome":
        return str(Path.home()), None
    if body not in EDITOR_VARIABLES and _NAME.fullmatch(variable) and (not colon or dash):
        return (
            "${env:" + variable + "}",
            f"the default of ${{{body}}} was dropped" if dash else None,
        )
    return None, f"cannot translate ${{{body}}}: MCP Tray has no equivalent"
