"""One connection to a remote server: a run whose "process" is an HTTP client session.

A remote server (a ``url`` in its config) is reached over Streamable HTTP, or
over the old HTTP+SSE transport when its entry says ``"type": "sse"`` (or says
no type, and the address has no Streamable HTTP endpoint), through the ``mcp``
SDK's client transports. The hub speaks to it through the same
BackendSession as to a local process: what the session writes goes out as
HTTP requests, and what the server sends (answers, and its own requests and
notifications on its event stream) comes back as lines. So the relay, the
health checks and the replay after a restart are a local server's: a
connection that drops, or a session the server forgets (404), is a process
that exits, and the next is opened with the same backoff, the attached apps
none the wiser.

A server that signs its users in (OAuth) gets each request through
:class:`~app.core.signin.auth.ConnectionAuth`: the user's token from the
keyring, refreshed without asking; when none works, the run ends with
``needs_sign_in`` and the server waits for the user (app.core.signin).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpx2
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp.shared.message import ClientMessageMetadata, SessionMessage
from mcp_types import (
    CONNECTION_CLOSED,
    METHOD_NOT_FOUND,
    JSONRPCError,
    JSONRPCRequest,
    JSONRPCResponse,
    jsonrpc_message_adapter,
)
from pydantic import ValidationError

from app.core.config import ServerConfig
from app.core.config.placeholders import MissingValues
from app.core.racing import first_done
from app.core.rpc.backend import BackendSession
from app.core.rpc.framing import MessageReader, encode
from app.core.signin.auth import ConnectionAuth, SignInNeeded, SignInServiceDown
from app.core.supervise import lifecycle
from app.core.supervise.failure import Failure
from app.core.supervise.process import StartFailure
from app.core.supervise.run import Outcome, RunOwner, ServerRun, Wiring
from app.core.supervise.states import Trigger
from app.core.supervise.status import shown_address

logger = logging.getLogger(__name__)


class _NetworkFaultsTold(logging.Filter):
    """The SDK's client logs a traceback at ERROR when a request fails on the network
    ("Error in post_writer"), or for want of a sign-in; the run tells it in a line
    of its own ("could not be reached (…)", "Offline — trying again…", "needs you
    to sign in"), so the traceback is not a fault to show in hub.log. Anything
    else it logs passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        failed = record.exc_info[1] if record.exc_info else None
        if failed is None:
            return True
        return not (_is_network_fault(failed) or isinstance(_innermost(failed), SignInNeeded))


for _transport in ("mcp.client.streamable_http", "mcp.client.sse"):
    logging.getLogger(_transport).addFilter(_NetworkFaultsTold())

# Fills in a remote server's headers (its ${secret:…} and ${env:…}); raises
# MissingValues when one is not there.
Headers = Callable[[ServerConfig], Awaitable[dict[str, str]]]
# A connection's sign-in (a new one for each connection), or None for a server that
# takes a key in its headers instead.
AuthFor = Callable[[ServerConfig], ConnectionAuth | None]
# The SDK's answer to a request whose session the server no longer knows (HTTP 404),
# unless the server's own error came with the 404.
_SESSION_GONE = "Session terminated"
_SESSION_HEADER = "mcp-session-id"
CLOSE_S = 5.0  # ending the session (DELETE) when the hub lets a connection go


async def as_configured(config: ServerConfig) -> dict[str, str]:
    """A remote server's headers as written (no placeholders filled in)."""
    return dict(config.headers)


def no_sign_in(config: ServerConfig) -> ConnectionAuth | None:
    return None


def signs_in(config: ServerConfig) -> bool:
    """Whether MCP Tray signs in to the server for the user: a remote server whose
    headers carry no key of their own (an Authorization header, or any header holding
    a secret, say X-API-Key) may ask it to."""
    return config.remote and not any(
        key.lower() == "authorization" or "${secret:" in value
        for key, value in config.headers.items()
    )


class HttpLink:
    """A remote server's connection as BackendSession sees a process: :meth:`write`
    takes what the session sends, :attr:`reader` gives back what the server says."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.reader = asyncio.StreamReader()
        self._outgoing: asyncio.Queue[SessionMessage] = asyncio.Queue()
        self._open = True
        self.ended = asyncio.Event()
        self.why = ""  # why it ended, in a few words
        self.written = 0  # bytes taken by write(): BackendSession's offsets
        self._offsets: dict[Any, int] = {}  # request id -> where it starts, until answered
        # Where the requests the server never took begin (it had forgotten the
        # session): those are sent again to the next connection, even a tools/call.
        self.unread_from: int | None = None
        self.refusal: httpx2.Response | None = None  # the last error status it answered
        self.was_ready = False  # the handshake succeeded on it
        self.session_forgotten = False  # a POST in its session was answered 404
        self.session_id: str | None = None  # the server's, to end it when the hub lets go
        self.offline = False  # it ended for the network's sake, not the server's
        # The revision the handshake settled on, until the next message carries it: the
        # SDK's transport sends it (MCP-Protocol-Version) with every request after.
        self._version_to_send: str | None = None

    @property
    def writable(self) -> bool:
        return self._open

    def write(self, data: bytes) -> None:
        """Queue the messages in ``data`` (whole lines); ConnectionError once it ended."""
        if not self._open:
            raise ConnectionError("the connection to the server has ended")
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                message = jsonrpc_message_adapter.validate_json(line)
            except ValidationError as error:
                self._refuse(line, error)
                continue
            if isinstance(message, JSONRPCRequest):
                self._offsets[message.id] = self.written
            self._outgoing.put_nowait(SessionMessage(message, metadata=self._version_header()))
        self.written += len(data)

    def _version_header(self) -> ClientMessageMetadata | None:
        version, self._version_to_send = self._version_to_send, None
        if version is None:
            return None
        return ClientMessageMetadata(headers={MCP_PROTOCOL_VERSION_HEADER: version})

    async def saw(self, response: httpx2.Response) -> None:
        """Every HTTP answer (an httpx event hook): the last refusal is kept, to say
        why a handshake failed in HTTP's words (401, 404, a web page)."""
        if response.status_code >= 400 or _is_web_page(response):
            self.refusal = response
        request = response.request
        if (
            response.status_code == 404
            and request.method == "POST"  # a GET's 404 may be a server without a GET stream
            and _SESSION_HEADER in request.headers
        ):
            self.session_forgotten = True  # the error the SDK makes of it comes next
        elif session_id := response.headers.get(_SESSION_HEADER):
            self.session_id = session_id

    def offset_of(self, request: httpx2.Request) -> int | None:
        """Where the unanswered JSON-RPC request that ``request`` carried begins."""
        try:
            sent = json.loads(request.content)
        except (ValueError, httpx2.RequestNotRead):
            return None
        return self._offsets.get(sent.get("id")) if isinstance(sent, dict) else None

    def end(self, why: str, *, offline: bool = False) -> None:
        """The connection is over: nothing more goes out, the reader ends. ``offline``:
        the network failed (the server could not be reached, or stopped answering)."""
        if not self.ended.is_set():
            self.why, self.offline = why, offline
            self._close()

    def failed(self, error: BaseException) -> None:
        """The transport failed: the connection ends, in the failure's words (which say
        more than what was seen before it, say its stream closing)."""
        self.why, self.offline = _reason(error), _is_network_fault(error)
        self._close()

    def _close(self) -> None:
        self._open = False
        if not self.ended.is_set():
            self.ended.set()
            self.reader.feed_eof()

    async def carry(
        self,
        incoming: ObjectReceiveStream[SessionMessage | Exception],
        outgoing: ObjectSendStream[SessionMessage],
    ) -> None:
        """Carry messages both ways until either side ends; then :meth:`end`."""
        sending = asyncio.ensure_future(self._send_all(outgoing))
        receiving = asyncio.ensure_future(self._receive_all(incoming))
        try:
            done = await first_done((sending, receiving))
            next(iter(done)).result()
        except Exception as error:  # a transport fault ends this connection, not the hub
            self.failed(error)
        self.end("the connection ended")

    async def _send_all(self, outgoing: ObjectSendStream[SessionMessage]) -> None:
        try:
            while True:
                await outgoing.send(await self._outgoing.get())
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            # The SDK's writer ended: a request of its failed on the network (it logs
            # why; see _NetworkFaultsTold), or the transport is closing.
            self.end("the connection broke", offline=True)

    async def _receive_all(self, incoming: ObjectReceiveStream[SessionMessage | Exception]) -> None:
        async for item in incoming:
            if isinstance(item, Exception):
                self.failed(item)
                return
            message = item.message
            offset = None
            if isinstance(message, JSONRPCResponse | JSONRPCError):
                offset = self._offsets.pop(message.id, None)
            if isinstance(message, JSONRPCResponse) and offset == 0:  # the handshake's answer
                version = message.result.get("protocolVersion")
                self._version_to_send = version if isinstance(version, str) else None
            if isinstance(message, JSONRPCError) and self._forgotten(message):
                if offset is not None:  # that request never ran: it may be sent again
                    self.unread_from = offset
                self.end("the server ended its session")
                return
            if isinstance(message, JSONRPCError) and _stream_broke(message):
                # The server may have run the request: as a process's crash, the relay
                # repeats what is safe and fails a call readably (-31001). Unless it never
                # reached the server (a sign-in refused it): the run may find that out.
                if offset is not None:
                    self._offsets[message.id] = offset
                self.end("the connection broke", offline=True)
                return
            self.reader.feed_data(
                message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
            )
        self.end("the server closed the connection", offline=True)

    async def end_session(self, http: httpx2.AsyncClient, url: str) -> None:
        """Tell the server its session is over (DELETE), unless it forgot it already."""
        if self.session_id is None or self.session_forgotten:
            return
        with contextlib.suppress(httpx2.HTTPError, TimeoutError):
            async with asyncio.timeout(CLOSE_S):
                await http.delete(url, headers={_SESSION_HEADER: self.session_id})

    def _forgotten(self, error: JSONRPCError) -> bool:
        """Whether ``error`` says the server no longer knows the session: a 404 to a
        request in it (a 404 may also spell method-not-found, which it is not)."""
        if error.error.code == METHOD_NOT_FOUND:
            return False
        return self.session_forgotten or error.error.message == _SESSION_GONE

    def _refuse(self, line: bytes, error: ValidationError) -> None:
        """A message the SDK's types refuse cannot be sent; a request is answered so."""
        logger.warning("%s: could not send a message to the remote server: %s", self.name, error)
        with contextlib.suppress(ValueError):
            request = JSONRPCRequest.model_validate_json(line)
            text = "MCP Tray could not send this request to the remote server: it is not valid MCP"
            answer = {
                "jsonrpc": "2.0",
                "id": request.id,
                "error": {"code": -32600, "message": text},
            }
            self.reader.feed_data(encode(answer))


class _Lost(Exception):
    """The connection ended while a run waited on the server."""


class RemoteRun(ServerRun):
    """One connection to a remote server, until it ends."""

    def __init__(self, owner: RunOwner, wiring: Wiring, headers: Headers, auth: AuthFor) -> None:
        super().__init__(owner, wiring)
        self._headers = headers
        self._auth_for = auth
        self._auth: ConnectionAuth | None = None  # the connection's sign-in, if it signs in
        self._link: HttpLink | None = None

    @property
    def signed_in(self) -> bool:
        """Whether the connection carries the user's sign-in."""
        auth = self._auth
        return auth is not None and auth.signed_in and auth.needs_sign_in is None

    async def live(self) -> Outcome:
        """Connect, serve, and let go of the server; how it ended."""
        owner = self._owner
        try:
            headers = await self._headers(owner.config)
        except StartFailure as failure:
            return self._cannot_start(str(failure))
        except MissingValues as missing:
            return self._missing(missing)
        owner.count_spawn()
        self._auth = self._auth_for(owner.config)
        assert owner.config.url is not None
        owner.note(lifecycle.connecting(shown_address(owner.config.url) or ""))
        outcome, link = await self._attempt(headers, old_transport=owner.config.old_sse_transport)
        if self._may_speak_the_old_transport(link):
            owner.note(lifecycle.TRYING_OLD_TRANSPORT)
            old, link = await self._attempt(headers, old_transport=True)
            if link.was_ready:  # else the first refusal says more ("no MCP server there")
                outcome = old
        if owner.interrupted():  # a stop or restart asked for: as ServerRun._stop does
            owner.move(Trigger.STOP)
        elif self._auth is not None and self._auth.needs_sign_in is not None:
            return self._sign_in_needed(self._auth.needs_sign_in)
        return outcome

    def _sign_in_needed(self, why: str) -> Outcome:
        self._owner.note(lifecycle.needs_sign_in(why))
        return Outcome(
            failure=Failure(phrase=why), uptime_s=0, deterministic=True, needs_sign_in=True
        )

    async def _attempt(
        self, headers: dict[str, str], *, old_transport: bool
    ) -> tuple[Outcome, HttpLink]:
        link = self._link = HttpLink(self.name)
        started = time.monotonic()
        try:
            try:
                async with self._connected(link, headers, old_transport=old_transport):
                    outcome = await self._serve_link(link, started)
            except _Lost:
                outcome = self._lost(link, started)
            except Exception as error:  # the SDK's transport failed (its words come last)
                link.failed(error)
                outcome = self._lost(link, started)
        finally:
            self._keep_unsent(link)
            self._ended(link)
        return outcome, link

    def _keep_unsent(self, link: HttpLink) -> None:
        """A request refused for want of a sign-in never ran: as those a forgotten session
        refused, it and the requests after it wait for the next connection."""
        refused = self._auth.refused if self._auth is not None else None
        offset = link.offset_of(refused) if refused is not None else None
        if offset is not None and (link.unread_from is None or offset < link.unread_from):
            link.unread_from = offset

    def _may_speak_the_old_transport(self, link: HttpLink) -> bool:
        """Whether to try HTTP+SSE after Streamable HTTP failed: the entry names no
        transport and the first POST found no endpoint (404, 405), as the spec's
        backwards-compatibility section says a client should."""
        config, refusal = self._owner.config, link.refusal
        return (
            config.type is None
            and not link.was_ready
            and (self._auth is None or self._auth.needs_sign_in is None)
            and not self._owner.interrupted()
            and refusal is not None
            and refusal.status_code in (404, 405)
        )

    async def _handshake(self, session: BackendSession) -> str | None:
        failure = await super()._handshake(session)
        link = self._link
        if failure is None or link is None or link.refusal is None:
            return failure
        return refusal_phrase(link.refusal, has_headers=bool(self._owner.config.headers))

    def kill_tree(self) -> None:
        if self._link is not None:
            self._link.end("MCP Tray let it go")

    @contextlib.asynccontextmanager
    async def _connected(
        self, link: HttpLink, headers: dict[str, str], *, old_transport: bool
    ) -> AsyncIterator[None]:
        config = self._owner.config
        assert config.url is not None
        async with contextlib.AsyncExitStack() as stack:
            if old_transport:
                streams = await stack.enter_async_context(
                    sse_client(config.url, headers=headers, auth=self._auth)
                )
            else:
                http = await stack.enter_async_context(
                    create_mcp_http_client(headers=headers, auth=self._auth)
                )
                http.event_hooks["response"].append(link.saw)
                stack.push_async_callback(link.end_session, http, config.url)
                # Ended here instead: the SDK would also try to end one the server forgot.
                streams = await stack.enter_async_context(
                    streamable_http_client(config.url, http_client=http, terminate_on_close=False)
                )
            incoming, outgoing = streams[0], streams[1]
            carrying = asyncio.ensure_future(link.carry(incoming, outgoing))
            try:
                yield
            finally:
                carrying.cancel()
                await asyncio.gather(carrying, return_exceptions=True)

    async def _serve_link(self, link: HttpLink, started: float) -> Outcome:
        session = self._new_session(MessageReader(link.reader), link)
        reading = asyncio.create_task(session.run(), name=f"{self.name} remote")
        try:
            failure = await self._until_lost(link, self._handshake(session))
            if failure is not None or self._owner.interrupted():
                return Outcome(failure=failure, uptime_s=time.monotonic() - started)
            ready_at = self._became_ready(f"at {shown_address(self._owner.config.url)}")
            link.was_ready = True
            failure = await self._until_lost(link, self._health(session))
            return Outcome(failure=failure, uptime_s=time.monotonic() - ready_at)
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)

    async def _until_lost(self, link: HttpLink, work: Awaitable[str | None]) -> Failure | None:
        """:meth:`ServerRun._first` for a connection: ``work`` until it ends, the
        connection ends (_Lost, told once the transport has said why), or a stop or
        restart is asked for."""
        lost: asyncio.Future[Any] = asyncio.ensure_future(link.ended.wait())
        racers: set[asyncio.Future[Any]] = {
            asyncio.ensure_future(work),
            lost,
            asyncio.ensure_future(self._owner.until_interrupted()),
        }
        # The SDK's task group cancels this wait when a request fails on the network:
        # a racer left behind would wait for the next stop, one per attempt offline.
        done = await first_done(racers)
        if self._owner.interrupted():
            return None
        if lost in done:
            raise _Lost
        (finished,) = done
        result: Any = finished.result()
        if not isinstance(result, str):
            return None
        self._owner.note(lifecycle.failed(result))
        return Failure(phrase=result)

    def _lost(self, link: HttpLink, started: float) -> Outcome:
        why = link.why or "the connection ended"
        phrase = (
            f"lost its connection ({why})" if self.ready_at else f"could not be reached ({why})"
        )
        self._owner.note(lifecycle.failed(phrase))
        return Outcome(
            failure=Failure(phrase=phrase),
            uptime_s=time.monotonic() - started,
            offline=link.offline,
        )

    def _ended(self, link: HttpLink) -> None:
        link.end("MCP Tray let it go")
        listener = self._wiring.listener
        if listener is not None and self.session is not None:
            # What the server read of an unanswered request is unknown (a call gets
            # -31001, a read is asked again), except what a forgotten session refused.
            listener.session_ended(planned=self._owner.interrupted(), delivered=link.unread_from)
        self.session = None
        self.ready_at = None
        self._link = None


def _stream_broke(error: JSONRPCError) -> bool:
    """Whether ``error`` is the SDK's stand-in for an answer a broken stream never
    brought ("SSE stream ended without a response", "SSE stream failed: …"), not
    the server's own (which may use the same code)."""
    return error.error.code == CONNECTION_CLOSED and error.error.message.startswith("SSE stream")


def _is_web_page(response: httpx2.Response) -> bool:
    return response.headers.get("content-type", "").lower().startswith("text/html")


def refusal_phrase(response: httpx2.Response, *, has_headers: bool) -> str:
    """Why a remote server refused the handshake, in HTTP's words."""
    status = response.status_code
    if status in (401, 403) and has_headers:
        return f"refused the key in its headers (HTTP {status}): check it"
    if status == 404:
        return "has no MCP server at that address (HTTP 404): check the url"
    if _is_web_page(response) and status < 400:
        return "answered with a web page, not MCP: check the url"
    return f"refused to connect (HTTP {status} {response.reason_phrase})"


def _is_network_fault(error: BaseException) -> bool:
    """Whether the network failed (nothing answers, a connection broke, a time-out),
    rather than the server refusing or the entry being wrong."""
    failed = _innermost(error)
    if isinstance(failed, _UNSENDABLE) or _tls_failure(failed) is not None:
        return False  # the address or the server's certificate: waiting does not mend it
    return isinstance(failed, httpx2.TransportError | TimeoutError | OSError | SignInServiceDown)


# Requests httpx cannot make as the entry says: no retry helps. Their own words may
# quote a header's value, a key: they are not repeated.
_UNSENDABLE = (httpx2.LocalProtocolError, httpx2.UnsupportedProtocol, httpx2.InvalidURL)


def _tls_failure(error: BaseException) -> ssl.SSLError | None:
    """The TLS failure under a connection error (httpx keeps it as the cause)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _innermost(error: BaseException) -> BaseException:
    """The first failure of a group (of the transport's tasks), not the run's own _Lost."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        theirs = [e for e in error.exceptions if not isinstance(e, _Lost)]
        error = (theirs or list(error.exceptions))[0]
    return error


def _reason(error: BaseException) -> str:
    """A transport's failure in a few words: the innermost of a group."""
    error = _innermost(error)
    if isinstance(error, _UNSENDABLE):
        return "its address or a header value is not valid HTTP (a space or line break?)"
    tls = _tls_failure(error)
    if isinstance(tls, ssl.SSLCertVerificationError):
        return f"its certificate is not trusted ({tls.verify_message})"
    if tls is not None:
        return f"no secure connection could be made ({tls.reason or tls}): is it https?"
    if isinstance(error, httpx2.HTTPStatusError):
        status = error.response.status_code
        return f"HTTP {status} {error.response.reason_phrase}"
    if isinstance(error, httpx2.ConnectError):
        return f"cannot connect: {error}" if str(error) else "cannot connect"
    return str(error) or type(error).__name__
