"""Finding plaintext secrets in the config, and the config rewritten without them.

A value is taken for a secret when its variable's name says so (``*TOKEN*``,
``*KEY*``, ``*SECRET*``, ``*PASSWORD*``, ``*PAT*``, as whole words of the
name, so ``PATH`` is not one) or when it is shaped like a known token format
(``ghp_…``, ``sk-…``, ``xoxb-…``, ``AKIA…``). Arguments count only when
their shape, or the option naming them (``--api-key VALUE``), says so. A
value too short or too common to be masked in logs (see
app.core.secrets.redact) is not taken for one: it stays where it is, and
:func:`unmaskable` lists it.

:func:`plan_migration` lists the moves; :func:`rewrite` replaces exactly the
moved JSON strings in the original text, so every other byte (formatting,
key order, other servers) is kept as the user wrote it. :func:`keep` stores
the values and reads each back before any config changes; ``secret migrate``
(:func:`migrate`) and ``import`` (app.hosts.importing) both go through it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.config import Config, parse_config, write_config_text
from app.core.errors import NotKept
from app.core.jsontext.locate import KeyPath, string_end, value_offsets
from app.core.secrets.redact import refusal

if TYPE_CHECKING:
    from app.core.secrets.store import SecretStore

_SECRET_WORDS = frozenset(
    {"TOKEN", "KEY", "APIKEY", "SECRET", "PASSWORD", "PASSWD", "PASS", "PAT", "CREDENTIAL"}
)
_SECRET_SUFFIXES = ("TOKEN", "APIKEY", "SECRET", "PASSWORD", "CREDENTIALS")
# Words that make a name about a secret rather than the secret itself.
_NOT_SECRET_WORDS = frozenset(
    {"PATH", "FILE", "DIR", "URL", "URI", "HOST", "PORT", "ID", "NAME", "USER", "TYPE", "REGION"}
)
TOKEN_SHAPES = re.compile(
    r"""^(?:
      gh[pousr]_[A-Za-z0-9]{30,}                    # GitHub
    | github_pat_[A-Za-z0-9_]{40,}
    | glpat-[A-Za-z0-9_-]{20,}                      # GitLab
    | sk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}          # Anthropic, OpenAI
    | xox[abprs]-[A-Za-z0-9-]{10,}                  # Slack
    | AKIA[0-9A-Z]{16}                              # AWS access key id
    | AIza[0-9A-Za-z_-]{35}                         # Google API key
    | (?:sk|rk)_live_[A-Za-z0-9]{20,}               # Stripe
    | npm_[A-Za-z0-9]{36}                           # npm
    | hf_[A-Za-z0-9]{30,}                           # Hugging Face
    | lin_api_[A-Za-z0-9]{30,}                      # Linear
    | (?:secret|ntn)_[A-Za-z0-9]{30,}               # Notion
    | eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}  # a JWT
    )$""",
    re.VERBOSE,
)


def name_looks_secret(name: str) -> bool:
    upper = name.upper()
    words = set(re.split(r"[^A-Z0-9]+", upper))
    if words & _NOT_SECRET_WORDS:
        return False
    return bool(words & _SECRET_WORDS) or upper.endswith(_SECRET_SUFFIXES)


def value_looks_secret(value: str) -> bool:
    return bool(TOKEN_SHAPES.match(value))


def looks_secret(name: str | None, value: str) -> bool:
    """Whether a plaintext ``value`` (of variable or option ``name``) should be a secret."""
    return _named_secret(name, value) and refusal(value) is None


def _named_secret(name: str | None, value: str) -> bool:
    if not value or "${" in value or value.lower() in ("true", "false"):
        return False
    return value_looks_secret(value) or (name is not None and name_looks_secret(name))


@dataclass(frozen=True)
class Move:
    """One plaintext value that goes to the keyring, and what the config says instead."""

    server: str
    name: str  # the secret's name in the server's keyring scope
    value: str
    where: KeyPath  # the JSON string that changes
    replacement: str  # its new text, holding ${secret:NAME}

    @property
    def in_args(self) -> bool:
        return "args" in self.where


def plan_migration(config: Config) -> list[Move]:
    moves: list[Move] = []
    for server, entry in config.servers.items():
        taken: dict[str, str] = {}  # secret name -> value, within this server
        base: KeyPath = ("mcpServers", server)
        for variable, value in entry.env.items():
            if looks_secret(variable, value):
                name = _unique(_secret_name(variable), value, taken)
                moves.append(
                    Move(server, name, value, (*base, "env", variable), _placeholder(name))
                )
        for index, option, value, prefix in _argument_values(entry.args):
            if looks_secret(option, value) and (option or value_looks_secret(value)):
                name = _unique(_name_for_option(option), value, taken)
                replacement = prefix + _placeholder(name)
                moves.append(Move(server, name, value, (*base, "args", index), replacement))
    return moves


def unmaskable(config: Config) -> list[tuple[str, str]]:
    """(server, where) of each plaintext value that its name says is a secret, but that
    is too short or too common to be masked in logs; the value itself is never named."""
    found = []
    for server, entry in config.servers.items():
        for variable, value in entry.env.items():
            if _named_secret(variable, value) and refusal(value) is not None:
                found.append((server, f"env {variable}"))
        for index, option, value, _prefix in _argument_values(entry.args):
            named = bool(option) or value_looks_secret(value)
            if named and _named_secret(option, value) and refusal(value) is not None:
                found.append((server, f"args[{index}]"))
    return found


def rewrite(text: str, moves: Sequence[Move]) -> str:
    """``text`` with each moved value's JSON string replaced, and nothing else touched."""
    offsets = value_offsets(text)
    spans = []
    for move in moves:
        start = offsets[move.where]
        spans.append((start, string_end(text, start), move.replacement))
    for start, end, replacement in sorted(spans, reverse=True):
        text = text[:start] + json.dumps(replacement, ensure_ascii=False) + text[end:]
    return text


def keep(store: SecretStore, moves: Iterable[Move]) -> None:
    """Store each moved value and read it back, so that no config names a secret the
    keyring lost: raises NotKept for the first one it does not give back (and
    KeyringUnavailable when there is no keyring to use)."""
    for move in moves:
        store.set(move.server, move.name, move.value)
        if store.get(move.server, move.name) != move.value:
            raise NotKept(move.server, move.name)


def migrate(config_file: Path, text: str, moves: Sequence[Move], store: SecretStore) -> Path | None:
    """Move the values into the keyring (:func:`keep`), then write the config that names them.

    ``text`` is the config the moves were planned from. Returns the backup of the
    previous config, plaintext values and all; None when none was made. The
    config is unchanged when this raises.
    """
    keep(store, moves)
    new_text = rewrite(text, moves)
    parse_config(new_text, path=config_file)  # what is written must load
    return write_config_text(config_file, new_text)


def _placeholder(name: str) -> str:
    return "${secret:" + name + "}"


def _unique(name: str, value: str, taken: dict[str, str]) -> str:
    """``name``, or ``name_2``…, so two different values never share one entry."""
    candidate, number = name, 1
    while taken.get(candidate, value) != value:
        number += 1
        candidate = f"{name}_{number}"
    taken[candidate] = value
    return candidate


def _argument_values(args: Sequence[str]) -> Iterable[tuple[int, str | None, str, str]]:
    """(index, option naming it, value, text before the value) for each argument."""
    for index, arg in enumerate(args):
        option, equals, value = arg.partition("=")
        if equals and option.startswith("-"):
            yield index, option, value, option + "="
        elif not arg.startswith("-"):
            previous = args[index - 1] if index else ""
            yield index, previous if previous.startswith("-") else None, arg, ""


def _secret_name(variable: str) -> str:
    """The variable's name as a secret's name (``${secret:NAME}`` takes fewer
    characters than an environment variable may have): ``2FA_TOKEN`` → ``_2FA_TOKEN``."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", variable) or "TOKEN"
    return name if re.match(r"[A-Za-z_]", name) else "_" + name


def _name_for_option(option: str | None) -> str:
    if not option:
        return "TOKEN"
    return re.sub(r"[^A-Za-z0-9]+", "_", option.lstrip("-")).upper().strip("_") or "TOKEN"
