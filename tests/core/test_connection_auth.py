"""The token on each of the hub's requests (app.core.signin.auth.ConnectionAuth), against
a real HTTP server on a local port: one slow answer holds up no other request; and the
sign-ins under way (app.core.signin.flow.SignIns) when MCP Tray stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest

from app.core.secrets import SecretStore
from app.core.signin.auth import ConnectionAuth
from app.core.signin.flow import SignIn, SignInFailed, SignIns
from app.core.signin.tokens import SignInStore
from tests.keyrings import MemoryKeyring

pytestmark = pytest.mark.anyio

WAIT_S = 10.0


class Server:
    """Answers 200 at once, except to /slow, which waits for :attr:`release`."""

    def __init__(self) -> None:
        self.slow_arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        await reader.readexactly(length)
        if b" /slow " in head.split(b"\r\n")[0]:
            self.slow_arrived.set()
            await self.release.wait()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        )
        await writer.drain()
        writer.close()


@asynccontextmanager
async def serving() -> AsyncIterator[tuple[Server, str]]:
    server = Server()
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.release.set()
        listening.close()


async def test_a_slow_answer_holds_up_no_other_request_on_the_connection(tmp_path: Path) -> None:
    async with serving() as (server, url):
        store = SignInStore(SecretStore(tmp_path / "names.json", backend=MemoryKeyring()), "s", url)
        async with httpx2.AsyncClient(auth=ConnectionAuth(f"{url}/mcp", store)) as http:
            slow = asyncio.ensure_future(http.post(f"{url}/slow", json={}))
            async with asyncio.timeout(WAIT_S):
                await server.slow_arrived.wait()
                fast = await http.post(f"{url}/mcp", json={})  # while /slow is unanswered
            still_waiting = not slow.done()
            server.release.set()
            async with asyncio.timeout(WAIT_S):
                await slow

    assert fast.status_code == 200
    assert still_waiting


async def test_a_sign_in_under_way_ends_when_mcp_tray_stops_and_says_so() -> None:
    sign_ins = SignIns()
    never = asyncio.Event()

    async def waits_for_the_browser(attempt: SignIn) -> None:
        await never.wait()

    attempt, new = sign_ins.begin("linear", waits_for_the_browser)
    again, second = sign_ins.begin("linear", waits_for_the_browser)
    await sign_ins.end()

    assert new and not second and again is attempt  # one sign-in per server at a time
    with pytest.raises(SignInFailed, match="MCP Tray stopped before the sign-in to linear ended"):
        await attempt.done
    assert sign_ins.under_way("linear") is None
