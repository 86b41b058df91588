"""A remote server's sign-in, kept in the keyring beside its secrets.

Three keyring entries under the server's own service (app.core.secrets.store):
the tokens its sign-in service granted, with when the access token expires;
MCP Tray's registration with that service (its client id, and a client
secret if the service issued one); and where that service is (its metadata,
and the server's), so a token is refreshed at the right place without
discovering it again. None is ever written to a file, a log or a status row;
every token read or written is also taught to the redactor, so one that
slipped into a line of output would be masked there. The tokens are kept
with the server's address and given back for it only: a config edited to
point the server elsewhere never sends the new address the user's token.

:class:`SignInStore` is the SDK's ``TokenStorage`` for one server. The SDK
keeps an expiry only in memory, from a token's ``expires_in``; the store
writes the moment itself, and hands a token back with the seconds left, so a
hub started again refreshes an expired token before using it instead of
being refused first.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable

from mcp.shared.auth import (
    OAuthClientInformationFull,
    OAuthMetadata,
    OAuthToken,
    ProtectedResourceMetadata,
)
from pydantic import ValidationError

from app.core.secrets.store import SecretStore

logger = logging.getLogger(__name__)

# The entries' keys: each holds a space, which no secret's name can.
TOKENS_KEY = "sign-in tokens"
REGISTRATION_KEY = "sign-in registration"
SERVICE_KEY = "sign-in service"


def forget_sign_in(store: SecretStore, server: str) -> bool:
    """Delete a server's sign-in from the keyring (blocking: keyring I/O). Whether it
    was signed in (had tokens)."""
    signed_in = store.delete_own(server, TOKENS_KEY)
    for key in (REGISTRATION_KEY, SERVICE_KEY):
        store.delete_own(server, key)
    return signed_in


def _learn_nothing(values: Iterable[str]) -> None:
    pass


class SignInStore:
    """One server's tokens and registration (mcp.client.auth.TokenStorage)."""

    def __init__(
        self,
        store: SecretStore,
        server: str,
        url: str | None,
        *,
        learn: Callable[[Iterable[str]], None] = _learn_nothing,
    ) -> None:
        """``url``: the server's address, the one its tokens are for. ``learn`` is given
        every token value, for the redactor."""
        self._store = store
        self.server = server
        self.url = url
        self._learn = learn

    async def get_tokens(self) -> OAuthToken | None:
        saved = await self._read(TOKENS_KEY)
        if saved is None:
            return None
        if saved.get("url") != self.url:
            logger.warning(
                "%s: its address changed since you signed in; sign in again to use it", self.server
            )
            return None
        try:
            tokens = OAuthToken.model_validate(saved.get("tokens"))
        except ValidationError:
            logger.warning(
                "%s: the sign-in kept in the keyring is unreadable; ignoring it", self.server
            )
            return None
        self._learn_tokens(tokens)
        expires_at = saved.get("expires_at")
        if isinstance(expires_at, int | float):
            tokens.expires_in = int(expires_at - time.time())
        return tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self._learn_tokens(tokens)
        saved: dict[str, object] = {
            "tokens": tokens.model_dump(mode="json", exclude_none=True),
            "url": self.url,
        }
        if tokens.expires_in is not None:
            saved["expires_at"] = time.time() + tokens.expires_in
        await self._write(TOKENS_KEY, saved)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        saved = await self._read(REGISTRATION_KEY)
        if saved is None:
            return None
        try:
            registration = OAuthClientInformationFull.model_validate(saved)
        except ValidationError:
            logger.warning("%s: MCP Tray's registration in the keyring is unreadable", self.server)
            return None
        if registration.client_secret:
            self._learn([registration.client_secret])
        return registration

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        if client_info.client_secret:
            self._learn([client_info.client_secret])
        await self._write(REGISTRATION_KEY, client_info.model_dump(mode="json", exclude_none=True))

    async def has_tokens(self) -> bool:
        return await asyncio.to_thread(self._store.get_own, self.server, TOKENS_KEY) is not None

    async def get_service(self) -> tuple[OAuthMetadata | None, ProtectedResourceMetadata | None]:
        """The sign-in service's metadata and the server's, as the last sign-in found them."""
        saved = await self._read(SERVICE_KEY) or {}
        try:
            service = OAuthMetadata.model_validate(saved["service"]) if "service" in saved else None
            resource = (
                ProtectedResourceMetadata.model_validate(saved["resource"])
                if "resource" in saved
                else None
            )
        except ValidationError:
            return None, None
        return service, resource

    async def set_service(
        self, service: OAuthMetadata | None, resource: ProtectedResourceMetadata | None
    ) -> None:
        saved: dict[str, object] = {}
        if service is not None:
            saved["service"] = service.model_dump(mode="json", exclude_none=True)
        if resource is not None:
            saved["resource"] = resource.model_dump(mode="json", exclude_none=True)
        await self._write(SERVICE_KEY, saved)

    async def forget(self) -> bool:
        """Sign out: the tokens, MCP Tray's registration and what it knew of the sign-in
        service go. Whether it was signed in."""
        return await asyncio.to_thread(forget_sign_in, self._store, self.server)

    def _learn_tokens(self, tokens: OAuthToken) -> None:
        self._learn(value for value in (tokens.access_token, tokens.refresh_token) if value)

    # Keyring calls may wait on D-Bus or an unlock prompt: they run on a worker thread.

    async def _read(self, key: str) -> dict[str, object] | None:
        text = await asyncio.to_thread(self._store.get_own, self.server, key)
        if text is None:
            return None
        try:
            saved = json.loads(text)
        except ValueError:
            saved = None
        if not isinstance(saved, dict):
            logger.warning("%s: ignoring an unreadable %s entry in the keyring", self.server, key)
            return None
        return saved

    async def _write(self, key: str, saved: dict[str, object]) -> None:
        await asyncio.to_thread(self._store.set_own, self.server, key, json.dumps(saved))
