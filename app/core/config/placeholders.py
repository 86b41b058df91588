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
    """Placeholders whose values are not there (yet); ``secrets`` and ``variables`` name them.

    ``refused`` names the secrets among ``secrets`` that are in the keyring but
    cannot be used: too short or too common to be masked in logs.
    """

    def __init__(
        self,
        server: str,
        *,
        secrets: Sequence[str],
        variables: Sequence[str],
        refused: Sequence[str] = (),
    ) -> None:
        self.server = server
        self.secrets = tuple(secrets)
        self.variables = tuple(variables)
        self.refused = tuple(name for name in refused if name in self.secrets)
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        parts = []
        absent = [name for name in self.secrets if name not in self.refused]
        if self.refused:
            parts.append(
                f"cannot use its stored {_secrets_named(self.refused)}: too short or too common "
                f"to be kept out of the logs; set {_them(self.refused)} again, with the value the "
                f"service gave you, {self._how(self.refused[0])}"
            )
        if absent:
            parts.append(
                f"needs the {_secrets_named(absent)}: set {_them(absent)} {self._how(absent[0])}"
            )
        if self.variables:
            names = ", ".join(self.variables)
            parts.append(f"uses the environment variable(s) {names}, not set for MCP Tray")
        return "; ".join(parts)

    def _how(self, name: str) -> str:
        return f"from the tray or with `mcp-tray secret set {self.server} {name}`"


def _secrets_named(names: Sequence[str]) -> str:
    return f"secret{'s' if len(names) > 1 else ''} {', '.join(names)}"


def _them(names: Sequence[str]) -> str:
    return "them" if len(names) > 1 else "it"


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
