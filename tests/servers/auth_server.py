"""An OAuth 2.1 authorization server for tests, at http://127.0.0.1:PORT (its issuer).

    python auth_server.py PORT [--refuse-registration] [--access-lifetime SECONDS]

Every authorization is approved at once, as by a user who clicks Allow: /authorize
redirects straight back to the client's redirect_uri with a code and the state. The
SDK's routes give RFC 8414 metadata, dynamic client registration (/register) and
/token (the authorization_code grant with PKCE S256, and refresh_token, each refresh
token used once and replaced). The ``resource`` of an authorization (RFC 8707) is
kept on its code and on every token that comes from it. Scope ``mcp`` is the one
there is, granted when a client asks for none.

Besides those, without any authentication (all test-only):

- ``POST /introspect`` (form ``token``): RFC 7662, for the resource server:
  ``{"active": true, "client_id", "scope", "exp", "aud"}`` (``aud``: the resource,
  when one was given) or ``{"active": false}``.
- ``POST /test/expire-access``: every access token issued so far expires now.
- ``POST /test/revoke-refresh``: every refresh token is revoked; a refresh gets
  400 ``invalid_grant``.
- ``GET /test/stats``: how many registrations, authorizations, code grants, refreshes
  and refused refreshes there were, and ``access_tokens``: every one issued, in order.

With ``--refuse-registration``, /register answers 400 ``invalid_client_metadata``
("registration is closed"). Access tokens live ``--access-lifetime`` seconds (3600),
as their ``expires_in`` says. It prints "listening" on stderr once it takes connections.
"""

from __future__ import annotations

import argparse
import secrets
import time
from typing import Any

import uvicorn
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    OAuthAuthorizationServerProvider,
    RefreshToken,
    RegistrationError,
    construct_redirect_uri,
)
from mcp.server.auth.routes import create_auth_routes
from mcp.server.auth.settings import ClientRegistrationOptions
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyHttpUrl, ConfigDict, TypeAdapter
from remote_echo import SayListening  # beside it: both run as scripts, said "listening" alike
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SCOPE = "mcp"
CODE_LIFETIME_S = 300  # a code is redeemed at once; RFC 6749 §4.1.2 allows up to 10 minutes
COUNTED = ("registrations", "authorizations", "code_grants", "refreshes", "refused_refreshes")
# Kept as written: an issuer is compared as a string (RFC 8414 §3.3), and pydantic would
# otherwise add a trailing slash to http://127.0.0.1:PORT.
ISSUER = TypeAdapter(AnyHttpUrl, config=ConfigDict(url_preserve_empty_path=True))


class Authority(OAuthAuthorizationServerProvider[AuthorizationCode, RefreshToken, AccessToken]):
    """Clients, codes and tokens, in memory; says yes to every authorization."""

    def __init__(self, *, access_lifetime: int, refuse_registration: bool) -> None:
        self.access_lifetime = access_lifetime
        self.refuse_registration = refuse_registration
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.counts = dict.fromkeys(COUNTED, 0)
        self.issued: list[str] = []  # every access token, for tests to look for in files

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        if self.refuse_registration:
            raise RegistrationError("invalid_client_metadata", "registration is closed")
        assert client_info.client_id is not None  # the SDK's handler mints one
        self.clients[client_info.client_id] = client_info
        self.counts["registrations"] += 1

    async def authorize(
        self, client: OAuthClientInformationFull, params: AuthorizationParams
    ) -> str:
        # RFC 6749 §3.3: a request without scope gets the client's registered one.
        scopes = params.scopes if params.scopes is not None else (client.scope or "").split()
        code = AuthorizationCode(
            code=secrets.token_urlsafe(32),
            scopes=scopes,
            expires_at=time.time() + CODE_LIFETIME_S,
            client_id=client.client_id or "",
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
        )
        self.codes[code.code] = code
        self.counts["authorizations"] += 1
        return construct_redirect_uri(str(params.redirect_uri), code=code.code, state=params.state)

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        code = self.codes.get(authorization_code)
        return code if code is not None and code.client_id == client.client_id else None

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        del self.codes[authorization_code.code]  # a code is good for one exchange
        self.counts["code_grants"] += 1
        return self._issue(
            authorization_code.client_id, authorization_code.scopes, authorization_code.resource
        )

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> RefreshToken | None:
        # Only /token asks (revocation is off): an unknown token is a refused refresh.
        found = self.refresh.get(refresh_token)
        if found is None:
            self.counts["refused_refreshes"] += 1
        return found

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        del self.refresh[refresh_token.token]  # rotation: the new token replaces it
        self.counts["refreshes"] += 1
        return self._issue(refresh_token.client_id, scopes, refresh_token.resource)

    async def load_access_token(self, token: str) -> AccessToken | None:
        found = self.access.get(token)
        if found is None or found.expires_at is None or found.expires_at <= time.time():
            return None
        return found

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.access.pop(token.token, None)
        self.refresh.pop(token.token, None)

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> OAuthToken:
        access = AccessToken(
            token=secrets.token_urlsafe(32),
            client_id=client_id,
            scopes=scopes,
            expires_at=int(time.time()) + self.access_lifetime,
            resource=resource,
        )
        refresh = RefreshToken(
            token=secrets.token_urlsafe(32), client_id=client_id, scopes=scopes, resource=resource
        )
        self.access[access.token] = access
        self.refresh[refresh.token] = refresh
        self.issued.append(access.token)
        return OAuthToken(
            access_token=access.token,
            expires_in=self.access_lifetime,
            scope=" ".join(scopes) or None,
            refresh_token=refresh.token,
        )

    async def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 §2.2: what the resource server may know of ``token``."""
        found = await self.load_access_token(token)
        if found is None:
            return {"active": False}
        answer = {
            "active": True,
            "client_id": found.client_id,
            "scope": " ".join(found.scopes),
            "exp": found.expires_at,
            "token_type": "Bearer",
        }
        if found.resource is not None:
            answer["aud"] = found.resource
        return answer

    def expire_access(self) -> None:
        now = int(time.time())
        for token, access in self.access.items():
            self.access[token] = access.model_copy(update={"expires_at": now})

    def revoke_refresh(self) -> None:
        self.refresh.clear()

    def stats(self) -> dict[str, Any]:
        return {**self.counts, "access_tokens": self.issued}


def control_routes(authority: Authority) -> list[Route]:
    """/introspect and the test-control endpoints."""

    async def introspect(request: Request) -> Response:
        token = (await request.form()).get("token")
        if not isinstance(token, str):
            return JSONResponse({"active": False})
        return JSONResponse(await authority.introspect(token))

    async def expire_access(_: Request) -> Response:
        authority.expire_access()
        return JSONResponse({})

    async def revoke_refresh(_: Request) -> Response:
        authority.revoke_refresh()
        return JSONResponse({})

    async def stats(_: Request) -> Response:
        return JSONResponse(authority.stats())

    return [
        Route("/introspect", introspect, methods=["POST"]),
        Route("/test/expire-access", expire_access, methods=["POST"]),
        Route("/test/revoke-refresh", revoke_refresh, methods=["POST"]),
        Route("/test/stats", stats, methods=["GET"]),
    ]


def app(port: int, authority: Authority) -> Starlette:
    registration = ClientRegistrationOptions(
        enabled=True, valid_scopes=[SCOPE], default_scopes=[SCOPE]
    )
    issuer = ISSUER.validate_python(f"http://127.0.0.1:{port}")
    routes = create_auth_routes(authority, issuer, client_registration_options=registration)
    return Starlette(routes=[*routes, *control_routes(authority)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--refuse-registration", action="store_true", help="/register says no")
    parser.add_argument("--access-lifetime", type=int, default=3600, metavar="SECONDS")
    options = parser.parse_args()
    authority = Authority(
        access_lifetime=options.access_lifetime, refuse_registration=options.refuse_registration
    )
    config = uvicorn.Config(
        app(options.port, authority), host="127.0.0.1", port=options.port, log_level="warning"
    )
    SayListening(config).run()


if __name__ == "__main__":
    main()
