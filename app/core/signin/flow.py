"""Signing in to a remote server, when the user asks: the one place a browser opens.

:func:`sign_in` runs the MCP authorization flow through the SDK's OAuth client
(mcp.client.auth): it asks the server, finds its sign-in service from the
server's 401 (protected resource metadata, then the service's own metadata),
registers MCP Tray with it if it has not yet, and hands the sign-in page's
address to ``show`` (the tray opens the browser on it; the CLI prints it and
opens it). The browser comes back to a one-time listener on 127.0.0.1
(:class:`Loopback`) with the code, which is exchanged, with PKCE, for tokens
that go to the keyring (app.core.signin.tokens).

:class:`SignIns` lets one sign-in per server run at a time: asking again
while one is open gives the same page, never a second window. Each ends
within :data:`TIME_LIMIT_S`, with a sentence either way (:class:`SignInFailed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp.client.auth import OAuthFlowError, OAuthRegistrationError, OAuthTokenError
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthMetadata,
    OAuthToken,
    ProtectedResourceMetadata,
)

from app.core.errors import UserError
from app.core.secrets.store import KeyringUnavailable
from app.core.signin.auth import CLIENT_NAME, RefreshesAhead, SignInServiceDown
from app.core.signin.tokens import SignInStore
from app.core.supervise.lifecycle import in_words

logger = logging.getLogger(__name__)

# Generous: a person may have to find a password, or a second factor on a phone.
TIME_LIMIT_S = 600.0
CALLBACK_PATH = "/callback"
_MAX_REQUEST_BYTES = 16 * 1024  # the browser's request line and headers
_READ_S = 10.0  # a browser sends its request at once; an idle connection is dropped
# The revision the flow's request says it speaks: from 2025-06-18 on, the SDK names
# the server (the `resource` parameter) in the sign-in even when the server
# publishes no metadata.
_FLOW_REVISION = "2025-11-25"


class SignInFailed(UserError):
    """A sign-in did not succeed; the message says why and what to do."""


@dataclass
class SignIn:
    """One sign-in under way: its page's address, once known, and its outcome."""

    server: str
    page: asyncio.Future[str] = field(default_factory=asyncio.Future)
    done: asyncio.Future[None] = field(default_factory=asyncio.Future)
    task: asyncio.Task[None] | None = None


class SignIns:
    """At most one sign-in per server at a time."""

    def __init__(self) -> None:
        self._open: dict[str, SignIn] = {}

    def under_way(self, server: str) -> SignIn | None:
        return self._open.get(server)

    async def end(self, server: str | None = None) -> None:
        """End the sign-ins under way (of ``server``, or all): their listeners close."""
        ending = [attempt for name, attempt in list(self._open.items()) if server in (None, name)]
        tasks = [attempt.task for attempt in ending if attempt.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for attempt in ending:  # one cancelled before it began never said so itself
            self._open.pop(attempt.server, None)
            if not attempt.done.done():
                attempt.done.set_exception(_stopped(attempt.server))

    def begin(self, server: str, run: Callable[[SignIn], Awaitable[None]]) -> tuple[SignIn, bool]:
        """The sign-in to ``server``: the one already open, or a new one running ``run``.
        Whether it is new."""
        existing = self._open.get(server)
        if existing is not None:
            return existing, False
        attempt = self._open[server] = SignIn(server)
        # Its outcome is taken by whoever waits for it, if anyone still does.
        attempt.done.add_done_callback(lambda done: done.cancelled() or done.exception())

        async def go() -> None:
            try:
                await run(attempt)
                attempt.done.set_result(None)
            except Exception as error:
                attempt.done.set_exception(error)
            except asyncio.CancelledError:  # MCP Tray is stopping (or the server left)
                attempt.done.set_exception(_stopped(server))
                raise
            finally:
                self._open.pop(server, None)
                if not attempt.page.done():
                    attempt.page.cancel()

        attempt.task = asyncio.ensure_future(go())
        return attempt, True


def _stopped(server: str) -> SignInFailed:
    return SignInFailed(f"MCP Tray stopped before the sign-in to {server} ended")


async def sign_in(
    server: str,
    url: str,
    storage: SignInStore,
    show: Callable[[str], None],
    *,
    time_limit_s: float = TIME_LIMIT_S,
) -> None:
    """Sign in to the server at ``url``; tokens land in ``storage``. SignInFailed."""
    registration = await _registration(storage)
    try:
        async with asyncio.timeout(time_limit_s), Loopback.open(_port_of(registration)) as loopback:
            fresh = _FreshSignIn(storage, registration, loopback.redirect_uri)
            metadata = OAuthClientMetadata(
                client_name=CLIENT_NAME,
                redirect_uris=[loopback.redirect_uri],  # type: ignore[list-item]
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="none",  # a desktop app keeps no secret: PKCE instead
            )

            async def open_page(page: str) -> None:
                show(page)

            auth = RefreshesAhead(url, metadata, fresh, open_page, loopback.code)
            async with create_mcp_http_client(auth=auth) as http:
                answer = await http.post(url, json=_INITIALIZE, headers=_FLOW_HEADERS)
                await _end_session(http, url, answer)
    except TimeoutError:
        raise SignInFailed(
            f"The sign-in to {server} was not finished within {in_words(time_limit_s)}. Sign in "
            "again when you are ready."
        ) from None
    except (OAuthFlowError, SignInServiceDown, KeyringUnavailable, httpx2.HTTPError) as error:
        raise SignInFailed(f"Could not sign in to {server}: {_reason(error)}") from None
    if answer.status_code in (401, 403):
        raise SignInFailed(
            f"{server} still refused MCP Tray after the sign-in (HTTP {answer.status_code}). "
            "Check that the account you signed in with may use it."
        )
    if not await storage.has_tokens():
        raise SignInFailed(
            f"{server} did not ask to sign in (HTTP {answer.status_code}): it needs no sign-in."
        )


_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": _FLOW_REVISION,
        "capabilities": {},
        "clientInfo": {"name": CLIENT_NAME, "version": "sign-in"},
    },
}
_FLOW_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": _FLOW_REVISION,
}


async def _end_session(http: httpx2.AsyncClient, url: str, answer: httpx2.Response) -> None:
    """The request that led to the sign-in opened an MCP session; it is not used."""
    session = answer.headers.get("mcp-session-id")
    if session:
        with contextlib.suppress(httpx2.HTTPError):
            await http.delete(url, headers={"mcp-session-id": session, **_FLOW_HEADERS})


async def _registration(storage: SignInStore) -> OAuthClientInformationFull | None:
    try:
        return await storage.get_client_info()
    except KeyringUnavailable as error:
        raise SignInFailed(f"Could not sign in to {storage.server}: {error}") from None


def _port_of(registration: OAuthClientInformationFull | None) -> int | None:
    """The port MCP Tray registered its redirect with: services compare it exactly."""
    if registration is None or not registration.redirect_uris:
        return None
    return urlsplit(str(registration.redirect_uris[0])).port


class _FreshSignIn:
    """The store, as a sign-in sees it: no tokens yet (so the flow asks the user, even
    when old ones are kept), and the registration only if its redirect is this one's."""

    def __init__(
        self, storage: SignInStore, registration: OAuthClientInformationFull | None, redirect: str
    ) -> None:
        self._storage = storage
        uris = [str(uri) for uri in (registration.redirect_uris or [])] if registration else []
        self._registration = registration if redirect in uris else None

    async def get_tokens(self) -> OAuthToken | None:
        return None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        await self._storage.set_tokens(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self._registration

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        await self._storage.set_client_info(client_info)

    async def get_service(self) -> tuple[OAuthMetadata | None, ProtectedResourceMetadata | None]:
        return None, None  # found afresh: the service may have moved

    async def set_service(
        self, service: OAuthMetadata | None, resource: ProtectedResourceMetadata | None
    ) -> None:
        await self._storage.set_service(service, resource)


class Loopback:
    """Where the browser comes back: a listener on 127.0.0.1 that takes one redirect
    to :data:`CALLBACK_PATH`, thanks the user in the browser tab, and hands the
    code to the flow."""

    def __init__(self, server: asyncio.Server) -> None:
        self._server = server
        port = server.sockets[0].getsockname()[1]
        self.redirect_uri = f"http://127.0.0.1:{port}{CALLBACK_PATH}"
        self._result: asyncio.Future[AuthorizationCodeResult] = asyncio.Future()

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, port: int | None) -> AsyncIterator[Loopback]:
        """Listen on ``port`` if it is free (a registered redirect), else on any."""
        holder: list[Loopback] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await holder[0]._answer(reader, writer)

        server: asyncio.Server | None = None
        if port is not None:
            with contextlib.suppress(OSError):
                server = await asyncio.start_server(serve, "127.0.0.1", port)
        if server is None:
            server = await asyncio.start_server(serve, "127.0.0.1", 0)
        loopback = cls(server)
        holder.append(loopback)
        try:
            yield loopback
        finally:
            server.close()
            if not loopback._result.done():
                loopback._result.cancel()

    async def code(self) -> AuthorizationCodeResult:
        """Wait for the browser to come back with the code (OAuthFlowError if refused)."""
        return await asyncio.shield(self._result)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_READ_S):
                head = await reader.readuntil(b"\r\n\r\n")
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            writer.close()
            return
        status, page = self._take(head[:_MAX_REQUEST_BYTES].decode("latin-1"))
        body = _PAGE.format(text=html.escape(page)).encode()
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(OSError):
            await writer.drain()
        writer.close()

    def _take(self, head: str) -> tuple[str, str]:
        """What the browser asked for: the redirect (once), or anything else (404)."""
        request_line = head.split("\r\n", 1)[0].split(" ")
        target = urlsplit(request_line[1]) if len(request_line) >= 2 else None
        if request_line[0] != "GET" or target is None or target.path != CALLBACK_PATH:
            return "404 Not Found", "Nothing here. You can close this tab."
        if self._result.done():
            return "200 OK", "This sign-in is over. You can close this tab."
        query = {key: values[0] for key, values in parse_qs(target.query).items()}
        if "code" in query:
            self._result.set_result(
                AuthorizationCodeResult(
                    code=query["code"], state=query.get("state"), iss=query.get("iss")
                )
            )
            return "200 OK", "MCP Tray has your sign-in. You can close this tab."
        why = query.get("error_description") or query.get("error") or "no code came back"
        self._result.set_exception(OAuthFlowError(f"the sign-in page said: {why}"))
        return "200 OK", f"The sign-in did not go through ({why}). You can close this tab."


_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>MCP Tray</title></head>"
    "<body style='font-family: sans-serif; margin: 3em'><p>{text}</p></body></html>"
)


def _reason(error: Exception) -> str:
    """A failed sign-in in a few words."""
    if isinstance(error, OAuthRegistrationError):
        return f"its sign-in service would not register MCP Tray ({_service_words(str(error))})"
    if isinstance(error, OAuthTokenError):
        return f"its sign-in service refused the sign-in ({_service_words(str(error))})"
    if isinstance(error, httpx2.ConnectError):
        return "its sign-in service could not be reached. Check your connection and try again"
    if isinstance(error, httpx2.HTTPError):
        return f"the connection failed ({error or type(error).__name__})"
    if isinstance(error, OAuthFlowError):
        return str(error)
    return str(error)


def _service_words(text: str) -> str:
    """What a sign-in service said, from the SDK's message: its error_description or
    error when it answered JSON, else the status."""
    found = re.search(r"\{.*\}", text, re.DOTALL)
    if found:
        with contextlib.suppress(ValueError):
            said = json.loads(found.group(0))
            if isinstance(said, dict):
                words = said.get("error_description") or said.get("error")
                if isinstance(words, str) and words:
                    return words[:200]
    status = re.search(r"\b([1-5]\d\d)\b", text)
    return f"HTTP {status.group(1)}" if status else "no reason given"
