"""``${secret:NAME}`` and ``${env:NAME}`` in a server's ``args`` and ``env``.

The config names secrets, never holds them: ``"GITHUB_TOKEN":
"${secret:GITHUB_TOKEN}"`` is filled in from the keyring when the server is
spawned, from that server's own entries only. ``${env:NAME}`` takes a value
from MCP Tray's environment. ``$${`` writes a literal ``${``.

Checking is strict, because a typo here would otherwise reach the server as
a literal string: other hosts' forms (``${input:…}``, ``${workspaceFolder}``,
``${VAR}``) are config errors that say what to write instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SECRET_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_PLACEHOLDER = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
KINDS = ("secret", "env")


class PlaceholderError(ValueError):
    """A ``${…}`` that MCP Tray cannot expand; the message says what to write instead."""


class MissingValues(Exception):
    """Placeholders whose values are not there (yet); ``secrets`` and ``variables`` name them."""

    def __init__(self, server: str, *, secrets: Sequence[str], variables: Sequence[str]) -> None:
        self.server = server
        self.secrets = tuple(secrets)
        self.variables = tuple(variables)
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        parts = []
        if self.secrets:
            names = ", ".join(self.secrets)
            first = self.secrets[0]
            parts.append(
                f"needs the secret{'s' if len(self.secrets) > 1 else ''} {names}: set "
                f"{'them' if len(self.secrets) > 1 else 'it'} from the tray or with "
                f"`mcp-tray secret set {self.server} {first}`"
            )
        if self.variables:
            names = ", ".join(self.variables)
            parts.append(f"uses the environment variable(s) {names}, not set for MCP Tray")
        return "; ".join(parts)


@dataclass(frozen=True)
class Placeholder:
    kind: str  # "secret" or "env"
    name: str


def placeholders_in(value: str) -> list[Placeholder]:
    """The placeholders of one string; raises PlaceholderError on a malformed one."""
    found = []
    for match in _PLACEHOLDER.finditer(value):
        if match.group(0) == "$${":
            continue
        body = match.group(1)
        if body is None:
            raise PlaceholderError('"${" without a closing "}" (write "$${" for a literal "${")')
        found.append(_parse(body))
    return found


def _parse(body: str) -> Placeholder:
    # The messages never quote what the user wrote between the braces: it may be
    # a token pasted where a name belongs. The error's line and column point at it.
    kind, colon, name = body.partition(":")
    if not colon:
        if body.startswith("workspaceFolder"):
            raise PlaceholderError(
                "${workspaceFolder} is a VS Code variable; write the path instead"
            )
        raise PlaceholderError(
            'a ${…} without "env:" or "secret:": write ${env:NAME} for an environment '
            "variable or ${secret:NAME} for a secret from the keyring"
        )
    if kind not in KINDS:
        vscode = "VS Code's ${input:…} prompts do not work here; " if kind == "input" else ""
        raise PlaceholderError(
            f"{vscode}unknown placeholder: MCP Tray understands ${{secret:NAME}} "
            "(from the keyring) and ${env:NAME} (from its environment)"
        )
    if not SECRET_NAME_PATTERN.fullmatch(name):
        raise PlaceholderError(
            f'the name in ${{{kind}:…}} must start with a letter or "_" and hold only '
            'letters, digits, "_", "." and "-"'
        )
    return Placeholder(kind, name)


def expand(value: str, *, secrets: Mapping[str, str], environ: Mapping[str, str]) -> str:
    """``value`` with every placeholder filled in; all values must be present."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        placeholder = _parse(match.group(1))
        source = secrets if placeholder.kind == "secret" else environ
        return source[placeholder.name]

    return _PLACEHOLDER.sub(replace, value)


def names_used(values: Sequence[str], kind: str) -> list[str]:
    """The distinct names of ``kind`` placeholders in ``values``, in order of appearance."""
    names: dict[str, None] = {}
    for value in values:
        for placeholder in placeholders_in(value):
            if placeholder.kind == kind:
                names[placeholder.name] = None
    return list(names)
