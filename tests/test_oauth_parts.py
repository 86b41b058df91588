"""The parts tests use for OAuth sign-in to a remote server, proven with the SDK's own
client: tests/servers/auth_server.py issues tokens, tests/servers/remote_echo.py
``--auth-server`` takes them, and the SDK's ``OAuthClientProvider`` signs in through a
browser (tests/oauthkit.browse) that lands on a loopback listener, as an app's would.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest
from anyio.abc import SocketAttribute, SocketListener, SocketStream, TaskGroup
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.exceptions import OAuthRegistrationError
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from pydantic import AnyUrl

from tests.helpers import INITIALIZE_REQUEST
from tests.oauthkit import AuthServer, auth_server, browse
from tests.test_conformance import free_port
from tests.test_remote_servers import remote_server
from tests.test_revision_2026 import CALL_TIMEOUT_S, text

pytestmark = pytest.mark.anyio

SIGN_IN_TIMEOUT_S = 30.0  # the browser's trip: /authorize, then the loopback redirect
CONNECT_S = 60.0  # sign-in and handshake, with the servers' first imports on a cold machine
# What a Streamable HTTP client sends with a POST (the spec asks for both types).
POST_HEADERS = {"Accept": "application/json, text/event-stream"}
SIGNED_IN_PAGE = b"signed in"


class Memory:
    """A TokenStorage in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class User:
    """The person signing in, and the app's loopback listener: each authorization URL the
    app opens goes to a browser running beside the app (a task), which lands on the
    listener, which hands the code and state to the app."""

    def __init__(self, tasks: TaskGroup, listener: SocketListener) -> None:
        self._tasks = tasks
        port = listener.extra(SocketAttribute.local_port)
        self.redirect_uri = f"http://127.0.0.1:{port}/callback"
        self.opened: list[str] = []  # the authorization URLs, in order
        self._landed, self._arrivals = anyio.create_memory_object_stream[AuthorizationCodeResult](8)

    async def open(self, url: str) -> None:
        """The provider's redirect_handler."""
        self.opened.append(url)
        self._tasks.start_soon(browse, url)

    async def callback(self) -> AuthorizationCodeResult:
        """The provider's callback_handler: what the browser brought to the loopback."""
        with anyio.fail_after(SIGN_IN_TIMEOUT_S):
            return await self._arrivals.receive()

    async def answer(self, stream: SocketStream) -> None:
        """One request to the loopback listener: the browser's, at the end of a sign-in."""
        async with stream:
            request = b""
            while b"\r\n\r\n" not in request:
                request += await stream.receive()
            target = request.split(b" ", 2)[1].decode()
            query = {key: values[0] for key, values in parse_qs(urlsplit(target).query).items()}
            await self._landed.send(AuthorizationCodeResult.model_validate(query))
            await stream.send(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(SIGNED_IN_PAGE), SIGNED_IN_PAGE)
            )

    def close(self) -> None:
        self._landed.close()
        self._arrivals.close()


@asynccontextmanager
async def user() -> AsyncIterator[User]:
    async with (
        await anyio.create_tcp_listener(local_host="127.0.0.1") as listener,
        anyio.create_task_group() as tasks,
    ):
        person = User(tasks, listener)
        tasks.start_soon(listener.serve, person.answer)
        try:
            yield person
        finally:
            tasks.cancel_scope.cancel()
            person.close()


def provider(url: str, person: User, storage: Memory) -> OAuthClientProvider:
    metadata = OAuthClientMetadata(
        redirect_uris=[AnyUrl(person.redirect_uri)],
        client_name="mcp-tray tests",
        token_endpoint_auth_method="none",  # a desktop app has no secret to keep
    )
    return OAuthClientProvider(
        url, metadata, storage, redirect_handler=person.open, callback_handler=person.callback
    )


@asynccontextmanager
async def connected(url: str, auth: OAuthClientProvider) -> AsyncIterator[Client]:
    with anyio.fail_after(CONNECT_S):
        async with (
            httpx2.AsyncClient(auth=auth, timeout=CALL_TIMEOUT_S) as http,
            Client(
                streamable_http_client(url, http_client=http),
                mode="legacy",
                read_timeout_seconds=CALL_TIMEOUT_S,
            ) as client,
        ):
            yield client


@contextmanager
def protected_echo(tmp_path: Path, *auth_options: str) -> Iterator[tuple[AuthServer, str]]:
    """An authorization server (started with ``auth_options``) and remote_echo.py taking
    its tokens: (the authorization server, the MCP endpoint's URL)."""
    port = free_port()
    with (
        auth_server(tmp_path / "auth", *auth_options) as authority,
        remote_server(tmp_path / "remote", port, "--auth-server", authority.url),
    ):
        yield authority, f"http://127.0.0.1:{port}/mcp"


def outlive(auth: OAuthClientProvider) -> None:
    """The client's clock passes its access token's expires_in. The SDK refreshes only
    then: a 401 takes it to a new authorization instead."""
    auth.context.token_expiry_time = time.time() - 1


async def introspect(authority: AuthServer, token: str) -> dict[str, object]:
    async with httpx2.AsyncClient(timeout=CALL_TIMEOUT_S) as http:
        response = await http.post(f"{authority.url}/introspect", data={"token": token})
    answer: dict[str, object] = response.raise_for_status().json()
    return answer


async def test_without_a_token_the_server_answers_401_and_names_its_authorization_server(
    tmp_path: Path,
) -> None:
    with protected_echo(tmp_path) as (authority, url):
        async with httpx2.AsyncClient(timeout=CALL_TIMEOUT_S) as http:
            refused = await http.post(url, json=INITIALIZE_REQUEST, headers=POST_HEADERS)
            metadata_url = url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
            metadata = (await http.get(metadata_url)).raise_for_status().json()

    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="Authentication required", '
        f'resource_metadata="{metadata_url}"'
    )
    assert metadata["resource"] == url
    assert metadata["authorization_servers"] == [authority.url]
    assert metadata["scopes_supported"] == ["mcp"]


async def test_a_client_signs_in_through_the_browser_and_calls_the_server(
    tmp_path: Path,
) -> None:
    storage = Memory()
    with protected_echo(tmp_path, "--access-lifetime", "600") as (authority, url):
        async with user() as person, connected(url, provider(url, person, storage)) as client:
            said = text(await client.call_tool("echo", {"text": "signed"}))
        stats = await authority.stats()
        assert storage.tokens is not None and storage.client_info is not None
        vouched = await introspect(authority, storage.tokens.access_token)

    assert said == "signed"
    assert len(person.opened) == 1
    assert parse_qs(urlsplit(person.opened[0]).query)["resource"] == [url]
    assert (stats.registrations, stats.authorizations, stats.code_grants) == (1, 1, 1)
    assert (stats.refreshes, stats.refused_refreshes) == (0, 0)
    assert stats.access_tokens == [storage.tokens.access_token]
    assert storage.tokens.expires_in == 600
    assert vouched["active"] is True
    assert vouched["aud"] == url
    assert vouched["client_id"] == storage.client_info.client_id
    assert vouched["scope"] == "mcp"


async def test_an_expired_access_token_is_refreshed_without_signing_in_again(
    tmp_path: Path,
) -> None:
    storage = Memory()
    with protected_echo(tmp_path) as (authority, url):
        async with user() as person:
            auth = provider(url, person, storage)
            async with connected(url, auth) as client:
                assert text(await client.call_tool("echo", {"text": "one"})) == "one"
                first = storage.tokens
                await authority.expire_access()
                outlive(auth)
                said = text(await client.call_tool("echo", {"text": "two"}))
        stats = await authority.stats()
        assert first is not None and first.refresh_token is not None
        assert storage.tokens is not None and storage.client_info is not None
        async with httpx2.AsyncClient(timeout=CALL_TIMEOUT_S) as http:
            old_refresh = {
                "grant_type": "refresh_token",
                "refresh_token": first.refresh_token,
                "client_id": storage.client_info.client_id,
            }
            reused = await http.post(f"{authority.url}/token", data=old_refresh)

    assert said == "two"
    assert len(person.opened) == 1
    assert (stats.authorizations, stats.refreshes, stats.refused_refreshes) == (1, 1, 0)
    assert stats.access_tokens == [first.access_token, storage.tokens.access_token]
    assert storage.tokens.refresh_token not in (None, first.refresh_token)  # rotated
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")


async def test_a_revoked_refresh_token_sends_the_client_back_to_the_browser(
    tmp_path: Path,
) -> None:
    storage = Memory()
    with protected_echo(tmp_path) as (authority, url):
        async with user() as person:
            auth = provider(url, person, storage)
            async with connected(url, auth) as client:
                assert text(await client.call_tool("echo", {"text": "one"})) == "one"
                await authority.revoke_refresh()
                await authority.expire_access()
                outlive(auth)
                said = text(await client.call_tool("echo", {"text": "two"}))
        stats = await authority.stats()

    assert said == "two"
    assert len(person.opened) == 2
    assert (stats.registrations, stats.authorizations, stats.code_grants) == (1, 2, 2)
    assert (stats.refreshes, stats.refused_refreshes) == (0, 1)


async def test_an_access_token_expired_early_sends_the_sdk_client_to_the_browser_not_a_refresh(
    tmp_path: Path,
) -> None:
    # The SDK's provider answers a 401 with a new authorization even when it holds a
    # refresh token; it refreshes only when its own clock says the token has expired.
    storage = Memory()
    with protected_echo(tmp_path) as (authority, url):
        async with user() as person, connected(url, provider(url, person, storage)) as client:
            assert text(await client.call_tool("echo", {"text": "one"})) == "one"
            await authority.expire_access()
            said = text(await client.call_tool("echo", {"text": "two"}))
        stats = await authority.stats()

    assert said == "two"
    assert len(person.opened) == 2
    assert (stats.registrations, stats.authorizations, stats.refreshes) == (1, 2, 0)


async def test_a_token_issued_for_another_server_is_refused(tmp_path: Path) -> None:
    storage = Memory()
    other_port = free_port()
    other = f"http://127.0.0.1:{other_port}/mcp"
    with protected_echo(tmp_path) as (authority, url):
        async with user() as person, connected(url, provider(url, person, storage)):
            pass
        assert storage.tokens is not None
        bearer = {**POST_HEADERS, "Authorization": f"Bearer {storage.tokens.access_token}"}
        with remote_server(tmp_path / "other", other_port, "--auth-server", authority.url):
            async with httpx2.AsyncClient(timeout=CALL_TIMEOUT_S) as http:
                here = await http.post(url, json=INITIALIZE_REQUEST, headers=bearer)
                there = await http.post(other, json=INITIALIZE_REQUEST, headers=bearer)

    assert here.status_code == 200
    assert there.status_code == 401


async def test_a_closed_registration_fails_sign_in_with_the_sdks_registration_error(
    tmp_path: Path,
) -> None:
    storage = Memory()
    with protected_echo(tmp_path, "--refuse-registration") as (authority, url):
        async with (
            user() as person,
            httpx2.AsyncClient(auth=provider(url, person, storage), timeout=CALL_TIMEOUT_S) as http,
        ):
            with pytest.raises(OAuthRegistrationError, match="registration is closed"):
                await http.post(url, json=INITIALIZE_REQUEST, headers=POST_HEADERS)
        stats = await authority.stats()

    assert person.opened == []
    assert storage.client_info is None
    assert stats.registrations == 0
