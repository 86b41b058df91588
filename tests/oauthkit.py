"""OAuth sign-in for tests: the authorization server (tests/servers/auth_server.py) as a
process of its own, a browser that follows an authorization URL as a user who clicks
Allow, and the server's test-control endpoints."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2

from tests.hubprocess import HubProcess
from tests.test_conformance import free_port

AUTH_SERVER = Path(__file__).parent / "servers" / "auth_server.py"
BROWSE_TIMEOUT_S = 30.0  # every redirect, and the app's loopback answering the last one
CONTROL_TIMEOUT_S = 10.0  # the authorization server is a local process


@dataclass(frozen=True)
class Stats:
    """What the authorization server has done so far."""

    registrations: int
    authorizations: int
    code_grants: int
    refreshes: int
    refused_refreshes: int
    access_tokens: list[str]  # every one issued, in order


@dataclass(frozen=True)
class AuthServer:
    """A running tests/servers/auth_server.py: its process and its issuer URL."""

    process: HubProcess
    url: str

    async def expire_access(self) -> None:
        """Every access token issued so far expires now."""
        await self._post("/test/expire-access")

    async def revoke_refresh(self) -> None:
        """Every refresh token issued so far is revoked: a refresh gets invalid_grant."""
        await self._post("/test/revoke-refresh")

    async def stats(self) -> Stats:
        async with httpx2.AsyncClient(timeout=CONTROL_TIMEOUT_S) as client:
            response = await client.get(f"{self.url}/test/stats")
        return Stats(**response.raise_for_status().json())

    async def _post(self, path: str) -> None:
        async with httpx2.AsyncClient(timeout=CONTROL_TIMEOUT_S) as client:
            (await client.post(f"{self.url}{path}")).raise_for_status()


@contextmanager
def auth_server(home: Path, *options: str) -> Iterator[AuthServer]:
    """tests/servers/auth_server.py on a free port (started with ``options``), taking
    connections; stopped on leaving. ``home``: a folder of its own."""
    home.mkdir(exist_ok=True)
    port = free_port()
    process = HubProcess(
        home, program=(sys.executable, str(AUTH_SERVER)), command=(str(port), *options)
    )
    try:
        process.wait_for_line("listening")
        yield AuthServer(process, f"http://127.0.0.1:{port}")
    finally:
        process.stop()


async def browse(url: str) -> httpx2.Response:
    """What the user's browser does with an authorization URL when the user clicks Allow:
    it follows each redirect, up to and including the last one to the app's loopback
    redirect_uri, and this is that last response."""
    with anyio.fail_after(BROWSE_TIMEOUT_S):
        async with httpx2.AsyncClient(follow_redirects=True) as browser:
            return await browser.get(url)
