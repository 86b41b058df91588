"""``.mcpb`` bundles (once ``.dxt``): a server packed in a zip, made into a draft to add.

A bundle is a zip archive with ``manifest.json`` at its root (the MCPB manifest
spec, versions 0.x and 1.x; ``dxt_version`` is that key's older name). Its
``server.mcp_config`` says how to start the server; its ``user_config`` names
the values the user gives it, some ``sensitive``. :func:`draft_from_bundle`
unpacks the archive into ``DATA/bundles/NAME-VERSION`` (app.hosts.bundlezip,
which trusts nothing in it) and returns the draft the Add dialog and
``mcp-tray add --bundle`` show and save.

How a manifest becomes a draft:

- ``${__dirname}`` is that folder, which is also the server's working folder,
  so the relative paths some manifests use work too; ``${HOME}``,
  ``${DESKTOP}``, ``${DOCUMENTS}``, ``${DOWNLOADS}`` and ``${pathSeparator}``
  (``${/}``) are this computer's.
- A ``user_config`` value an ``env`` entry consists of becomes that
  variable: a sensitive one a secret (the keyring's, ``${secret:NAME}`` in
  config.json), its default the value, its title and description the
  variable's description. A sensitive value used in ``args`` is written
  ``${secret:NAME}`` there, which config.json allows in args, so it reaches
  the server from the keyring without being written down. Any other value
  used in ``args`` (or inside a longer ``env`` value) is written in place as
  its default: it is no secret, so the arguments may hold it, and the form
  shows it where it is used. One that has no default and is required stays
  ``${user_config.KEY}`` until :func:`fill` is given a value (the command line
  asks; :func:`unfilled` names them); config.json refuses it, so no draft
  with one left is saved.

Re-adding a version already unpacked replaces its folder only when the user
saves: the new files wait in a sibling folder, and :func:`placed` swaps them
in around the save (and back if the save fails), so a server already running
from that folder keeps its files while the user is still deciding.
:func:`discard` removes what a draft unpacked, for a cancelled add.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from app.core.config import SERVER_NAME_PATTERN, Config
from app.core.config.draft import ServerDraft, Variable
from app.core.config.placeholders import SECRET_NAME_PATTERN
from app.core.supervise.programs import MissingProgram
from app.hosts.bundlezip import LIMITS, BundleError, Limits, opened, read, unpack
from app.hosts.servers import server_path

__all__ = ["LIMITS", "BundleError", "Limits", "MissingRuntime", "draft_from_bundle"]

SUFFIXES = (".mcpb", ".dxt")
BUNDLES = "bundles"  # under the data folder
MANIFEST = "manifest.json"
MANIFEST_MAJORS = ("0", "1")  # 0.1 to 0.4 and 1.0 so far; a minor version only adds fields
SERVER_TYPES = ("node", "python", "binary", "uv")
RUNTIMES = {"node": "Node.js", "python": "Python", "uv": "uv"}  # what the person installs
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_USER_CONFIG = "user_config."


class MissingRuntime(BundleError):
    """The bundle's server runs with a program this computer lacks; ``program`` names it."""

    def __init__(self, message: str, *, program: str) -> None:
        super().__init__(message)
        self.program = program


@dataclass(frozen=True)
class Field:
    """One ``user_config`` entry of the manifest."""

    key: str
    title: str
    description: str
    sensitive: bool
    required: bool
    multiple: bool
    default: list[str] | None  # substituted; several for ``multiple``

    @property
    def described(self) -> str:
        words = ": ".join(part for part in (self.title, self.description) if part)
        return words + (f" (several, separated by {os.pathsep!r})" if self.multiple else "")


def draft_from_bundle(path: Path, data_dir: Path, *, limits: Limits = LIMITS) -> ServerDraft:
    """The draft for the bundle at ``path``, unpacked under ``data_dir``.

    Raises BundleError (MissingRuntime when the program it runs with is not
    installed) with nothing left behind.
    """
    with opened(path) as archive:
        manifest = _manifest(archive, path, limits)
        folder = data_dir / BUNDLES / _folder_name(manifest)
        draft = _draft(manifest, folder, _names(archive))
        _check_runtime(draft, str(manifest["server"]["type"]))
        _unpack_for(archive, folder, limits)
    _make_executable(folder, manifest)
    return draft


# ----- the archive


def _names(archive: zipfile.ZipFile) -> set[str]:
    return {info.filename.replace("\\", "/") for info in archive.infolist()}


def _manifest(archive: zipfile.ZipFile, path: Path, limits: Limits) -> dict[str, Any]:
    try:
        info = archive.getinfo(MANIFEST)
    except KeyError:
        raise BundleError(
            f"{path.name} is a zip archive but not a bundle: it has no manifest.json, which "
            "says how to run its server."
        ) from None
    if info.file_size > limits.manifest_bytes:
        raise BundleError(f"The manifest.json of {path.name} is too large to be a manifest.")
    try:
        manifest = json.loads(read(archive, info, limits.manifest_bytes))
    except (ValueError, UnicodeDecodeError) as error:
        raise BundleError(f"The manifest.json of {path.name} cannot be read: {error}.") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"The manifest.json of {path.name} does not describe a server.")
    _check_manifest(manifest, path.name)
    return manifest


def _check_manifest(manifest: dict[str, Any], filename: str) -> None:
    version = str(manifest.get("manifest_version") or manifest.get("dxt_version") or "")
    if version.partition(".")[0] not in MANIFEST_MAJORS:
        said = f"version {version}" if version else "no version"
        raise BundleError(
            f"{filename} has a manifest of {said}, which this MCP Tray does not understand; "
            "a newer MCP Tray may open it."
        )
    for key in ("name", "version"):
        if not isinstance(manifest.get(key), str) or not manifest[key].strip():
            raise BundleError(f"The manifest of {filename} does not give the bundle's {key}.")
    server = manifest.get("server")
    if not isinstance(server, dict) or server.get("type") not in SERVER_TYPES:
        raise BundleError(
            f"The manifest of {filename} does not say how its server runs (server.type: "
            "node, python, binary or uv)."
        )
    if not isinstance(server.get("entry_point"), str) or not server["entry_point"]:
        raise BundleError(f"The manifest of {filename} does not name its server's entry point.")
    platforms = (manifest.get("compatibility") or {}).get("platforms")
    if isinstance(platforms, list) and platforms and sys.platform not in platforms:
        named = ", ".join(_PLATFORM_NAMES.get(str(p), str(p)) for p in platforms)
        raise BundleError(f"{filename} is made for {named} only, not for this computer.")


_PLATFORM_NAMES = {"darwin": "macOS", "win32": "Windows", "linux": "Linux"}


def _folder_name(manifest: dict[str, Any]) -> str:
    def safe(word: str) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "-", word).strip(".-")[:80] or "bundle"

    return f"{safe(manifest['name'])}-{safe(manifest['version'])}"


# ----- unpacking


def _unpack_for(archive: zipfile.ZipFile, folder: Path, limits: Limits) -> None:
    """Unpack into ``folder``, or beside it when a save is to replace it (:func:`placed`).

    The files go to a new hidden folder first and are renamed into place whole,
    so no one ever sees half a bundle.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        unpack(archive, temporary, limits)
        target = _staged(folder) if folder.exists() else folder
        if target.exists():
            shutil.rmtree(target)  # an earlier add of this version, never saved
        os.replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _make_executable(folder: Path, manifest: dict[str, Any]) -> None:
    """A binary bundle's entry point runs as a program, whatever the zip kept of its mode."""
    if manifest["server"]["type"] != "binary":
        return
    for where in (folder, _staged(folder)):
        entry = where / _entry_point(manifest["server"])
        if entry.is_file():
            os.chmod(entry, 0o755)


def _entry_point(server: dict[str, Any]) -> str:
    """The entry point as the archive names it: manifests written on Windows use ``\\``."""
    return str(server["entry_point"]).replace("\\", "/").removeprefix("./")


def _staged(folder: Path) -> Path:
    """Where a new unpack of an already unpacked version waits for the save."""
    return folder.with_name(f".{folder.name}.new")


# ----- the draft


def _draft(manifest: dict[str, Any], folder: Path, names: set[str]) -> ServerDraft:
    server: dict[str, Any] = manifest["server"]
    entry_point = _entry_point(server)
    if entry_point not in names:
        raise BundleError(
            f"The bundle names {entry_point} as its server, but does not hold it; "
            "ask its maker for a complete bundle."
        )
    mcp_config = _mcp_config(server, entry_point)
    mapping = _Mapping(folder, _fields(manifest, folder))
    draft = ServerDraft(
        name=_server_name(str(manifest["name"])),
        cwd=str(folder),
        description=str(manifest.get("description") or manifest.get("display_name") or ""),
    )
    env = mapping.variables(_strings(mcp_config.get("env"), dict))  # first: it names secrets
    draft.command = _command(mapping.text(str(mcp_config.get("command") or "")), folder)
    draft.args = mapping.args(_strings(mcp_config.get("args"), list))
    draft.variables = env + mapping.extra
    draft.notes = mapping.notes
    return draft


def _mcp_config(server: dict[str, Any], entry_point: str) -> dict[str, Any]:
    """``mcp_config`` with this platform's overrides, or what the type implies without one."""
    config = server.get("mcp_config")
    if not isinstance(config, dict) or not config.get("command"):
        runs = {
            "node": ["node", entry_point],
            "python": ["python3", entry_point],
            "uv": ["uv", "run", "--directory", "${__dirname}", entry_point],
            "binary": [entry_point],
        }[server["type"]]
        return {"command": runs[0], "args": runs[1:]}
    merged = dict(config)
    override = (config.get("platform_overrides") or {}).get(sys.platform)
    if isinstance(override, dict):
        merged.update({k: v for k, v in override.items() if k in ("command", "args") and v})
        merged["env"] = {**(config.get("env") or {}), **(override.get("env") or {})}
    return merged


def _strings(value: Any, kind: type) -> Any:
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise BundleError(f"The bundle's mcp_config is malformed: expected a {kind.__name__}.")
    return value


def _command(command: str, folder: Path) -> str:
    """A program inside the bundle by its full path; a runtime (``node``) as it is."""
    if "/" not in command and "\\" not in command:
        return command
    path = Path(command) if os.path.isabs(command) else folder / command
    if sys.platform == "win32" and not path.suffix:
        path = path.with_suffix(".exe")  # the spec's one Windows rule for binaries
    return str(path)


def _server_name(name: str) -> str:
    """The manifest's name, made to follow the config's rule for server names."""
    tidy = re.sub(r"[^A-Za-z0-9_.-]+", "-", name.strip().lower()).strip("-._")[:100]
    return tidy if SERVER_NAME_PATTERN.fullmatch(tidy) else "bundle"


def _fields(manifest: dict[str, Any], folder: Path) -> dict[str, Field]:
    raw = manifest.get("user_config") or {}
    if not isinstance(raw, dict):
        raise BundleError("The bundle's user_config is malformed.")
    system = _Mapping(folder, {})
    fields = {}
    for key, spec in raw.items():
        if not isinstance(spec, dict):
            raise BundleError(f"The bundle's setting {key} is malformed.")
        fields[key] = Field(
            key=key,
            title=str(spec.get("title") or ""),
            description=str(spec.get("description") or ""),
            sensitive=bool(spec.get("sensitive")),
            required=bool(spec.get("required")),
            multiple=bool(spec.get("multiple")),
            default=_default(spec.get("default"), system),
        )
    return fields


def _default(value: Any, system: _Mapping) -> list[str] | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    return [system.text(_as_text(item)) for item in values]


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # as the spec writes booleans
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Mapping:
    """Substitution in one manifest's ``mcp_config``; what it could not decide goes to
    ``notes``, in words."""

    def __init__(self, folder: Path, fields: dict[str, Field]) -> None:
        self.fields = fields
        self.notes: list[str] = []
        self._secret_names: dict[str, str] = {}
        self.extra: list[Variable] = []  # secrets no env entry is
        self._system = {
            "__dirname": str(folder),
            "HOME": str(Path.home()),
            "DESKTOP": platformdirs.user_desktop_dir(),
            "DOCUMENTS": platformdirs.user_documents_dir(),
            "DOWNLOADS": platformdirs.user_downloads_dir(),
            "pathSeparator": os.sep,
            "/": os.sep,
        }

    def variables(self, env: dict[str, Any]) -> list[Variable]:
        """The env entries; a whole ``${user_config.KEY}`` value makes the entry that
        setting (so a secret is kept under the variable's own name)."""
        wholes = {name: self._whole(value) for name, value in env.items()}
        for name, key in wholes.items():
            if key in self.fields and self.fields[key].sensitive:
                self._secret_names.setdefault(key, name)
        found = []
        for name, value in env.items():
            key = wholes[name]
            if key in self.fields:
                found.append(self._variable(name, self.fields[key]))
            else:
                found.append(Variable(name, self.text(str(value))))
        return found

    def args(self, args: list[Any]) -> list[str]:
        found: list[str] = []
        for arg in map(str, args):
            key = self._whole(arg)
            field = self.fields.get(key or "")
            if field and not field.sensitive and field.default is not None:
                found += field.default  # several for ``multiple``, as the spec expands them
            elif field and not field.sensitive and not field.required:
                self.notes.append(f"{field.title or field.key} was left out of the arguments.")
            else:
                found.append(self.text(arg))
        return found

    def text(self, text: str) -> str:
        return _PLACEHOLDER.sub(lambda match: self._one(match.group(1)), text)

    def _one(self, name: str) -> str:
        if name in self._system:
            return self._system[name].replace("${", "$${")
        key = name.removeprefix(_USER_CONFIG)
        if name.startswith(_USER_CONFIG) and key in self.fields:
            return self._user_value(self.fields[key])
        raise BundleError(
            f"The bundle's manifest uses ${{{name[:40]}}}, which MCP Tray does not know, so it "
            "cannot give its server the right value."
        )

    def _user_value(self, field: Field) -> str:
        if field.sensitive:
            return f"${{secret:{self._secret_for(field)}}}"
        if field.default is not None:
            return os.pathsep.join(field.default).replace("${", "$${")
        if field.required:
            self.notes.append(f"{_replace(field.key)}{field.described}.")
            return f"${{{_USER_CONFIG}{field.key}}}"
        return ""

    def _secret_for(self, field: Field) -> str:
        """The secret a sensitive setting is kept as: the env entry it is, else its own."""
        if field.key not in self._secret_names:
            name = field.key if SECRET_NAME_PATTERN.fullmatch(field.key) else "secret"
            self._secret_names[field.key] = name
            self.extra.append(self._variable(name, field))
        return self._secret_names[field.key]

    def _variable(self, name: str, field: Field) -> Variable:
        value = os.pathsep.join(field.default or [])
        return Variable(
            name,
            value if field.sensitive else value.replace("${", "$${"),
            secret=field.sensitive,
            required=field.required,
            description=field.described,
        )

    @staticmethod
    def _whole(value: Any) -> str | None:
        match = _PLACEHOLDER.fullmatch(str(value))
        if match and match.group(1).startswith(_USER_CONFIG):
            return match.group(1).removeprefix(_USER_CONFIG)
        return None


# ----- the runtime


def _check_runtime(draft: ServerDraft, server_type: str) -> None:
    """The program the server starts with must be found on the PATH it will get; a
    ``python`` that is missing where ``python3`` is found is taken as that."""
    path = server_path(draft, os.environ)
    if shutil.which(draft.command, path=path) is not None:
        return
    if draft.command == "python" and shutil.which("python3", path=path) is not None:
        draft.command = "python3"  # macOS and most Linux distributions have only python3
        return
    if server_type == "binary" or os.path.isabs(draft.command):
        return  # inside the bundle, which is not unpacked yet; it is checked when saved
    missing = MissingProgram(draft.command)
    source = missing.source
    runtime = source.product if source else RUNTIMES.get(server_type, missing.name)
    raise MissingRuntime(
        f"This bundle needs {runtime} ({missing.name}), which is not installed. "
        f"{missing.get_it()}, then open the bundle again.",
        program=missing.name,
    )


# ----- values to give, saving, cancelling


def unfilled(draft: ServerDraft) -> list[str]:
    """The settings still written ``${user_config.KEY}``: each needs a value (:func:`fill`)
    before the draft can be saved."""
    texts = [*draft.args, *(v.value for v in draft.variables if not v.secret)]
    keys = dict.fromkeys(
        match.group(1).removeprefix(_USER_CONFIG)
        for text in texts
        for match in _PLACEHOLDER.finditer(text)
        if match.group(1).startswith(_USER_CONFIG)
    )
    return list(keys)


def questions(draft: ServerDraft) -> dict[str, str]:
    """What to ask for each of :func:`unfilled`, in the manifest's words (its title and
    description), for a form that asks for them one by one."""
    asked = {}
    for key in unfilled(draft):
        note = next((n for n in draft.notes if n.startswith(_replace(key))), "")
        asked[key] = note.removeprefix(_replace(key)).removesuffix(".") or key
    return asked


def without_questions(notes: list[str]) -> list[str]:
    """The notes that are not :func:`questions` (a form asks those in fields of their own)."""
    return [note for note in notes if not note.startswith(f"Replace ${{{_USER_CONFIG}")]


def _replace(key: str) -> str:
    return f"Replace ${{{_USER_CONFIG}{key}}} with "


def fill(draft: ServerDraft, key: str, value: str) -> None:
    """Put ``value`` where the draft says ``${user_config.KEY}``; an argument that is
    only that becomes one argument per ``os.pathsep``-separated part."""
    marker = f"${{{_USER_CONFIG}{key}}}"
    literal = value.replace("${", "$${")
    args: list[str] = []
    for arg in draft.args:
        if arg == marker:
            args += [part.replace("${", "$${") for part in value.split(os.pathsep) if part]
        else:
            args.append(arg.replace(marker, literal))
    draft.args = args
    for variable in draft.variables:
        if not variable.secret:
            variable.value = variable.value.replace(marker, literal)
    draft.notes = [note for note in draft.notes if marker not in note]


def drop_unset(draft: ServerDraft) -> None:
    """Leave out the secrets that are neither required nor given: a server whose config
    names a secret waits until it is set."""
    unset = {v.name for v in draft.variables if v.secret and not v.required and not v.value}
    draft.variables = [v for v in draft.variables if v.name not in unset]
    draft.args = [arg for arg in draft.args if arg not in {f"${{secret:{n}}}" for n in unset}]


@contextmanager
def placed(draft: ServerDraft, data_dir: Path) -> Iterator[None]:
    """Around the save: a version unpacked again replaces the folder the draft runs in,
    and is put back as it was when the save raises."""
    folder = _bundle_folder(draft, data_dir)
    staged = _staged(folder) if folder else None
    if folder is None or staged is None or not staged.exists():
        yield
        return
    aside = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(aside, ignore_errors=True)
    os.replace(folder, aside)
    os.replace(staged, folder)
    try:
        yield
    except BaseException:
        os.replace(folder, staged)
        os.replace(aside, folder)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def discard(draft: ServerDraft, data_dir: Path, config: Config) -> None:
    """Remove what the draft unpacked and no saved server runs from: for a cancelled
    add, or one whose start failed and that the user chose to discard."""
    folder = _bundle_folder(draft, data_dir)
    if folder is None:
        return
    shutil.rmtree(_staged(folder), ignore_errors=True)
    in_use = {os.path.normpath(server.cwd or "") for server in config.servers.values()}
    if os.path.normpath(folder) not in in_use:
        with suppress(FileNotFoundError):
            shutil.rmtree(folder)


def _bundle_folder(draft: ServerDraft, data_dir: Path) -> Path | None:
    """The draft's folder, if it is one of the unpacked bundles (nothing else is touched)."""
    folder = Path(draft.cwd)
    inside = draft.cwd and folder.parent == data_dir / BUNDLES and not folder.name.startswith(".")
    return folder if inside else None


def is_bundle(path: str) -> bool:
    """Whether a file name is a bundle's, as a desktop passes it when one is opened."""
    return path.lower().endswith(SUFFIXES)
