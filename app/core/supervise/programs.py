"""The programs servers are started with, and where a person gets each one.

READMEs start servers with a handful of programs (``npx``, ``uvx``, ``docker``
…). When one is missing, the words that say so name what to install, which
is not the program itself ("Node.js", not "npx"), and where to get it. The
supervisor's state, the tray's notice and problem line, and the Add dialog's
check all word it from this one table.

Only a bare name (``npx``) is looked up on PATH, so only a bare name can be a
missing install. A path (``./build/index.js``, ``/opt/tool/bin/tool``) that
is not there is a mistake in the settings, or a server not built yet: the
words say that instead (:func:`path_missing`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import PurePath


@dataclass(frozen=True)
class Source:
    product: str  # what a person installs: "Node.js"
    site: str  # where to get it, as a person types it: "nodejs.org"


_NODE = Source("Node.js", "nodejs.org")
_UV = Source("uv", "docs.astral.sh/uv")
_PYTHON = Source("Python", "python.org")
_BUN = Source("Bun", "bun.sh")

SOURCES: dict[str, Source] = {
    "npx": _NODE,
    "node": _NODE,
    "npm": _NODE,
    "uvx": _UV,
    "uv": _UV,
    "python": _PYTHON,
    "python3": _PYTHON,
    # Linux has Docker Engine from its packages; Docker Desktop is what the others install.
    "docker": Source(
        "Docker" if sys.platform.startswith("linux") else "Docker Desktop", "docker.com"
    ),
    "bun": _BUN,
    "bunx": _BUN,
    "deno": Source("Deno", "deno.com"),
    "pnpm": Source("pnpm", "pnpm.io"),
}


@dataclass(frozen=True)
class MissingProgram:
    """A program a server is started with that this computer does not have."""

    command: str  # as the config gives it: "npx", or a path

    @property
    def name(self) -> str:
        """The program's own name: "npx", not "/usr/local/bin/npx"."""
        return PurePath(self.command).name or self.command

    @property
    def source(self) -> Source | None:
        return SOURCES.get(self.name.lower().removesuffix(".exe"))

    def product(self) -> str:
        """What a person installs: "Node.js", or "the program mytool"."""
        source = self.source
        return source.product if source else f"the program {self.name}"

    def what(self) -> str:
        """ "Node.js (npx)", or "the program mytool" for one this table does not know."""
        source = self.source
        return f"{source.product} ({self.name})" if source else f"the program {self.name}"

    def get_it(self) -> str:
        """ "Get it from nodejs.org", or "Install it" when the table does not know where."""
        source = self.source
        return f"Get it from {source.site}" if source else "Install it"

    def phrase(self) -> str:
        """After the server's name, for its log and ``mcp-tray status``."""
        get_it = self.get_it()
        get_it = get_it[:1].lower() + get_it[1:]
        return f"needs {self.what()}, which is not installed; {get_it}, then try again"


def is_path(command: str) -> bool:
    """A command that names a file (``./build/index.js``), not a program looked up on PATH."""
    return os.sep in command or bool(os.altsep and os.altsep in command)


def path_missing(command: str, folder: str | None) -> str:
    """Why a server whose program is a path that does not exist cannot start; ``folder``:
    the one a relative path is taken in (None for an absolute one)."""
    where = f" (in {folder})" if folder is not None else ""
    return (
        f"its program {command} does not exist{where}; check the program in the server's settings "
        "— a server you build yourself may need building first"
    )
