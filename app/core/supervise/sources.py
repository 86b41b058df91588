"""Which files belong to a server's source tree: the ``watch`` setting made concrete.

``"watch": true`` asks MCP Tray to work out the tree from the command line:
the first script argument that exists (``server.py``, ``build/index.js``)
leads to its project root, the nearest folder upwards holding a marker such
as ``pyproject.toml`` or ``package.json``; ``uv run --directory X`` names X
outright. Package runners (``npx -y pkg``, ``uvx pkg``) run published code, so
nothing local is watched and the reason says so. A list of globs, or an object
with ``paths``/``include``/``exclude``, states the tree explicitly.

The outcome is a :class:`SourceTree`: the roots to watch and a filter that
decides, for any changed path, whether it is source. The filter always skips
what no one edits by hand (``.git``, ``node_modules``, virtual environments,
caches, build output, editor swap files) and honours ``.gitignore``. All of
this is pure: it reads the disk but never watches it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

from app.core.config import ServerConfig, WatchConfig

# Files that mark the top of a project, nearest first wins.
PROJECT_MARKERS = (
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "package.json",
    "deno.json",
    "deno.jsonc",
    "Cargo.toml",
    "go.mod",
    ".git",
)

# Commands that fetch and run a published package: its code is not the user's to edit.
PACKAGE_RUNNERS = frozenset({"npx", "pnpx", "bunx", "uvx", "pipx", "docker", "podman"})
_RUNNER_SUBCOMMANDS = {"uv": ("tool", "run"), "pnpm": ("dlx",), "yarn": ("dlx",)}
_DIRECTORY_OPTIONS = frozenset({"--directory", "--project"})  # uv's way of naming the project

# Build output is ignored unless the server runs from it (node build/index.js)
# or the user's include patterns name it.
BUILD_OUTPUT = ("dist", "build")

# Never edited by hand, or written by the server and its tools while it runs:
# a change there must not restart anything. Gitignore syntax.
DEFAULT_IGNORES = (
    ".git/",
    ".hg/",
    ".svn/",
    "node_modules/",
    ".venv/",
    "venv/",
    "__pycache__/",
    "*.py[cod]",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".tox/",
    ".nox/",
    "*.egg-info/",
    ".coverage",
    "htmlcov/",
    ".idea/",
    ".vscode/",
    ".DS_Store",
    # editor swap, backup and safe-write files (vim, emacs, JetBrains, Kate, …)
    "*.swp",
    "*.swo",
    "*.swx",
    "*~",
    ".#*",
    r"\#*#",  # a leading "#" would start a comment
    "4913",
    "*.tmp",
    "*___jb_tmp___",
    "*___jb_old___",
    ".*.kate-swp",
    # data a server typically writes into its own folder while it runs
    "*.log",
    "*.sqlite",
    "*.sqlite3",
    "*.db",
    "*.db-journal",
    "*.db-wal",
    "*.db-shm",
)

DEFAULT_DEBOUNCE_MS = WatchConfig().debounce_ms


class NotWatchable(Exception):
    """``watch`` is on but no source tree can be told; the message says why and what to do."""


@dataclass(frozen=True)
class _Rules:
    """The include/exclude rules of one root, matched against paths relative to it."""

    root: Path
    ignored: GitIgnoreSpec
    included: GitIgnoreSpec | None  # None: everything not ignored


@dataclass(frozen=True)
class SourceTree:
    """The paths to watch for one server, and which changes under them count."""

    roots: tuple[Path, ...]  # directories (watched recursively) or single files
    debounce_s: float
    rules: tuple[_Rules, ...]

    def is_source(self, path: Path, *, directory: bool = False) -> bool:
        """Whether a change to ``path`` (a file, or a ``directory``) should restart the server."""
        rules = self._rules_for(path)
        if rules is None:
            return False
        if path == rules.root:
            return True
        relative = path.relative_to(rules.root).as_posix()
        if directory:  # a new folder counts, unless only certain files do
            return rules.included is None and not rules.ignored.match_file(relative + "/")
        if rules.ignored.match_file(relative):
            return False
        return rules.included is None or rules.included.match_file(relative)

    def watches(self, directory: Path) -> bool:
        """Whether a folder needs watching at all: ignored ones (``node_modules``) do not."""
        rules = self._rules_for(directory)
        if rules is None or directory == rules.root:
            return rules is not None
        return not rules.ignored.match_file(directory.relative_to(rules.root).as_posix() + "/")

    def _rules_for(self, path: Path) -> _Rules | None:
        return next((r for r in self.rules if path == r.root or r.root in path.parents), None)

    def describe(self) -> str:
        return ", ".join(str(root) for root in self.roots)


def source_tree(server: ServerConfig, *, home: Path | None = None) -> SourceTree | None:
    """The tree ``server.watch`` asks for; None when watching is off.

    Raises NotWatchable when watching is on but the tree cannot be told.
    """
    home = home or Path.home()
    watch = server.watch
    if watch is False:
        return None
    if watch is True:
        entry = _infer(server, home)
        return _tree([entry.root], keep=entry.keep, include=(), exclude=())
    if isinstance(watch, list):
        return _tree([_base(server, home)], keep=(), include=watch, exclude=())
    return _explicit(server, watch, home)


def single_file(path: Path, *, debounce_ms: int = DEFAULT_DEBOUNCE_MS) -> SourceTree:
    """Just one file, such as the config: its saves, including atomic ones."""
    return _tree([path], keep=(), include=(), exclude=(), debounce_ms=debounce_ms)


def _explicit(server: ServerConfig, watch: WatchConfig, home: Path) -> SourceTree:
    base_dir = server.resolved_cwd() or Path.cwd()
    if watch.paths:
        roots = [(base_dir / Path(path).expanduser()).resolve() for path in watch.paths]
        keep: Sequence[str] = ()
    else:
        entry = _infer(server, home)
        roots, keep = [entry.root], entry.keep
    return _tree(
        roots,
        keep=keep,
        include=watch.include,
        exclude=watch.exclude,
        debounce_ms=watch.debounce_ms,
    )


def _tree(
    roots: Sequence[Path],
    *,
    keep: Sequence[str],
    include: Sequence[str],
    exclude: Sequence[str],
    debounce_ms: int = DEFAULT_DEBOUNCE_MS,
) -> SourceTree:
    """Patterns are matched against paths relative to the root that holds the change."""
    named = {part.strip("/") for pattern in include for part in pattern.split("/")}
    kept = {*keep, *(name for name in BUILD_OUTPUT if name in named)}
    rules = []
    for root in roots:
        ignores = [
            *DEFAULT_IGNORES,
            *(f"/{name}/" for name in BUILD_OUTPUT if name not in kept),
            *_gitignore_lines(root),
            *(f"!/{name}/" for name in kept),  # even where .gitignore lists it
            *exclude,
        ]
        rules.append(
            _Rules(
                root=root,
                ignored=GitIgnoreSpec.from_lines(ignores),
                included=GitIgnoreSpec.from_lines(include) if include else None,
            )
        )
    return SourceTree(roots=tuple(roots), debounce_s=debounce_ms / 1000, rules=tuple(rules))


# ----- inferring the project from the command line


@dataclass(frozen=True)
class _Entry:
    root: Path
    keep: tuple[str, ...] = ()  # build-output folders the server runs from


def _infer(server: ServerConfig, home: Path) -> _Entry:
    cwd = server.resolved_cwd() or Path.cwd()
    command = Path(server.command).name
    args = server.args
    if command == "uv" and (directory := _option_value(args, _DIRECTORY_OPTIONS)):
        return _Entry(_safe_root((cwd / Path(directory).expanduser()).resolve(), home))
    if _runs_a_package(command, args):
        raise NotWatchable(
            f"{command} runs a published package, so there are no local sources to watch; "
            'list the folders to watch in "watch": {"paths": [...]} if you edit it locally'
        )
    script = next((path for arg in args if (path := _existing_file(arg, cwd))), None)
    if script is not None:
        root = _project_root(script.parent, home) or script.parent
        if root in (home, Path(root.anchor)):
            return _Entry(script)  # a lone script in the home folder: just that file
        keep = tuple(name for name in BUILD_OUTPUT if name in script.relative_to(root).parts)
        return _Entry(root, keep)
    if server.cwd is not None and (project := _project_root(cwd, home)):
        return _Entry(project)  # python -m package, run from its project
    raise NotWatchable(
        "cannot tell where its source files are from the command line; "
        'list them in "watch": {"paths": [...]}, or set "cwd" to the project folder'
    )


def _base(server: ServerConfig, home: Path) -> Path:
    """Where a list of globs is anchored: the working directory, else the project."""
    if server.cwd is not None:
        return (server.resolved_cwd() or Path.cwd()).resolve()
    return _infer(server, home).root


def _runs_a_package(command: str, args: Sequence[str]) -> bool:
    if command in PACKAGE_RUNNERS:
        return True
    subcommand = _RUNNER_SUBCOMMANDS.get(command)
    words = [arg for arg in args if not arg.startswith("-")]
    return subcommand is not None and tuple(words[: len(subcommand)]) == subcommand


def _option_value(args: Sequence[str], options: Iterable[str]) -> str | None:
    for index, arg in enumerate(args):
        name, equals, value = arg.partition("=")
        if name in options:
            if equals:
                return value
            if index + 1 < len(args):
                return args[index + 1]
    return None


def _existing_file(arg: str, cwd: Path) -> Path | None:
    if arg.startswith("-") or not arg.strip():
        return None
    path = cwd / Path(arg).expanduser()
    try:
        return path.resolve() if path.is_file() else None
    except OSError:  # a name too long to be a path, say
        return None


def _project_root(start: Path, home: Path) -> Path | None:
    """The nearest folder from ``start`` upwards holding a project marker, below ``home``."""
    for folder in (start, *start.parents):
        if folder == home or folder == Path(folder.anchor):
            return None
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    return None


def _safe_root(root: Path, home: Path) -> Path:
    if root in (home, Path(root.anchor)):
        raise NotWatchable(f"would watch all of {root}; list the folders to watch instead")
    return root


def _gitignore_lines(root: Path) -> list[str]:
    """The root's own ``.gitignore`` (a file root has none)."""
    try:
        return (root / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def relative_display(path: Path, roots: Sequence[Path]) -> str:
    """A changed path as a person reads it in a log line: relative to its root."""
    for root in roots:
        if root in path.parents:
            return os.fsdecode(path.relative_to(root))
    return str(path)
