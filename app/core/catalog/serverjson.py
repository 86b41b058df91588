"""One catalog entry, read from the MCP Registry's ``server.json`` format.

The same reader serves the catalog bundled in ``resources/catalog`` and the
answers of an online registry (app.core.catalog.registry), so an entry means
the same wherever it came from. The format is the registry's
(https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json):
a server has ``packages`` (how to run it here) and/or ``remotes`` (where it
already runs on the internet).

Reading picks the first package MCP Tray can start and turns it into a command
line at once, so a server that cannot be started is found when it is read
(:class:`Unusable`), not when the user chooses it. Registry data is written by
anyone: package names, versions and variable names are checked against
conservative patterns before they become arguments of ``npx``, ``uvx`` or
``docker``, so a value such as ``--eval=…`` cannot pass for a package. Every
value it gives is written so that ``${`` stays literal (no ``${env:…}`` or
``${secret:…}`` of the user's reaches a server it names), and the runtime's own
options are refused where they would change what runs or what it may touch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.core.catalog.names import tidy_name
from app.core.config.draft import ServerDraft, Variable
from app.core.config.schema import SERVER_NAME_PATTERN

# Runtimes by registry type, and the words that tell a person what runs.
_RUNTIMES = {"npm": "npx", "pypi": "uvx", "oci": "docker"}
_KINDS = {"npm": "npm package", "pypi": "Python package", "oci": "Docker image"}

_NPM_NAME = re.compile(r"^(@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*$", re.IGNORECASE)
_PYPI_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_IMAGE = re.compile(r"^[A-Za-z0-9][\w.:/@-]*$")
_VERSION = re.compile(r"^[A-Za-z0-9][\w.+-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TEMPLATE = re.compile(r"\{([A-Za-z0-9_]+)\}")

# The docker arguments MCP Tray writes itself; registry entries often list them too.
_DOCKER_FLAGS = frozenset({"-i", "--interactive", "--rm"})
_DOCKER_ENV_FLAGS = frozenset({"-e", "--env"})
_NPX_FLAGS = frozenset({"-y", "--yes"})  # npx's only runtime argument MCP Tray writes
# Docker options that reach past the container: the user's files, devices, network,
# processes or privileges, or a port open to the network (a stdio server needs none).
_DOCKER_REFUSED = frozenset(
    {
        "--privileged",
        "-v",
        "--volume",
        "--volumes-from",
        "--mount",
        "--network",
        "--net",
        "--pid",
        "--ipc",
        "--uts",
        "--userns",
        "--cgroupns",
        "--cap-add",
        "--device",
        "--device-cgroup-rule",
        "--security-opt",
        "--env-file",
        "--cidfile",
        "-p",
        "--publish",
        "-P",
        "--publish-all",
    }
)


class Unusable(ValueError):
    """A server.json that MCP Tray cannot read or cannot run; the message says why."""


@dataclass(frozen=True)
class VariableSpec:
    """An environment variable as the catalog describes it (a form's Variable, frozen)."""

    name: str
    value: str = ""
    secret: bool = False
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Launch:
    """How to start the server: the command line, its variables, and notes for the form."""

    command: str
    args: tuple[str, ...]
    variables: tuple[VariableSpec, ...] = ()
    notes: tuple[str, ...] = ()
    options: tuple[str, ...] = ()  # the entry's own options for the runtime (docker's)


@dataclass(frozen=True)
class CatalogEntry:
    """A server the user can pick by ``id`` (what they type: ``memory``).

    ``name`` is the registry's reverse-DNS name; ``runs_with`` says in words
    what runs ("npm package @modelcontextprotocol/server-memory"); an entry is
    ``remote_only`` when its only way to run is on the internet.
    """

    id: str
    name: str
    title: str
    description: str
    remote_only: bool
    runs_with: str
    launch: Launch | None = field(default=None, repr=False)
    remote_url: str = ""

    def draft(self) -> ServerDraft:
        """The Add form, filled in: a fresh draft each call, for the form to change."""
        draft = ServerDraft(name=self.id, description=self.description)
        if self.launch is None:
            draft.remote_url = self.remote_url  # the form's sign that it cannot save this one
            draft.notes.append(
                f"{self.title} runs only on the internet, at {self.remote_url}; "
                "MCP Tray cannot add servers of that kind yet."
            )
            return draft
        draft.command = self.launch.command
        draft.args = list(self.launch.args)
        draft.notes.extend(self.launch.notes)
        for spec in self.launch.variables:
            if spec.required or spec.value:
                draft.variables.append(Variable(**vars(spec)))
            else:
                # Left out: an empty variable is not the same as none to every server,
                # and an empty secret would be looked up in the keyring at each start.
                draft.notes.append(_optional_note(spec))
        return draft


def _optional_note(spec: VariableSpec) -> str:
    what = f": {_lower_first(spec.description.rstrip('.'))}" if spec.description else ""
    return f"You may also set {spec.name}{what}."


def placeholder(hint: str) -> str:
    """What stands in an argument the user must fill in: ``<database_url>``."""
    return f"<{hint}>"


def read_server(data: Any) -> CatalogEntry:
    """The entry for one server.json object; :class:`Unusable` when it cannot be used."""
    if not isinstance(data, Mapping):
        raise Unusable("not an object")
    name = _text(data, "name")
    if "/" not in name:
        raise Unusable(f"name {name!r} is not in reverse-DNS form")
    description = _text(data, "description")
    title = _optional_text(data, "title") or name.rpartition("/")[2]
    package = _runnable_package(data.get("packages"))
    remote = _first_remote(data.get("remotes"))
    id_ = short_id(name)
    if package is not None:
        launch = _launch(package)
        return CatalogEntry(
            id_,
            name,
            title,
            description,
            remote_only=False,
            runs_with=_runs_with(package, launch),
            launch=launch,
            remote_url=remote,
        )
    if remote:
        runs_with = f"remote server at {remote}"
        return CatalogEntry(id_, name, title, description, True, runs_with, remote_url=remote)
    raise Unusable("no package MCP Tray can run (npm, PyPI or Docker over stdio) and no remote")


def _runs_with(package: Mapping[str, Any], launch: Launch) -> str:
    """What runs, in words; options the entry adds to docker's are named, so the user
    sees them before choosing it."""
    kind = package["registryType"]
    what = f"{_KINDS[kind]} {package['identifier']}"
    if not launch.options:
        return what
    return f"{what}, with the {_RUNTIMES[kind]} options {' '.join(launch.options)}"


def short_id(name: str) -> str:
    """The id users type, from the registry name: ``io.github.x/server-memory`` → ``memory``.

    When the last part says nothing but "MCP" (``com.supabase/mcp``), the
    namespace's last label names the server instead.
    """
    namespace, _, last = name.rpartition("/")
    word = tidy_name(last) or tidy_name(namespace.rpartition(".")[2])
    if not SERVER_NAME_PATTERN.fullmatch(word):
        raise Unusable(f"no usable short name in {name!r}")
    return word


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise Unusable(f"{key} is missing or not text")
    return value.strip()


def _optional_text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def _runnable_package(packages: Any) -> Mapping[str, Any] | None:
    """The first package MCP Tray can start: a known registry type, over stdio."""
    if not isinstance(packages, Sequence) or isinstance(packages, str):
        return None
    for package in packages:
        if not isinstance(package, Mapping) or package.get("registryType") not in _RUNTIMES:
            continue
        transport = package.get("transport") or {"type": "stdio"}
        if isinstance(transport, Mapping) and transport.get("type") == "stdio":
            return package
    return None


def _first_remote(remotes: Any) -> str:
    if not isinstance(remotes, Sequence) or isinstance(remotes, str):
        return ""
    for remote in remotes:
        if isinstance(remote, Mapping) and isinstance(remote.get("url"), str):
            url: str = remote["url"]
            if url.startswith(("https://", "http://")):
                return url
    return ""


def _launch(package: Mapping[str, Any]) -> Launch:
    kind: str = package["registryType"]
    identifier = package.get("identifier")
    version = package.get("version")
    if not isinstance(identifier, str):
        raise Unusable("a package without an identifier")
    if version is not None and not (isinstance(version, str) and _VERSION.fullmatch(version)):
        raise Unusable(f"package version {version!r} is not a plain version")
    built = _Arguments()
    for variable in _list(package, "environmentVariables"):
        built.add_variable(variable)
    before = _runtime_options(kind, _list(package, "runtimeArguments"), built)
    after = built.render_all(_list(package, "packageArguments"), docker=False)
    spec = _package_spec(kind, identifier, version)
    if kind == "oci":
        env_flags = [token for v in built.variables for token in ("-e", v.name)]
        args = ["run", "-i", "--rm", *before, *env_flags, spec, *after]
    else:
        args = ["-y", spec, *after] if kind == "npm" else [spec, *after]
    return Launch(
        _RUNTIMES[kind],
        tuple(args),
        tuple(built.variables),
        tuple(built.notes),
        options=tuple(before),
    )


def _runtime_options(kind: str, arguments: list[Any], built: _Arguments) -> list[str]:
    """The entry's options for docker, each a single ``--name=value`` token so that no
    value can stand in for the image; refused (:class:`Unusable`) where they would
    change what runs or let it past the container.

    npx and uvx get none: with them any runtime argument changes what runs (the
    first positional one is the package; ``--package``, ``--from``, ``--with``,
    ``--node-options``, ``--python`` name other code), and MCP Tray writes npx's
    ``-y`` itself.
    """
    own = _docker_own if kind == "oci" else _npx_own
    kept = [argument for argument in arguments if not own(kind, argument)]
    if kind != "oci":
        if kept:
            raise Unusable(f"runtime arguments for {_RUNTIMES[kind]}, which could change what runs")
        return []
    options = built.render_all(kept, docker=True, joined=True)
    for option in options:
        if not option.startswith("-") or _docker_refused(option):
            raise Unusable(f"the docker option {option[:80]!r}")
    return options


def _npx_own(kind: str, argument: Any) -> bool:
    return (
        kind == "npm"
        and isinstance(argument, Mapping)
        and argument.get("type") == "named"
        and argument.get("name") in _NPX_FLAGS
    )


def _docker_refused(option: str) -> bool:
    name = option.partition("=")[0]
    if name.startswith("--"):
        return name in _DOCKER_REFUSED
    # Short options run together ("-itv" is -i -t -v) or carry their value ("-v/:/x").
    return any(f"-{letter}" in _DOCKER_REFUSED for letter in name[1:])


def _literal(value: str) -> str:
    """``value`` as config.json writes a literal string: ``$${`` for ``${``
    (app.core.config.placeholders)."""
    return value.replace("${", "$${")


def _package_spec(kind: str, identifier: str, version: str | None) -> str:
    """The package as its runtime takes it, pinned when the entry names a version."""
    if kind == "npm" and _NPM_NAME.fullmatch(identifier):
        return f"{identifier}@{version}" if version else identifier
    if kind == "pypi" and _PYPI_NAME.fullmatch(identifier):
        return f"{identifier}=={version}" if version else identifier
    if kind == "oci" and _IMAGE.fullmatch(identifier):
        # Older entries gave the tag as "version"; newer ones put it in the identifier.
        tagged = ":" in identifier.rpartition("/")[2] or "@" in identifier
        return identifier if tagged or not version else f"{identifier}:{version}"
    raise Unusable(f"{identifier!r} is not a {_KINDS[kind]} name")


def _docker_own(kind: str, argument: Any) -> bool:
    """Docker arguments MCP Tray writes itself (run, -i, --rm, the image), listed by
    entries that spell out the whole command line (GitHub's does)."""
    if kind != "oci" or not isinstance(argument, Mapping):
        return False
    if argument.get("type") == "named":
        return argument.get("name") in _DOCKER_FLAGS
    return argument.get("value") == "run" or argument.get("valueHint") == "image_name"


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise Unusable(f"{key} is not a list")
    return value


class _Arguments:
    """Collects what a package's arguments and variables become: argument tokens,
    form variables, and a note for each value the user must fill in."""

    def __init__(self) -> None:
        self.variables: list[VariableSpec] = []
        self.notes: list[str] = []

    def add_variable(self, data: Any, *, name: str = "") -> None:
        if not isinstance(data, Mapping):
            raise Unusable("an environment variable that is not an object")
        name = name or _text(data, "name")
        if not _ENV_NAME.fullmatch(name):
            raise Unusable(f"environment variable name {name!r}")
        value = data.get("value") or data.get("default") or ""
        if not isinstance(value, str):
            raise Unusable(f"the value of {name} is not text")
        secret = data.get("isSecret") is True
        value = self._filled(value, data.get("variables"))
        self.variables.append(
            VariableSpec(
                name=name,
                value=value if secret else _literal(value),  # a secret goes to the keyring
                secret=secret,
                required=data.get("isRequired") is True,
                description=_optional_text(data, "description"),
            )
        )

    def render_all(self, arguments: list[Any], *, docker: bool, joined: bool = False) -> list[str]:
        """The arguments' tokens; ``joined`` writes a named one as ``--name=value``."""
        tokens: list[str] = []
        for argument in arguments:
            rendered = self._render(argument, docker)
            if joined and len(rendered) == 2:
                rendered = ["=".join(rendered)]
            tokens.extend(_literal(token) for token in rendered)
        return tokens

    def _render(self, argument: Any, docker: bool) -> list[str]:
        if not isinstance(argument, Mapping) or argument.get("type") not in {"positional", "named"}:
            raise Unusable("an argument that is neither positional nor named")
        flag = argument.get("name", "") if argument.get("type") == "named" else ""
        if not isinstance(flag, str) or (argument.get("type") == "named" and not flag):
            raise Unusable("a named argument without a name")
        if docker and flag in _DOCKER_ENV_FLAGS:
            return self._docker_env(argument)
        value = self._value(argument, flag)
        if value is None:
            return []
        if argument.get("format") == "boolean" and flag:
            return [flag] if value == "true" else []
        return [flag, value] if flag else [value]

    def _value(self, argument: Mapping[str, Any], flag: str) -> str | None:
        """The argument's value, its default, a placeholder when it is required, or None
        to leave an optional argument out."""
        value = argument.get("value") or argument.get("default")
        if isinstance(value, str) and value:
            return self._filled(value, argument.get("variables"))
        if argument.get("isRequired") is not True:
            return None
        hint = argument.get("valueHint") or flag.lstrip("-") or "value"
        return self._ask(str(hint), _optional_text(argument, "description"))

    def _docker_env(self, argument: Mapping[str, Any]) -> list[str]:
        """``-e NAME={token}`` in docker's arguments: a form variable, passed by name."""
        value = argument.get("value")
        if not isinstance(value, str) or not value:
            return []
        name, _, template = value.partition("=")
        inner = argument.get("variables") or {}
        match = _TEMPLATE.fullmatch(template)
        described = inner.get(match.group(1), {}) if match and isinstance(inner, Mapping) else {}
        spec = {**described, "value": "" if match else template}
        self.add_variable(spec, name=name)
        return []  # added with the other variables' "-e NAME" flags, before the image

    def _filled(self, template: str, variables: Any) -> str:
        """``{name}`` in a value replaced by its variable's value or default; one the
        user must give becomes a placeholder and a note."""
        if not isinstance(variables, Mapping):
            return template

        def fill(match: re.Match[str]) -> str:
            inner = variables.get(match.group(1))
            if not isinstance(inner, Mapping):
                return match.group(0)  # the spec: unknown names stay as written
            given = inner.get("value") or inner.get("default")
            if isinstance(given, str) and given:
                return given
            return self._ask(match.group(1), _optional_text(inner, "description"))

        return _TEMPLATE.sub(fill, template)

    def _ask(self, hint: str, description: str) -> str:
        stand_in = placeholder(hint)
        what = description.rstrip(".") if description else "your own value"
        self.notes.append(f"Replace {stand_in} in the arguments with {_lower_first(what)}.")
        return stand_in


def _lower_first(text: str) -> str:
    """ "A folder the server may use" reads on after "with": "with a folder …"; an
    acronym ("URL of …") keeps its capitals."""
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]
