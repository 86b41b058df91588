"""Each server at a Streamable HTTP endpoint, for hosts that prefer a URL to a command.

``http://127.0.0.1:PORT/servers/NAME/mcp`` (MCP 2025-11-25: POST and GET on
one path, ``Mcp-Session-Id``, SSE responses, ``MCP-Protocol-Version``), and
the same paths over a per-user Unix socket (``run/http.sock``) for hosts that
speak HTTP over ``unix://``. Off unless the config's ``http.enabled`` is true.

Each HTTP session is one more client of the server's relay, exactly as an
``mcp-tray attach`` is: the SDK's session transport hands its messages to the
relay's in-memory port (``Relay.attached``), so the shared server,
transparent restarts, the cached tool list and the readable errors hold over
HTTP too.

Security, checked as soon as a request's head has arrived, before its body
is read, each refusal logged (throttled: app.core.endpoint.httpguard):

- TCP listens on 127.0.0.1 only;
- ``Host`` must name that address or ``localhost`` with the port (else 421),
  and a browser's ``Origin`` must be the endpoint's own (else 403), against
  DNS rebinding;
- ``Authorization: Bearer TOKEN`` with the per-install token kept in the
  keyring (else 401). The Unix socket is private to the user (0600), like
  the control socket, so it asks for no token;
- a refused request's connection is closed with the answer, its body unread;
- only configured servers are reachable: a URL never names a command;
- request bodies above ``http.maxBodyBytes`` get 413; results are streamed
  back as SSE however large;
- connections are capped and each request has a deadline (httpguard);
- a session keeps its recent events, bounded, so that a client whose SSE
  stream broke resumes it with ``Last-Event-ID`` (app.core.endpoint.events);
  an id it cannot resume from is answered 400 or 410, never an empty stream;
- a session with no request in flight for ``IDLE_SESSION_S`` ends, and with
  it the process of a ``"shared": false`` server that it kept;
- a new token (``mcp-tray http rotate-token``) applies at once: see
  :meth:`HttpEndpoint.use_token`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import anyio
import uvicorn
from mcp.server.streamable_http import (
    LAST_EVENT_ID_HEADER,
    MCP_SESSION_ID_HEADER,
    StreamableHTTPServerTransport,
)
from mcp.server.transport_security import RequestBodyLimitMiddleware
from mcp.shared.message import ServerMessageMetadata, SessionMessage
from mcp_types import jsonrpc_message_adapter
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.core.config import HttpConfig
from app.core.endpoint import httpguard
from app.core.endpoint.control import ControlError
from app.core.endpoint.events import RETRY_MS, SessionEvents
from app.core.endpoint.exchange import (
    VERSION_HEADER,
    AttachableRelay,
    Exchanges,
    has_envelope,
    is_modern,
)
from app.core.endpoint.httpguard import (
    ACCEPT_BATCH,
    LISTEN_QUEUE,
    Limits,
    Throttle,
    cut,
    guarded_protocol,
)
from app.core.racing import first_done
from app.core.rpc.envelope import id_key, params
from app.core.rpc.framing import Message
from app.core.rpc.heads import valid_id
from app.core.rpc.port import ClientPort, MemoryClient

logger = logging.getLogger(__name__)
refusals = logging.getLogger(f"{__name__}.refusals")  # throttled: outsiders make it speak

TOKEN_SCOPE = "_http"  # keyring scope of the token; no server name starts with "_"
TOKEN_NAME = "token"
MAX_SESSIONS = 256  # sessions end with DELETE, idleness or the hub; a bound all the same
# As the SDK's own session manager: an app that keeps its GET stream open is
# never idle; one that only posts is asked to start anew after half an hour.
IDLE_SESSION_S = 30 * 60.0
# A session's messages waiting for its client, as a socket client may have 256
# MiB (app.core.rpc.clientlink): past it, the client has stopped reading.
MAX_WAITING_MESSAGES = 10_000
SHOWN_CHARS = 80  # of a header value an outsider chose, quoted in a refusal line
_PATH = re.compile(r"^/servers/([^/]+)/mcp/?$")

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Relays(Protocol):
    def relay(self, name: str) -> AttachableRelay: ...


class TokenStore(Protocol):
    def get(self, server: str, name: str) -> str | None: ...
    def set(self, server: str, name: str, value: str) -> None: ...


def install_token(store: TokenStore) -> str:
    """The per-install bearer token, made on first use (blocking: keyring I/O)."""
    token = store.get(TOKEN_SCOPE, TOKEN_NAME)
    return token or new_token(store)


def new_token(store: TokenStore) -> str:
    """Replace the bearer token in the keyring with a new one (blocking: keyring I/O).

    A running endpoint goes on taking the old one until told (use_token).
    """
    token = secrets.token_urlsafe(32)
    store.set(TOKEN_SCOPE, TOKEN_NAME, token)
    return token


def server_url(port: int, name: str) -> str:
    return f"http://127.0.0.1:{port}/servers/{name}/mcp"


@dataclass
class _Session:
    server: str
    transport: StreamableHTTPServerTransport
    events: SessionEvents
    remote: bool  # opened over TCP, with the token of the time
    task: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class HttpEndpoint:
    """The HTTP listeners (TCP and the Unix socket) and the sessions they carry.

    ``idle_session_s`` and ``limits``: see IDLE_SESSION_S and app.core.endpoint.httpguard;
    ``exchanges``: the 2026-07-28 single exchanges, with their own bounds.
    """

    def __init__(
        self,
        relays: Relays,
        settings: HttpConfig,
        *,
        token: str,
        socket_path: Path,
        idle_session_s: float = IDLE_SESSION_S,
        limits: Limits | None = None,
        exchanges: Exchanges | None = None,
    ) -> None:
        self._relays = relays
        self.settings = settings
        self._token = token
        self._socket_path = socket_path
        self._idle_session_s = idle_session_s
        self._limits = limits or Limits()
        self._throttle = Throttle(refusals)
        self._sessions: dict[str, _Session] = {}
        self._exchanges = exchanges or Exchanges()
        self._listeners: list[tuple[uvicorn.Server, socket.socket]] = []
        port = settings.port
        self._hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        self._origins = {f"http://127.0.0.1:{port}", f"http://localhost:{port}"}

    async def start(self) -> None:
        """Listen; an address in use is an OSError for the caller to report."""
        sockets = [http_listener(self.settings.port)]
        self._throttle.watch(refusals, httpguard.logger, logging.getLogger("uvicorn.error"))
        try:
            sockets.append(_private_unix_socket(self._socket_path))
            for sock, remote in zip(sockets, (True, False), strict=True):
                sock.setblocking(False)
                config = _uvicorn_config(self._app(remote=remote), self._limits)
                server = uvicorn.Server(config)
                # Server.serve() would also take over SIGINT and SIGTERM, and tick a
                # loop ten times a second; the hub has its own signals and polls nothing.
                server.lifespan = config.lifespan_class(config)
                await server.startup(sockets=[sock])
                # asyncio listened with ACCEPT_BATCH; the kernel may queue more
                # (queued connections cost the hub nothing) so that a burst of
                # them is not met with dropped handshakes and 1 s retries.
                sock.listen(LISTEN_QUEUE)
                self._listeners.append((server, sock))
        except BaseException:
            await self.close()
            for sock in sockets:
                sock.close()
            raise
        logger.info(
            "HTTP endpoint: %s (and %s)", server_url(self.settings.port, "NAME"), self._socket_path
        )

    async def close(self) -> None:
        sessions = [s.task for s in self._sessions.values() if s.task is not None]
        for task in sessions:
            task.cancel()
        await asyncio.gather(*sessions, return_exceptions=True)
        await self._exchanges.forget(remote_only=False)
        for server, sock in self._listeners:
            await server.shutdown(sockets=[sock])
        self._listeners.clear()
        self._throttle.close()
        self._socket_path.unlink(missing_ok=True)

    def use_token(self, token: str) -> int:
        """Take ``token`` instead of the old one, from the next request on, and end
        the sessions opened over TCP with the old one (an app given the new token
        starts a new session); returns how many ended. Unix-socket sessions never
        used a token and stay."""
        self._token = token
        ended = [s.task for s in self._sessions.values() if s.remote and s.task is not None]
        for task in ended:
            task.cancel()
        self._exchanges.forget_soon(remote_only=True)  # a retry with the old token cannot come
        logger.info(
            "HTTP endpoint: took the new access token; ended %d session(s) opened with the old one",
            len(ended),
        )
        return len(ended)

    # ----- requests

    def _app(self, *, remote: bool) -> ASGIApp:
        # The checks come before the body limit, which reads the whole body.
        routed = RequestBodyLimitMiddleware(
            self._routing(remote=remote), self.settings.max_body_bytes
        )

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return
            refusal = self._refusal(scope) if remote else None
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            await routed(scope, receive, send)

        return app

    def _routing(self, *, remote: bool) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await self._route(scope, receive, send, remote=remote)

        return app

    def _refusal(self, scope: Scope) -> Response | None:
        """Why a request over TCP is refused (None: it is not), logged."""
        headers = Headers(scope=scope)
        host, origin = headers.get("host", ""), headers.get("origin")
        if host not in self._hosts:
            return _refuse(scope, 421, f"Host {_shown(host)} is not this endpoint (DNS rebinding?)")
        if origin is not None and origin not in self._origins:
            return _refuse(scope, 403, f"Origin {_shown(origin)} may not use this endpoint")
        given = headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self._token}".encode()):
            why = "no bearer token" if not given else "a wrong bearer token"
            response = _refuse(scope, 401, f"{why}; `mcp-tray connect --http` writes the right one")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return None

    async def _route(self, scope: Scope, receive: Receive, send: Send, *, remote: bool) -> None:
        match = _PATH.match(scope["path"])
        if match is None:
            text = "Not found: servers are at /servers/NAME/mcp"
            await Response(text, status_code=404)(scope, receive, send)
            return
        headers = Headers(scope=scope)
        session_id = headers.get(MCP_SESSION_ID_HEADER)
        if session_id is not None:
            session = self._sessions.get(session_id)
            if session is None or session.server != match.group(1):
                await Response("Session not found", status_code=404)(scope, receive, send)
                return
            last_event_id = headers.get(LAST_EVENT_ID_HEADER)
            if scope["method"] == "GET" and last_event_id is not None:
                # The SDK would answer an id it cannot resume from with an empty
                # stream, which a client takes for a break and retries at once.
                refused = session.events.unresumable(last_event_id)
                if refused is not None:
                    logger.info("HTTP session of %s: no resume: %s", session.server, refused.reason)
                    response = Response(refused.reason, status_code=refused.status)
                    await response(scope, receive, send)
                    return
            await session.transport.handle_request(scope, receive, send)
            if session.transport.is_terminated and session.task is not None:
                session.task.cancel()  # the client ended it (DELETE)
            return
        await self._without_session(match.group(1), scope, receive, send, remote=remote)

    async def _without_session(
        self, server: str, scope: Scope, receive: Receive, send: Send, *, remote: bool
    ) -> None:
        """A 2026-07-28 exchange (app.core.endpoint.exchange), or a session's opening."""
        headers = Headers(scope=scope)
        try:
            relay = self._relays.relay(server)
        except ControlError as error:
            await Response(str(error), status_code=404)(scope, receive, send)
            return
        modern = is_modern(headers)
        if not modern and scope["method"] == "POST" and VERSION_HEADER not in headers:
            # A 2026-07-28 request may be known by its envelope alone (and is then
            # refused for the header it lacks): the body decides, and is replayed.
            body = await _whole_body(receive)
            receive, modern = _replaying(body, receive), has_envelope(body)
        if modern:
            token = self._token if remote else None
            await self._exchanges.serve(
                server, relay, scope, receive, send, remote=remote, token=token
            )
            return
        if len(self._sessions) >= MAX_SESSIONS:
            await Response("Too many open sessions", status_code=503)(scope, receive, send)
            return
        await self._open_session(server, relay, scope, receive, send, remote=remote)

    async def _open_session(
        self,
        server: str,
        relay: AttachableRelay,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        remote: bool,
    ) -> None:
        """A request without a session: only an initialize succeeds, and then the
        session lives on; anything else is answered and the session dropped."""
        session_id = secrets.token_hex(16)
        events = SessionEvents()
        transport = StreamableHTTPServerTransport(
            session_id,
            event_store=events,
            retry_interval=RETRY_MS,
            idle_timeout=self._idle_session_s,
        )
        session = _Session(server, transport, events, remote)
        self._sessions[session_id] = session
        session.task = asyncio.create_task(self._run_session(session_id, session, relay))
        await session.ready.wait()
        status = 0

        async def noting_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await session.transport.handle_request(scope, receive, noting_status)
        finally:
            if status != 200:  # not an initialize, or a refused one: no session
                session.task.cancel()

    async def _run_session(
        self, session_id: str, session: _Session, relay: AttachableRelay
    ) -> None:
        """Carry one session's messages to and from the relay, until either side ends
        or the session has had no request in flight for ``idle_session_s``."""
        try:
            async with session.transport.connect() as (from_client, to_client):
                try:
                    # The transport moves this scope's deadline: on hold while a request
                    # (an open GET stream too) is served, idle_session_s after the last.
                    with session.transport.idle_scope or anyio.CancelScope() as idle:
                        await self._carry(session, relay, from_client, to_client)
                    if idle.cancelled_caught:
                        logger.info(
                            "HTTP session of %s ended: no request for %s",
                            session.server,
                            _minutes(self._idle_session_s),
                        )
                finally:
                    self._sessions.pop(session_id, None)  # its id is unknown from now on
                    session.events.close()
                    await _terminate(session.transport)
        except asyncio.CancelledError:
            pass
        finally:
            session.ready.set()  # a failed start must not leave the opening request waiting
            self._sessions.pop(session_id, None)

    async def _carry(
        self, session: _Session, relay: AttachableRelay, from_client: Any, to_client: Any
    ) -> None:
        """Until the client's side ends: its messages into the relay's port, the
        relay's out through the SDK's transport (as objects: nothing is encoded
        to be parsed again on the way)."""
        output = MemoryClient(limit=MAX_WAITING_MESSAGES)
        async with relay.attached(output) as port:
            session.ready.set()
            relations = _Relations()
            carried = [
                asyncio.create_task(_client_to_relay(from_client, port, relations, session.events)),
                asyncio.create_task(_relay_to_client(output, to_client, relations)),
                asyncio.create_task(_stopped_reading(session, output)),
            ]
            done = await first_done(carried)
            for task in done:
                task.result()  # a failure of either side is the session's


async def _stopped_reading(session: _Session, output: MemoryClient) -> None:
    await output.overflowed.wait()
    logger.warning(
        "HTTP session of %s stopped taking messages (%d waiting); ending it",
        session.server,
        MAX_WAITING_MESSAGES,
    )


async def _terminate(transport: StreamableHTTPServerTransport) -> None:
    """End the transport's streams as a DELETE would, before connect() closes them:
    the SDK takes streams closed under a live transport for a fault, and logs it."""
    if not transport.is_terminated:
        with anyio.CancelScope(shield=True):
            await transport.terminate()


class _Relations:
    """Which of a session's requests each message from the server belongs to.

    The SDK's transport puts a server message on the stream of the POST it
    relates to only when told which request that is; otherwise it goes to the
    session's GET stream, which many clients never open (the message is then
    lost) and which races the answer it preceded. Over stdio a server does not
    say which request a message is about, so it is worked out here:

    - progress, by its token, which is the one the client's request carried;
    - a log line, or a request of the server's own (sampling, elicitation,
      roots), when exactly one of the session's requests is in flight: it can
      only come from that one. With several in flight, or none, it goes to
      the GET stream, as the spec allows.
    """

    # What a server says or asks while working on a request.
    DURING_A_REQUEST = frozenset(
        {"notifications/message", "sampling/createMessage", "elicitation/create", "roots/list"}
    )

    def __init__(self) -> None:
        self._in_flight: dict[Any, Any] = {}  # the request's id (id_key) -> its id
        self._by_token: dict[Any, Any] = {}  # a progress token (id_key) -> the request's id
        self._tokens: dict[Any, Any] = {}  # the request's id (id_key) -> its token (id_key)

    def sent(self, message: Message) -> None:
        """A message from the client, on its way to the relay."""
        if message.get("method") == "notifications/cancelled":  # no answer will come
            self._forget(params(message).get("requestId"))
        if "method" not in message or not valid_id(message.get("id")):
            return
        self._in_flight[id_key(message["id"])] = message["id"]
        meta = params(message).get("_meta")
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        if valid_id(token):
            self._by_token[id_key(token)] = message["id"]
            self._tokens[id_key(message["id"])] = id_key(token)

    def related(self, message: Message) -> Any:
        """The id of the request ``message`` belongs on the stream of, or None."""
        method = message.get("method")
        if method is None:
            self._forget(message.get("id"))  # an answer: its request is over
            return None
        if method == "notifications/progress":
            return self._by_token.get(id_key(params(message).get("progressToken")))
        if method in self.DURING_A_REQUEST and len(self._in_flight) == 1:
            return next(iter(self._in_flight.values()))
        return None

    def _forget(self, request_id: Any) -> None:
        if valid_id(request_id):
            key = id_key(request_id)
            self._in_flight.pop(key, None)
            self._by_token.pop(self._tokens.pop(key, None), None)


async def _client_to_relay(
    from_client: Any, port: ClientPort, relations: _Relations, events: SessionEvents
) -> None:
    async for item in from_client:
        if isinstance(item, Exception):
            logger.debug("HTTP session: %s", item)
            continue
        message = item.message.model_dump(by_alias=True, exclude_unset=True)
        relations.sent(message)
        if message.get("method") == "notifications/cancelled":
            cancelled = params(message).get("requestId")
            if valid_id(cancelled):  # its stream is named as the SDK names it: str(id)
                events.cancelled(str(cancelled))
        port.receive(message)


async def _relay_to_client(output: MemoryClient, to_client: Any, relations: _Relations) -> None:
    while True:
        message = await output.receive()
        try:
            carried = jsonrpc_message_adapter.validate_python(message, by_name=False)
        except ValidationError as error:
            logger.warning("HTTP session: dropped a message the SDK cannot carry: %s", error)
            continue
        related = ServerMessageMetadata(related_request_id=relations.related(message))
        await to_client.send(SessionMessage(carried, metadata=related))


async def _whole_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client left: what came is all there is
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` with the body read already given again, whole, first."""
    given = False

    async def replayed() -> Any:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def http_listener(port: int) -> socket.socket:
    """A TCP listener on 127.0.0.1 whose connections asyncio sends on without delay.

    asyncio turns off Nagle's algorithm (TCP_NODELAY) only on sockets whose
    protocol number says TCP, and an accepted connection inherits the
    listener's: ``socket.create_server`` leaves it 0. Without it, the end of
    each streamed answer waited for the client's delayed acknowledgement,
    40 ms per request on Linux.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if os.name == "posix":  # elsewhere SO_REUSEADDR would let another program share the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


def _private_unix_socket(path: Path) -> socket.socket:
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # born 0600, as the control socket: no window for others
    try:
        sock.bind(str(path))
    except OSError:
        sock.close()
        raise
    finally:
        os.umask(old_umask)
    sock.listen()
    return sock


def _refuse(scope: Scope, status: int, why: str) -> Response:
    """The answer, which also closes the connection: the body (of any size) goes unread."""
    client = scope.get("client") or ("?", 0)
    refusals.warning(
        "HTTP endpoint refused %s %s from %s: %s (%d)",
        scope.get("method"),
        cut(str(scope.get("path")), SHOWN_CHARS),
        client[0],
        why,
        status,
    )
    return Response(why, status_code=status, headers={"Connection": "close"})


def _shown(value: str) -> str:
    """A header value an outsider chose, quoted for a log line and kept short."""
    return repr(cut(value, SHOWN_CHARS))


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} s"


def _uvicorn_config(app: ASGIApp, limits: Limits) -> uvicorn.Config:
    config = uvicorn.Config(
        app,
        http=guarded_protocol(limits),
        # asyncio accepts up to this many connections in one turn of the loop,
        # before any is turned away: small, so a flood cannot outrun the cap.
        backlog=ACCEPT_BATCH,
        lifespan="off",
        log_level="warning",
        log_config=None,  # uvicorn's lines go to the hub's log (throttled), not its own stderr
        access_log=False,
        # No Date header: keeping it current takes uvicorn's once-a-tick loop,
        # and the hub polls nothing.
        date_header=False,
        server_header=False,
        ws="none",
        timeout_graceful_shutdown=2,
    )
    config.load()
    return config
