"""The keys and tokens written in plain text in a remote server's headers, bound for the keyring.

``secret migrate``'s rules (app.core.secrets.migrate) look at ``env`` and
``args``; importing an app's remote server adds its ``headers``, where a
credential reads differently:

- ``Authorization`` (and ``Proxy-Authorization``) always carries one, after
  its scheme: ``Bearer sk-…`` keeps ``Bearer `` and moves ``sk-…``;
- any other header whose name or value says so (``X-API-Key``, a ``ghp_…``
  value), by the same rules as an environment variable.

A value too short or too common to be masked in logs stays where it is, as
for ``env``. The moves are :class:`Move` values, so import keeps them with
the same :func:`~app.core.secrets.migrate.keep` (stored, then read back)
before its config changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from app.core.secrets.migrate import Move, looks_secret
from app.core.secrets.redact import refusal

# "Bearer abc" → ("Bearer ", "abc"): the scheme stays in the config, the rest is the secret.
_SCHEME = re.compile(r"^((?:Bearer|Basic|Token|Bot)\s+)(\S.*)$", re.IGNORECASE)
_ALWAYS_CREDENTIALS = frozenset({"authorization", "proxy-authorization"})


def header_moves(server: str, headers: Mapping[str, str]) -> list[Move]:
    """The plain-text credentials in ``server``'s ``headers``, each with the text that
    replaces it (``Bearer ${secret:Authorization}``)."""
    moves: list[Move] = []
    taken: set[str] = set()
    for header, value in headers.items():
        scheme, credential = _split(value)
        if not _is_credential(header, credential):
            continue
        name = _unused(_secret_name(header), taken)
        where = ("mcpServers", server, "headers", header)
        moves.append(Move(server, name, credential, where, scheme + "${secret:" + name + "}"))
    return moves


def _split(value: str) -> tuple[str, str]:
    scheme = _SCHEME.match(value)
    return (scheme[1], scheme[2]) if scheme else ("", value)


def _is_credential(header: str, credential: str) -> bool:
    if "${" in credential:  # a placeholder already, or a variable the app fills in
        return False
    if header.lower() in _ALWAYS_CREDENTIALS:
        return bool(credential) and refusal(credential) is None
    return looks_secret(header, credential)


def _secret_name(header: str) -> str:
    """The header's name as a secret's (``${secret:NAME}`` takes fewer characters)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", header)
    return name if re.match(r"[A-Za-z_]", name) else "_" + name


def _unused(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``…: two headers never share one keyring entry."""
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}_{number}"
    taken.add(candidate)
    return candidate
