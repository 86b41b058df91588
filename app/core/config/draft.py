"""A server being added or edited, before it is written: what the Add dialog's form
shows, and what a pasted snippet, a catalog entry or an ``.mcpb`` bundle becomes.

A draft keeps secrets apart from everything else: :attr:`ServerDraft.secrets`
holds the values the user typed (or has yet to type) for the keyring, and
:meth:`ServerDraft.config_entry` writes only ``${secret:NAME}`` in their
place, so a secret never reaches ``config.json``.

:func:`is_placeholder` tells a README's stand-in ("<YOUR_TOKEN>", "ghp_XXXX")
from a value: a pasted stand-in comes in empty, for the user to fill in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Variable:
    """One environment variable of the server.

    ``secret``: kept in the keyring under ``name`` (the value goes there, and
    the file says ``${secret:NAME}``); ``required``: the server cannot run
    without it, so the form asks for it before saving. ``description``: what
    it is, in the words of whoever described the server (a catalog entry).
    """

    name: str
    value: str = ""
    secret: bool = False
    required: bool = False
    description: str = ""


@dataclass
class ServerDraft:
    """Everything the form edits. ``remote_url``: the server only runs remotely
    (a catalog entry with ``remotes`` and no package), which MCP Tray cannot
    run yet; the form says so instead of offering to save."""

    name: str = ""
    command: str = ""
    args: list[str] = field(default_factory=list)
    cwd: str = ""
    variables: list[Variable] = field(default_factory=list)
    watch: bool = False
    shared: bool = True
    description: str = ""
    remote_url: str = ""
    notes: list[str] = field(default_factory=list)  # what the translation changed, in words

    @property
    def secrets(self) -> dict[str, str]:
        """The values that go to the keyring, by name (empty ones included)."""
        return {v.name: v.value for v in self.variables if v.secret}

    def missing(self) -> list[str]:
        """Names of required variables without a value."""
        return [v.name for v in self.variables if v.required and not v.value]

    @property
    def downloads(self) -> bool:
        """Whether its program is a package runner that may download the server when it
        first starts (npx, uvx, pipx run, docker run …), so that start may take a while."""
        program = re.split(r"[/\\]", self.command.strip())[-1].lower()
        program = re.sub(r"\.(exe|cmd|bat)$", "", program)
        if program in _DOWNLOADING:
            return True
        first = next((arg for arg in self.args if not arg.startswith("-")), "")
        return first in _DOWNLOADING_WITH.get(program, ())

    def config_entry(self) -> dict[str, Any]:
        """The ``mcpServers`` entry for config.json: secrets as ``${secret:NAME}``,
        defaults left out so the file stays as short as a hand-written one."""
        entry: dict[str, Any] = {"command": self.command}
        if self.args:
            entry["args"] = list(self.args)
        env = {v.name: f"${{secret:{v.name}}}" if v.secret else v.value for v in self.variables}
        if env:
            entry["env"] = env
        if self.cwd:
            entry["cwd"] = self.cwd
        if self.watch:
            entry["watch"] = True
        if not self.shared:
            entry["shared"] = False
        return entry


# Package runners that fetch the server they run, on their own or with a word first.
_DOWNLOADING = frozenset({"npx", "pnpx", "bunx", "uvx"})
_DOWNLOADING_WITH = {
    "pipx": ("run",),
    "pnpm": ("dlx",),
    "yarn": ("dlx",),
    "npm": ("exec",),
    "uv": ("tool",),
    "docker": ("run",),
    "podman": ("run",),
    "deno": ("run",),
}

# What a README writes where the reader's own value goes. Kept narrow, so that no real
# token is taken for one: a whole value in angle brackets; a name-like value holding a
# word that asks to be replaced; or a run of X or * (after a prefix such as ghp_).
_BRACKETED = re.compile(r"<[^<>]+>")
_WRAPPED = re.compile(r"\$\{(?:env:)?([^{}]*)\}|\[([^\[\]]*)\]")
_NAME_LIKE = re.compile(r"[A-Za-z0-9_. -]+")
_ASKING_WORDS = frozenset({"your", "replace", "replaceme", "changeme", "placeholder"})
_MASKED = re.compile(r"(?:[A-Za-z0-9]+[_-])?(?:[Xx]{3,}|\*{3,})(?:[_-](?:[Xx]{3,}|\*{3,}))*")


def is_placeholder(value: str) -> bool:
    """Whether ``value`` is a stand-in for the reader's own, not a value: "<YOUR_TOKEN>",
    "YOUR_API_KEY", "your-token-here", "CHANGE_ME", "xxx", "ghp_XXXXXXXX", "${YOUR_TOKEN}"."""
    text = value.strip()
    if _BRACKETED.fullmatch(text):
        return True
    if wrapped := _WRAPPED.fullmatch(text):
        text = (wrapped[1] if wrapped[1] is not None else wrapped[2]).strip()
    if _MASKED.fullmatch(text):
        return True
    if not _NAME_LIKE.fullmatch(text):
        return False  # a path, a URL, a sentence: the user's own
    words = [word for word in re.split(r"[_. -]+", text.lower()) if word]
    joined = "".join(words)
    return bool(_ASKING_WORDS & set(words)) or "changeme" in joined or "replaceme" in joined
