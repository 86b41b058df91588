"""Servers from whatever a README gives: its JSON in any app's shape, or its command line.

:func:`drafts_from_text` takes:

- a whole app config: ``{"mcpServers": {…}}``, VS Code's ``{"servers": {…},
  "inputs": […]}`` (or its settings' ``"mcp": {…}``), Zed's ``{"context_servers": {…}}``;
- one or more named entries, with or without the outer braces:
  ``"memory": {"command": "npx", …}``;
- a bare server object, ``{"command": "npx", "args": […]}``, named after its
  package (``@modelcontextprotocol/server-memory`` → ``memory``), or by its
  ``"name"`` (VS Code's ``--add-mcp`` form);
- a command line: ``npx -y PACKAGE``, ``uvx mcp-server-git --repository .``,
  ``docker run -i --rm mcp/fetch``, with ``KEY=value`` words in front as
  environment variables;
- ``claude mcp add NAME [-e K=V]… -- COMMAND ARGS`` and
  ``claude mcp add-json NAME '{…}'``.

JSON may hold comments and trailing commas. Every entry goes through the
importer's translation (app.hosts.importing.translate), so ``${input:ID}``
becomes a secret to give and ``${VAR}`` becomes ``${env:VAR}`` exactly as
``mcp-tray import`` does. A value that ``secret migrate`` would move to the
keyring becomes a secret variable. A remote entry (a URL) becomes a draft
with ``remote_url`` set, which the form shows as not runnable yet.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, ClassVar

from pydantic import ValidationError

from app.core.catalog import tidy_name
from app.core.config import Config, ServerConfig
from app.core.config.draft import ServerDraft, Variable, is_placeholder
from app.core.errors import UserError
from app.core.jsontext.jsonc import Document, JsoncError
from app.core.secrets.migrate import (
    looks_secret,
    name_looks_secret,
    plan_migration,
    value_looks_secret,
)
from app.hosts import vscode, zed
from app.hosts.host import Host, Launch
from app.hosts.importing import Entry, translate

HOW_TO_PASTE = "Paste a server's JSON from its README, or a command like `npx -y PACKAGE`"
REMOTE_NOTE = (
    "it runs on the internet (a remote server), which this window cannot add yet; "
    "MCP Tray's config file can"
)


class NothingToAdd(UserError):
    """The pasted text holds no server; the sentence says what was expected."""


class _Snippet(Host):
    """An entry from a README, in any app's shape: Zed's older nested ``command`` and
    Gemini's ``httpUrl`` as well as the common one."""

    def launch(self, raw: dict[str, Any]) -> Launch:
        return zed.HOST.launch(raw)

    def is_remote(self, raw: dict[str, Any]) -> bool:
        return "httpUrl" in raw or super().is_remote(raw)


class _Shell(_Snippet):
    """A command line: the shell expands ``$VAR`` as well as ``${VAR}``."""

    bare_variables: ClassVar[bool] = True


_NOWHERE = ("", "", "")  # a snippet has no file of its own
SNIPPET = _Snippet("snippet", "the snippet", "mcpServers", *_NOWHERE, restart="")
SHELL = _Shell("command", "the command line", "mcpServers", *_NOWHERE, restart="")
# The objects of a whole config that hold its servers, and how to read them.
WHOLE_CONFIGS: tuple[tuple[str, Host], ...] = (
    ("mcpServers", SNIPPET),
    ("servers", vscode.HOST),
    ("context_servers", zed.HOST),
)


_JSON_STARTS = ("{", "[", '"', "//", "/*")  # a comment opens many a settings file


def drafts_from_text(text: str, *, workspace: Path | None = None) -> list[ServerDraft]:
    """Every server ``text`` defines, as drafts for the form; NothingToAdd when none.

    ``workspace``: the folder ``${workspaceFolder}`` stands for, if any.
    """
    text = text.strip().rstrip(",").strip()
    if not text:
        raise NothingToAdd(f"There is nothing to add. {HOW_TO_PASTE}.")
    if text.startswith(_JSON_STARTS):
        return _from_json(text, workspace)
    return _from_command_line(text)


# ----- JSON


def _from_json(text: str, workspace: Path | None, *, name: str = "") -> list[ServerDraft]:
    data = _parsed(text)
    if isinstance(data, dict) and isinstance(data.get("mcp"), dict):
        data = data["mcp"]  # VS Code's settings.json keeps the config under "mcp"
    if not isinstance(data, dict):
        raise NothingToAdd(f"That JSON holds no server. {HOW_TO_PASTE}.")
    inputs = _input_descriptions(data.get("inputs"))
    for key, host in WHOLE_CONFIGS:
        if isinstance(data.get(key), dict):
            return _drafts(host, data[key], workspace, inputs)
    if _is_server(data):
        given = data.get("name")
        name = name or (given if isinstance(given, str) and given else _name_of_raw(data))
        return _drafts(SNIPPET, {name: data}, workspace, inputs)
    named = {key: raw for key, raw in data.items() if isinstance(raw, dict) and _is_server(raw)}
    return _drafts(SNIPPET, named, workspace, inputs)


def _parsed(text: str) -> Any:
    """The JSON of ``text``, or of ``text`` in braces (one named entry, as READMEs quote it)."""
    try:
        return Document.parse(text).data
    except JsoncError as error:
        try:
            return Document.parse("{" + text + "}").data
        except JsoncError:
            raise NothingToAdd(
                f"That is not JSON MCP Tray can read ({error}). {HOW_TO_PASTE}."
            ) from None


def _is_server(raw: dict[str, Any]) -> bool:
    return "command" in raw or SNIPPET.is_remote(raw)


def _input_descriptions(inputs: Any) -> dict[str, str]:
    """VS Code's ``inputs``: what each ``${input:ID}`` asks for, by ID."""
    if not isinstance(inputs, list):
        return {}
    return {
        str(item["id"]): str(item.get("description") or "")
        for item in inputs
        if isinstance(item, dict) and "id" in item
    }


def _drafts(
    host: Host, servers: dict[str, Any], workspace: Path | None, inputs: dict[str, str]
) -> list[ServerDraft]:
    """The drafts of ``servers`` (a host's entries by name); NothingToAdd when none can be."""
    drafts, refused = [], []
    for name, raw in servers.items():
        if not isinstance(raw, dict):
            refused.append(f"{name}: its entry is not an object")
        elif host.is_remote(raw):
            drafts.append(
                ServerDraft(name=name, remote_url=host.url_of(raw) or "", notes=[REMOTE_NOTE])
            )
        else:
            entry = translate(host, name, raw, workspace)
            if entry.config is None:
                refused.append(f"{name}: {'; '.join(entry.notes)}")
            else:
                drafts.append(_draft(entry, entry.config, raw, inputs))
    if not drafts:
        why = f" ({refused[0]})" if refused else ""
        raise NothingToAdd(f"No server could be read from that{why}. {HOW_TO_PASTE}.")
    return drafts


_WHOLE_SECRET = re.compile(r"\$\{secret:([^}]*)\}")


def _draft(
    entry: Entry, config: dict[str, Any], raw: dict[str, Any], inputs: dict[str, str]
) -> ServerDraft:
    """The form's fields for a translated entry; secrets told apart from plain values."""
    draft = ServerDraft(
        name=entry.name,
        command=config["command"],
        args=list(config.get("args", [])),
        cwd=config.get("cwd", ""),
        watch=raw.get("watch") is True,
        shared=raw.get("shared") is not False,
        notes=list(entry.notes),
    )
    for variable, value in config.get("env", {}).items():
        draft.variables.append(_variable(variable, value, inputs, draft.notes))
    draft.notes += _tokens_in_args(draft)
    return draft


def _variable(name: str, value: str, inputs: dict[str, str], notes: list[str]) -> Variable:
    secret = _WHOLE_SECRET.fullmatch(value)
    if secret is not None:  # the snippet's app would have asked for it: so does the form
        if secret[1] != name:
            notes.append(f"{name} is a secret to give (the snippet called it {secret[1]})")
        return Variable(name, "", secret=True, required=True, description=inputs.get(secret[1], ""))
    if is_placeholder(value):  # "<YOUR_TOKEN>": the reader's own value goes there
        wrapped = value.startswith("${")  # looks_secret passes over ${…}
        hidden = name_looks_secret(name) if wrapped else _looks_secret_at_all(name, value)
        return Variable(name, "", secret=hidden, required=True)
    return Variable(
        name, value, secret=looks_secret(name, value), required=looks_secret(name, value)
    )


def _looks_secret_at_all(name: str, value: str) -> bool:
    return name_looks_secret(name) or value_looks_secret(value)


def _tokens_in_args(draft: ServerDraft) -> list[str]:
    """A word of each argument that looks like a token (it stays where it is: the
    server reads it there), said so the user can move it if the server allows."""
    try:
        server = ServerConfig.model_validate({"command": draft.command, "args": draft.args})
    except ValidationError:
        return []  # the form's check says what is wrong with it
    moves = plan_migration(Config(mcpServers={"draft": server}))
    return [
        f"argument {int(move.where[-1]) + 1} looks like a token; every user of this computer "
        "can see it in the process list, so give it as a secret variable if the server reads one"
        for move in moves
        if move.in_args
    ]


# ----- command lines

# What starts a server from a README, besides a path to a program.
RUNNERS = frozenset(
    {"npx", "bunx", "pnpx", "pnpm", "yarn", "uvx", "uv", "pipx", "docker", "podman"}
    | {"node", "deno", "bun", "python", "python3", "py", "java", "go", "dotnet", "cargo"}
)
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)


def _from_command_line(text: str) -> list[ServerDraft]:
    words = _words(text)
    if words[:3] == ["claude", "mcp", "add-json"]:
        return _claude_add_json(words[3:])
    if words[:3] == ["claude", "mcp", "add"]:
        return [_claude_add(words[3:])]
    if words[:1] == ["env"]:
        words = words[1:]
    env: dict[str, str] = {}
    while words and (assignment := _ASSIGNMENT.fullmatch(words[0])):
        env[assignment[1]] = assignment[2]
        words = words[1:]
    if not words:
        raise NothingToAdd(f"That command line runs no program. {HOW_TO_PASTE}.")
    if not _is_program(words[0]):
        raise NothingToAdd(
            f"{words[0]!r} is not a program MCP Tray knows or can find. {HOW_TO_PASTE}."
        )
    return _launched(words[0], words[1:], env)


def _words(text: str) -> list[str]:
    """The command line's words, as a shell would split them; a README's ``$`` prompt and
    line continuations are taken out."""
    text = re.sub(r"\\\r?\n", " ", text)
    text = re.sub(r"^\s*\$\s+", "", text)
    try:
        return shlex.split(text)
    except ValueError as error:  # an unclosed quote
        raise NothingToAdd(f"That command line cannot be read: {error}. {HOW_TO_PASTE}.") from None


def _is_program(word: str) -> bool:
    return (
        _program(word) in RUNNERS or "/" in word or "\\" in word or shutil.which(word) is not None
    )


def _launched(
    command: str, args: list[str], env: dict[str, str], *, name: str = ""
) -> list[ServerDraft]:
    raw: dict[str, Any] = {"command": command, "args": args, "env": env}
    return _drafts(SHELL, {name or _name_of_raw(raw): raw}, None, {})


def _claude_add(words: list[str]) -> ServerDraft:
    """``claude mcp add [options] NAME [--] COMMAND ARGS…`` (or ``--transport http NAME URL``)."""
    options, rest = _claude_options(words)
    if not rest:
        raise NothingToAdd(f"That `claude mcp add` line names no server. {HOW_TO_PASTE}.")
    name, *launch = rest
    if options.transport in ("http", "sse"):
        url = launch[0] if launch else ""
        return ServerDraft(name=name, remote_url=url, notes=[REMOTE_NOTE])
    if not launch:
        raise NothingToAdd(
            f"That `claude mcp add` line gives {name} no command to run. {HOW_TO_PASTE}."
        )
    (draft,) = _launched(launch[0], launch[1:], options.env, name=name)
    return draft


def _claude_add_json(words: list[str]) -> list[ServerDraft]:
    """``claude mcp add-json [options] NAME 'JSON'``."""
    _, rest = _claude_options(words)
    if len(rest) < 2:
        raise NothingToAdd(
            f"That `claude mcp add-json` line needs a name and the server's JSON. {HOW_TO_PASTE}."
        )
    return _from_json(rest[1], None, name=rest[0])


class _ClaudeOptions:
    def __init__(self) -> None:
        self.env: dict[str, str] = {}
        self.transport = "stdio"


# Claude Code's options that take a value; -e and -H take one or more.
_CLAUDE_VALUES = frozenset({"-e", "--env", "-s", "--scope", "-t", "--transport", "-H", "--header"})


def _claude_options(words: list[str]) -> tuple[_ClaudeOptions, list[str]]:
    """Claude Code's options, and the words that are not (the name, then the command).

    Everything after ``--``, or after the second plain word, belongs to the
    server's command: its own options are not Claude's.
    """
    options, rest = _ClaudeOptions(), list[str]()
    index = 0
    while index < len(words) and len(rest) < 2:
        word = words[index]
        index += 1
        if word == "--":
            return options, [*rest, *words[index:]]
        option, equals, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        if option not in _CLAUDE_VALUES:
            if not word.startswith("-"):
                rest.append(word)
            continue
        values = [inline] if equals else words[index : index + 1]
        index += 0 if equals else 1
        while (
            option in ("-e", "--env") and index < len(words) and _ASSIGNMENT.fullmatch(words[index])
        ):  # -e takes one or more KEY=value
            values.append(words[index])
            index += 1
        _take(options, option, values)
    return options, [*rest, *words[index:]]


def _take(options: _ClaudeOptions, option: str, values: list[str]) -> None:
    if option in ("-e", "--env"):
        for value in values:
            key, _, text = value.partition("=")
            options.env[key] = text
    elif option in ("-t", "--transport") and values:
        options.transport = values[0]


# ----- names


# Options of the runners that take a value: the word after them is not the package.
_VALUE_OPTIONS = frozenset(
    {"-p", "--package", "--from", "--with", "--python", "--index-url", "--directory"}
    | {"-e", "--env", "-v", "--volume", "--name", "--network", "--mount", "--env-file"}
    | {"-w", "--workdir", "-u", "--user", "--platform", "--entrypoint", "-l", "--label"}
)
# Words of a runner that come before what it runs: ``pnpm dlx``, ``docker run``, ``uv tool run``.
_SUBCOMMANDS = frozenset({"dlx", "run", "exec", "tool", "x"})
# Script names that say nothing: the folder says more (``…/weather/index.js`` → weather).
_PLAIN_SCRIPTS = frozenset({"index", "main", "server", "__main__", "app", "cli", "build", "dist"})
_SCRIPTS = (".js", ".mjs", ".cjs", ".ts", ".py")


def derived_name(command: str, args: list[str]) -> str:
    """A server name from what it runs: ``@modelcontextprotocol/server-memory`` → ``memory``,
    ``mcp-server-git`` → ``git``, ``mcp/fetch`` (a Docker image) → ``fetch``."""
    program = _program(command)
    what = _what_runs(args) if program in RUNNERS else ""
    if program in ("python", "python3", "py") and "-m" in args[:-1]:
        what = args[args.index("-m") + 1]
    if what.endswith(_SCRIPTS):
        return _name_of_script(what)
    return tidy_name(_package_name(what or program)) or "server"


def _name_of_raw(raw: dict[str, Any]) -> str:
    launch = zed.HOST.launch(raw)
    command = launch.command if isinstance(launch.command, str) else ""
    return derived_name(command, launch.args)


def _program(command: str) -> str:
    name = PureWindowsPath(command).name if "\\" in command else PurePosixPath(command).name
    return re.sub(r"\.(exe|cmd|bat)$", "", name.lower())


def _what_runs(args: list[str]) -> str:
    """The first word of ``args`` that is neither an option, an option's value, nor a
    subcommand of the runner: the package, image or script."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-") and arg not in _SUBCOMMANDS:
            return arg
    return ""


def _name_of_script(path: str) -> str:
    script = PurePosixPath(path.replace("\\", "/"))
    for part in (script.stem, *(parent.name for parent in script.parents)):
        if part and part.lower() not in _PLAIN_SCRIPTS and part not in ("src", "."):
            return tidy_name(part) or "server"
    return "server"


def _package_name(package: str) -> str:
    """The telling part of a package or image: no registry, scope, version or tag."""
    package = re.sub(r"(?<=.)@[^/]*$", "", package)  # @1.2.3, @latest
    package = re.sub(r":[^/]*$", "", package)  # :latest, and jsr:/npm: prefixes below
    scope, _, last = package.rpartition("/")
    if not tidy_name(last):
        return scope.rpartition("/")[2].lstrip("@")  # @playwright/mcp → playwright
    return last
