"""Secrets: kept in the OS keyring, named in the config, handed to their server only.

Typical use in the hub::

    secrets = Secrets(SecretStore(paths.state_dir / "secret-names.json"))
    args, env = await secrets.fill_in("github", server_config, os.environ)
    log_line = secrets.redact(line)

Errors: :class:`MissingValues` (a secret or variable is not there yet, or a
stored secret is too short or too common to mask: the server waits in
``needs-secret``), :class:`KeyringUnavailable` (no secure keyring; the message
says why and how to fix it), :class:`UnsafeSecret` (a value refused before it
is stored, see :func:`refusal`), :class:`PlaceholderError` (a malformed
``${…}``, reported as a config error).
"""

from __future__ import annotations

import asyncio
import logging
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
from app.core.secrets.migrate import plan_migration, unmaskable
from app.core.secrets.redact import (
    MASK,
    MIN_SECRET_LENGTH,
    RedactingFilter,
    Redactor,
    UnsafeSecret,
    refusal,
)
from app.core.secrets.store import KeyringUnavailable, SecretStore

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "SECRET_NAME_PATTERN",
    "KeyringUnavailable",
    "MissingValues",
    "PlaceholderError",
    "RedactingFilter",
    "Redactor",
    "SecretStore",
    "Secrets",
    "UnsafeSecret",
    "placeholders_in",
    "refusal",
    "secret_names",
]

logger = logging.getLogger(__name__)


def secret_names(server: ServerConfig) -> list[str]:
    """The ``${secret:NAME}`` names a server's config uses."""
    return names_used(_texts(server), "secret")


def _texts(server: ServerConfig) -> list[str]:
    """Where a server's config may hold placeholders."""
    return [*server.args, *server.env.values(), *server.headers.values()]


class Secrets:
    """The hub's side: filling placeholders in at spawn time, and redacting values."""

    def __init__(self, store: SecretStore) -> None:
        self.store = store
        self.redact = Redactor()

    def learn_config(self, config: Config) -> None:
        """Plaintext values that ``secret migrate`` would move are redacted from the start.

        One that looks secret by its name but is too short or too common to mask
        is left alone (masking it would give it away), and the log says so.
        """
        self.redact.learn(move.value for move in plan_migration(config))
        for server, where in unmaskable(config):
            logger.info(
                "%s: the value of %s is not hidden in logs: too short or too common to be "
                "a real secret",
                server,
                where,
            )

    async def fill_in(
        self, scope: str, server: ServerConfig, environ: Mapping[str, str]
    ) -> tuple[list[str], dict[str, str]]:
        """``server``'s args and env with every placeholder filled in.

        ``scope`` is the configured server name, whose keyring entries are used.
        Keyring reads run on a worker thread: they may wait on D-Bus or a prompt.
        A stored value too short or too common to mask counts as missing: the
        server waits until the user sets a real one.
        """
        found = await self._values(scope, server, environ)
        args = [expand(arg, secrets=found, environ=environ) for arg in server.args]
        env = {k: expand(v, secrets=found, environ=environ) for k, v in server.env.items()}
        return args, env

    async def fill_headers(
        self, scope: str, server: ServerConfig, environ: Mapping[str, str]
    ) -> dict[str, str]:
        """A remote server's headers with every placeholder filled in, as :meth:`fill_in`."""
        found = await self._values(scope, server, environ)
        return {k: expand(v, secrets=found, environ=environ) for k, v in server.headers.items()}

    async def _values(
        self, scope: str, server: ServerConfig, environ: Mapping[str, str]
    ) -> dict[str, str]:
        """The secrets ``server`` uses; MissingValues when any, or a variable, is not there."""
        texts = _texts(server)
        wanted = names_used(texts, "secret")
        found = await self._found(scope, wanted)
        refused = [name for name, value in found.items() if refusal(value) is not None]
        missing = [name for name in wanted if name not in found or name in refused]
        absent = [name for name in names_used(texts, "env") if name not in environ]
        if missing or absent:
            raise MissingValues(scope, secrets=missing, variables=absent, refused=refused)
        self.redact.learn(found.values())
        return found

    async def still_missing(self, scope: str, server: ServerConfig) -> list[str]:
        """The secrets ``server`` uses that the keyring lacks, or holds unusable."""
        wanted = secret_names(server)
        found = await self._found(scope, wanted)
        return [name for name in wanted if refusal(found.get(name, "")) is not None]

    async def _found(self, scope: str, names: list[str]) -> dict[str, str]:
        return await asyncio.to_thread(self._read, scope, names) if names else {}

    def _read(self, scope: str, names: list[str]) -> dict[str, str]:
        values = {name: self.store.get(scope, name) for name in names}
        return {name: value for name, value in values.items() if value is not None}
