"""The token on every request to a remote server, through the SDK's OAuth client.

:class:`ConnectionAuth` is what the hub's connection to a server that signs
its users in (app.core.supervise.remote) sends its requests through. It is
the SDK's ``OAuthClientProvider`` (mcp.client.auth) with MCP Tray's rules:

- a token is refreshed a little before it expires (:data:`REFRESH_AHEAD_S`),
  so no request carries one that is about to be refused; and once more when
  the server refuses it anyway (401), say because it was revoked early;
- it never opens a browser. When no token works (none yet, or the sign-in
  service refuses to refresh it) the request fails with :class:`SignInNeeded`
  and the server waits in ``needs-sign-in`` until the user signs in
  (app.core.signin.flow), which is the only place a browser opens;
- a sign-in service that fails (HTTP 5xx, 429) is :class:`SignInServiceDown`,
  tried again at the backoff's pace like a network fault: a token is not given
  up, and the user not asked, for a service's bad minute.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Protocol

import httpx2
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.auth.utils import extract_field_from_www_auth
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientMetadata,
    OAuthMetadata,
    ProtectedResourceMetadata,
)
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER

from app.core.secrets.store import KeyringUnavailable
from app.core.signin.tokens import SignInStore

CLIENT_NAME = "MCP Tray"
# Refreshed this long before it expires (at most half its life): a clock a little
# off, or a request on its way, must not meet a token that just expired.
REFRESH_AHEAD_S = 60.0
SIGNED_OUT = "is signed out: sign in to use it"


class SignInNeeded(Exception):
    """No token the server accepts, and none can be had without the user."""


class SignInServiceDown(Exception):
    """The server's sign-in service failed to answer a token request (HTTP 5xx or 429)."""


class KeepsSignIn(TokenStorage, Protocol):
    """Where a sign-in is kept (app.core.signin.tokens.SignInStore): the SDK's token
    storage, and where the sign-in service is."""

    async def get_service(
        self,
    ) -> tuple[OAuthMetadata | None, ProtectedResourceMetadata | None]: ...

    async def set_service(
        self, service: OAuthMetadata | None, resource: ProtectedResourceMetadata | None
    ) -> None: ...


class RefreshesAhead(OAuthClientProvider):
    """The SDK's OAuth client, refreshing a token before it expires, also after a restart
    of the hub: the store hands a token back with the seconds it has left, and says
    where the sign-in service is (the SDK finds that out only when refused, a 401)."""

    def __init__(
        self,
        server_url: str,
        client_metadata: OAuthClientMetadata,
        storage: KeepsSignIn,
        redirect_handler: Callable[[str], Awaitable[None]] | None = None,
        callback_handler: Callable[[], Awaitable[AuthorizationCodeResult]] | None = None,
    ) -> None:
        super().__init__(server_url, client_metadata, storage, redirect_handler, callback_handler)
        self._keeps = storage

    async def _initialize(self) -> None:
        await super()._initialize()
        if self.context.current_tokens is not None:
            self.context.update_token_expiry(self.context.current_tokens)
            self._refresh_early()
        service, resource = await self._keeps.get_service()
        if service is not None and self.context.oauth_metadata is None:
            self.context.oauth_metadata = service
        if resource is not None and self.context.protected_resource_metadata is None:
            self.context.protected_resource_metadata = resource
            if resource.authorization_servers:
                self.context.auth_server_url = str(resource.authorization_servers[0])

    async def _handle_token_response(self, response: httpx2.Response) -> None:
        """Signed in: the tokens are kept (by the SDK), and where they came from."""
        await super()._handle_token_response(response)
        self._refresh_early()
        context = self.context
        await self._keeps.set_service(context.oauth_metadata, context.protected_resource_metadata)

    async def _handle_refresh_response(self, response: httpx2.Response) -> bool:
        if response.status_code >= 500 or response.status_code == 429:
            raise SignInServiceDown(f"its sign-in service failed (HTTP {response.status_code})")
        refreshed = await super()._handle_refresh_response(response)
        if refreshed:
            self._refresh_early()
        return refreshed

    def _refresh_early(self) -> None:
        tokens, expiry = self.context.current_tokens, self.context.token_expiry_time
        if tokens is None or tokens.expires_in is None or expiry is None:
            return
        self.context.token_expiry_time = expiry - min(
            REFRESH_AHEAD_S, max(tokens.expires_in, 0) / 2
        )


class ConnectionAuth(RefreshesAhead):
    """The hub's requests to one server: with its token, refreshed without asking, and
    :class:`SignInNeeded` when none works (:attr:`needs_sign_in` says why)."""

    def __init__(self, server_url: str, storage: SignInStore, *, signed_out: bool = False) -> None:
        """``signed_out``: the user signed out of the server (its wait then says so)."""
        # No redirect: this client never registers and never asks the user.
        metadata = OAuthClientMetadata(redirect_uris=None, client_name=CLIENT_NAME)
        super().__init__(server_url, metadata, storage)
        self.needs_sign_in: str | None = None  # why, once a request found no token that works
        self.refused: httpx2.Request | None = None  # that request: it never reached the server
        self._signed_out = signed_out
        self._keyring_problem: str | None = None
        self._had_tokens = False  # the keyring held a sign-in when the connection began

    @property
    def signed_in(self) -> bool:
        """Whether a token was sent (the server may not need one at all)."""
        return self.context.current_tokens is not None

    async def _initialize(self) -> None:
        try:
            await super()._initialize()
            if self._signed_out:  # tokens written back by a refresh as the user signed out
                self.context.current_tokens = None
            self._had_tokens = self.context.current_tokens is not None
        except KeyringUnavailable as error:
            # A server that needs no sign-in must not fail for a keyring it does not use.
            self._keyring_problem = str(error)
            self._initialized = True

    async def _auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        """Not the SDK's flow, which holds its lock until the answer comes: a server's
        slow tool call would hold up every other request on the connection. The lock
        guards the tokens only (reading them, refreshing them), never a request."""
        context = self.context
        async with context.lock:
            if not self._initialized:
                await self._initialize()
            context.protocol_version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER)
            if not context.is_token_valid() and context.can_refresh_token():
                await self._handle_refresh_response((yield await self._refresh_token()))
            sent_with = context.current_tokens
            if context.is_token_valid():
                self._add_auth_header(request)
        response = yield request
        if not _refused_token(response):
            return
        async with context.lock:
            # Another request may have refreshed it meanwhile: this one tries that token.
            if context.current_tokens is sent_with or not context.is_token_valid():
                if not self._may_refresh(response):
                    self._sign_in_needed(response)
                # Refused before its time (revoked, or a clock off): refreshed once.
                refreshed = yield await self._refresh_token()
                if not await self._handle_refresh_response(refreshed):
                    self._sign_in_needed(response)
            self._add_auth_header(request)
        response = yield request  # again, with the new token
        if _refused_token(response):
            self._sign_in_needed(response)

    def _may_refresh(self, refused: httpx2.Response) -> bool:
        """A 403 asks for more access, which a refreshed token does not have."""
        return refused.status_code == 401 and self.context.can_refresh_token()

    def _sign_in_needed(self, response: httpx2.Response) -> None:
        if self._signed_out:
            why = SIGNED_OUT
        elif self._keyring_problem is not None:
            why = f"needs you to sign in, and {self._keyring_problem}"
        elif response.status_code == 403:
            why = "asks you to sign in again, to grant it more access"
        elif self._had_tokens:
            why = "needs you to sign in again: its sign-in has expired"
        else:
            why = "needs you to sign in"
        if self.needs_sign_in is None:  # the first refusal: what the connection ends on
            self.needs_sign_in, self.refused = why, response.request
        raise SignInNeeded(why)


def _refused_token(response: httpx2.Response) -> bool:
    """A 401, or a 403 asking for more scope (which only a new sign-in can grant)."""
    if response.status_code == 401:
        return True
    return (
        response.status_code == 403
        and extract_field_from_www_auth(response, "error") == "insufficient_scope"
    )
