"""Secrets: kept in the OS keyring, named in the config, handed to their server only.

Typical use in the hub::

    secrets = Secrets(SecretStore(paths.state_dir / "secret-names.json"))
    args, env = await secrets.fill_in("github", server_config, os.environ)
    log_line = secrets.redact(line)

Errors: :class:`MissingValues` (a secret or variable is not there yet: the
server waits in ``needs-secret``), :class:`KeyringUnavailable` (no secure
keyring; the message says why and how to fix it), :class:`PlaceholderError`
(a malformed ``${…}``, reported as a config error).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from app.core.config import Config, ServerConfig
from app.core.config.placeholders import (
    SECRET_NAME_PATTERN,
    MissingValues,
    PlaceholderError,
    expand,
    names_used,
    placeholders_in,
)
from app.core.secrets.migrate import plan_migration
from app.core.secrets.redact import MASK, MIN_REDACTED_LENGTH, RedactingFilter, Redactor
from app.core.secrets.store import KeyringUnavailable, SecretStore

__all__ = [
    "MASK",
    "MIN_REDACTED_LENGTH",
    "SECRET_NAME_PATTERN",
    "KeyringUnavailable",
    "MissingValues",
    "PlaceholderError",
    "RedactingFilter",
    "Redactor",
    "SecretStore",
    "Secrets",
    "placeholders_in",
    "secret_names",
]


def secret_names(server: ServerConfig) -> list[str]:
    """The ``${secret:NAME}`` names a server's config uses."""
    return names_used([*server.args, *server.env.values()], "secret")


class Secrets:
    """The hub's side: filling placeholders in at spawn time, and redacting values."""

    def __init__(self, store: SecretStore) -> None:
        self.store = store
        self.redact = Redactor()

    def learn_config(self, config: Config) -> None:
        """Plaintext values that ``secret migrate`` would move are redacted from the start."""
        self.redact.learn(move.value for move in plan_migration(config))

    async def fill_in(
        self, scope: str, server: ServerConfig, environ: Mapping[str, str]
    ) -> tuple[list[str], dict[str, str]]:
        """``server``'s args and env with every placeholder filled in.

        ``scope`` is the configured server name, whose keyring entries are used.
        Keyring reads run on a worker thread: they may wait on D-Bus or a prompt.
        """
        texts = [*server.args, *server.env.values()]
        wanted = names_used(texts, "secret")
        found = await asyncio.to_thread(self._read, scope, wanted) if wanted else {}
        missing = [name for name in wanted if name not in found]
        absent = [name for name in names_used(texts, "env") if name not in environ]
        if missing or absent:
            raise MissingValues(scope, secrets=missing, variables=absent)
        self.redact.learn(found.values())
        args = [expand(arg, secrets=found, environ=environ) for arg in server.args]
        env = {k: expand(v, secrets=found, environ=environ) for k, v in server.env.items()}
        return args, env

    def _read(self, scope: str, names: list[str]) -> dict[str, str]:
        values = {name: self.store.get(scope, name) for name in names}
        return {name: value for name, value in values.items() if value is not None}
