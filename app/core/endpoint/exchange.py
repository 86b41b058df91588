"""Spec revision 2026-07-28 over the HTTP endpoint: each POST a single exchange.

A 2026-07-28 client opens no session: every request is a POST of its own,
with its envelope in ``params._meta`` and the ``MCP-Protocol-Version``,
``Mcp-Method`` and ``Mcp-Name`` headers. It is checked as the ``mcp`` SDK's
own server checks it (``mcp.shared.inbound``: envelope, routing headers that
must agree with the body, ``Mcp-Param-*`` headers against the tool's schema),
then handed to the server's relay as one 2026-07-28 client, exactly as
``attach`` hands its lines (app.core.rpc.modern does the translating).

Which relay client: a fresh one for each POST. Its id needs no remapping
(no other request shares the client), the capabilities its envelope declares
are its own, and closing it is the relay's cancel path: when the HTTP client
goes away mid-request, the request is cancelled upstream. The one exception
is a request answered ``input_required``: the relay binds the
``requestState`` to the client it gave it to, so that client is kept
(parked, here, under the state) for the retry, which is a new POST. It is
taken back only by a retry of the same server over the same listener with
the token of the time; any other gets a fresh client, which the relay tells
the state is unknown. Apps sharing the one install token cannot be told apart
anyway; the state is 256 random bits that only the POST that earned it sees.
A parked client is let go with its round (``ROUND_LIMIT_S``) or a new token.

Only a shared server's relay takes single exchanges: an unshared one
(``"shared": false``) starts a process for each client, which would be a
process per POST, its state lost between them. Its requests are refused with
-32022, naming the handshake-era revisions, which a client opens a session
with (as the SDK's client does when its probe is refused).

The answer: JSON when it comes with nothing before it; SSE when the relay
sends anything first (progress), then each message as it comes, the answer
last, with a comment line every ``PING_S`` of silence so that a long request
(``subscriptions/listen`` among them) keeps its stream. A notification POST
gets 202: this revision has none for the server (a client cancels by closing
the stream), as in the SDK. A client that stops reading while the relay goes
on sending (``MAX_WAITING_MESSAGES`` waiting) has its request cancelled and
its response ended with an error: what came after the limit, the answer
among it, is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import anyio
from mcp.server.streamable_http import check_accept_headers
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
    unsupported_protocol_version_rejection,
    validate_mcp_param_headers,
)
from mcp_types import JSONRPCRequest
from mcp_types.jsonrpc import (
    HEADER_MISMATCH,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    UNSUPPORTED_PROTOCOL_VERSION,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.core.racing import first_done
from app.core.rpc.framing import Message
from app.core.rpc.modern import CARRIERS, PROTOCOL_VERSION_KEY
from app.core.rpc.port import ClientOutput, ClientPort, MemoryClient
from app.core.rpc.relay import ROUND_LIMIT_S, Relay

logger = logging.getLogger(__name__)

VERSION_HEADER: Final = "mcp-protocol-version"
# The handshake era's own methods, gone at 2026-07-28 (answered 404 -32601, as the SDK
# does); the relay would answer them, as it must for an `attach` client that mixes eras.
REMOVED = frozenset({"initialize", "ping"})
PING_S = 15.0  # of silence before a comment line, as the SDK's server: proxies cut idle reads
# A parked client outlives the relay's own round by this much, so that the relay
# refuses a late retry by name ("expired") before the client is let go.
PARKED_MARGIN_S = 5.0
MAX_PARKED = 1024  # waiting for a person to answer a form, each; a bound all the same
# Each parked client keeps a call open in its server, waiting on a person: an app
# has a few such forms open at once, not dozens. The oldest of the server's goes.
MAX_PARKED_PER_SERVER = 16
MAX_WAITING_MESSAGES = 10_000  # for one request, as for a session (app.core.endpoint.http)
LIST_PAGES = 100  # of tools/list read to find a called tool's schema; then it is not checked
# For the tools/list that finds a called tool's schema when the relay has no current
# copy (the server may be starting); past it the call goes on unchecked.
SCHEMA_WAIT_S = 10.0
# For the error that ends a response whose reader fell behind: a reader that takes
# nothing for that long has gone, and its connection is dropped instead.
LAST_WORD_S = 10.0
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]


class AttachableRelay(Protocol):
    """A server's relay, as an HTTP session or exchange joins it (app.core.rpc.relay.Relay,
    or an unshared server's, which starts a process for each client)."""

    def attached(
        self, output: ClientOutput, *, resumed: dict[str, Any] | None = None
    ) -> contextlib.AbstractAsyncContextManager[ClientPort]: ...

    def current_list(self, method: str, page: Any = None) -> dict[str, Any] | None: ...


def is_modern(headers: Headers) -> bool:
    """Whether a request without a session is a 2026-07-28 one by its header (any
    version not of the handshake era: the checks name the versions served)."""
    version = headers.get(VERSION_HEADER)
    return version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS


def has_envelope(body: bytes) -> bool:
    """Whether a POST body is a request carrying the 2026-07-28 envelope (any other
    body, malformed too, is the session path's to answer)."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return False
    params = decoded.get("params") if isinstance(decoded, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    return isinstance(meta, dict) and PROTOCOL_VERSION_KEY in meta


@dataclass
class _Client:
    """One relay client, with where its messages wait; it leaves with ``close``."""

    port: ClientPort
    output: MemoryClient
    stack: contextlib.AsyncExitStack
    remote: bool
    token: str | None
    expiry: asyncio.TimerHandle | None = None

    async def close(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        with anyio.CancelScope(shield=True):  # a cancelled request leaves all the same
            await self.stack.aclose()  # the relay cancels upstream what it still waits for


class Exchanges:
    """The single-exchange POSTs of every server, and the relay clients parked
    between an ``input_required`` answer and its retry."""

    def __init__(
        self,
        *,
        parked_s: float = ROUND_LIMIT_S + PARKED_MARGIN_S,
        parked_per_server: int = MAX_PARKED_PER_SERVER,
        max_waiting: int = MAX_WAITING_MESSAGES,
        schema_wait_s: float = SCHEMA_WAIT_S,
    ) -> None:
        self._parked: dict[tuple[str, str], _Client] = {}
        self._parked_s = parked_s
        self._parked_per_server = parked_per_server
        self._max_waiting = max_waiting
        self._schema_wait_s = schema_wait_s
        self._leaving: set[asyncio.Task[None]] = set()

    async def serve(
        self,
        server: str,
        relay: AttachableRelay,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        remote: bool,
        token: str | None,
    ) -> None:
        request = Request(scope, receive)
        if request.method != "POST":
            await Response(status_code=405, headers={"Allow": "POST"})(scope, receive, send)
            return
        has_json, has_sse = check_accept_headers(request)
        if not (has_json and has_sse):  # the answer is JSON or SSE: not known in advance
            text = "Accept must include application/json and text/event-stream"
            await Response(text, status_code=406)(scope, receive, send)
            return
        body = await request.body()
        try:
            decoded = json.loads(body)
        except (ValueError, RecursionError):
            await _send_json(_error(None, PARSE_ERROR, "Parse error"), send)
            return
        if isinstance(decoded, dict) and "id" not in decoded:
            await _acknowledge(decoded, request.headers, send)
            return
        checking = self._refusal(server, relay, decoded, request, remote=remote)
        checked, refused = await _unless_disconnected(checking, receive)
        if not checked:
            return  # the client left while its request was checked
        if refused is not None:
            await _send_json(refused, send)
            return
        client = await self._client_for(server, relay, decoded, remote=remote, token=token)
        try:
            answer = await _relayed(server, client, decoded, receive, send, limit=self._max_waiting)
        except BaseException:
            await client.close()
            raise
        await self._after(server, client, answer)

    async def _refusal(
        self,
        server: str,
        relay: AttachableRelay,
        decoded: Any,
        request: Request,
        *,
        remote: bool,
    ) -> Message | None:
        """The error a request is answered with before it reaches the relay, or None."""
        try:
            JSONRPCRequest.model_validate(decoded)
        except ValidationError:
            text = "Body must be a single JSON-RPC request or notification object"
            return _error(None, INVALID_REQUEST, text)
        request_id = decoded["id"]
        duplicated = find_duplicated_routing_header(request.headers.items())
        if duplicated is not None:
            text = f"{duplicated} header appears more than once"
            return _error(request_id, HEADER_MISMATCH, text)
        verdict = classify_inbound_request(decoded, headers=dict(request.headers))
        if isinstance(verdict, InboundLadderRejection):
            return _rejection(request_id, verdict)
        unserved = _unserved(server, relay, decoded, verdict.protocol_version)
        if unserved is not None:
            return unserved
        if decoded["method"] == "tools/call":
            return await self._param_mismatch(server, relay, decoded, request.headers, remote)
        return None

    async def _param_mismatch(
        self, server: str, relay: AttachableRelay, call: Message, headers: Headers, remote: bool
    ) -> Message | None:
        """The refusal of a call whose ``Mcp-Param-*`` headers disagree with it, or None."""
        schema = await self._input_schema(server, relay, call, headers, remote)
        if schema is None:
            return None
        arguments = call["params"].get("arguments") or {}
        mismatch = validate_mcp_param_headers(schema, arguments, headers)
        return None if mismatch is None else _rejection(call["id"], mismatch)

    async def _input_schema(
        self, server: str, relay: AttachableRelay, call: Message, headers: Headers, remote: bool
    ) -> Any:
        """The called tool's input schema, from the server's tools/list as this client
        would be shown it; None when nothing needs checking or it is not found (the
        call goes on unchecked, as in the SDK: the check never breaks a call)."""
        arguments = call["params"].get("arguments")
        if not isinstance(arguments, Mapping):
            return None
        if not arguments and not any(h.startswith("mcp-param-") for h in headers):
            return None
        meta = call["params"]["_meta"]
        envelope = {k: v for k, v in meta.items() if k.startswith("io.modelcontextprotocol/")}
        try:
            async with asyncio.timeout(self._schema_wait_s):
                return await self._listed_schema(server, relay, call, envelope, remote)
        except TimeoutError:
            logger.warning(
                "%s: tools/list took over %g s; %s called unchecked",
                server,
                self._schema_wait_s,
                call["params"].get("name"),
            )
            return None

    async def _listed_schema(
        self,
        server: str,
        relay: AttachableRelay,
        call: Message,
        envelope: dict[str, Any],
        remote: bool,
    ) -> Any:
        cursor: Any = None
        for page in range(LIST_PAGES):
            found = relay.current_list("tools/list", cursor)
            if found is None:  # else a round trip to the server is saved
                found = await self._asked_list(relay, page, cursor, envelope, remote)
            if not isinstance(found, dict):
                return None
            for tool in found.get("tools", []):
                if isinstance(tool, dict) and tool.get("name") == call["params"].get("name"):
                    return tool.get("inputSchema")
            cursor = found.get("nextCursor")
            if not isinstance(cursor, str):
                return None
        logger.warning("%s: tools/list did not end within %d pages", server, LIST_PAGES)
        return None

    async def _asked_list(
        self, relay: AttachableRelay, page: int, cursor: Any, envelope: dict[str, Any], remote: bool
    ) -> Any:
        """One page of tools/list, asked through the relay as a client of its own."""
        listing: dict[str, Any] = {"_meta": envelope}
        if cursor is not None:
            listing["cursor"] = cursor
        asked = {"jsonrpc": "2.0", "id": page, "method": "tools/list", "params": listing}
        client = await self._attached(relay, remote=remote, token=None)
        try:
            client.port.receive(asked)
            answer = await _answer_to(client.output, page)
        finally:
            await client.close()
        return answer.get("result")

    async def _client_for(
        self,
        server: str,
        relay: AttachableRelay,
        request: Message,
        *,
        remote: bool,
        token: str | None,
    ) -> _Client:
        """The parked client a retry resumes, if it is this one's to resume; else a new one."""
        params = request.get("params")
        state = params.get("requestState") if isinstance(params, dict) else None
        if request["method"] in CARRIERS and isinstance(state, str):
            parked = self._parked.get((server, state))
            if parked is not None and (parked.remote, parked.token) == (remote, token):
                del self._parked[(server, state)]
                if parked.expiry is not None:
                    parked.expiry.cancel()
                return parked
        return await self._attached(relay, remote=remote, token=token)

    async def _attached(
        self, relay: AttachableRelay, *, remote: bool, token: str | None
    ) -> _Client:
        output = MemoryClient(limit=self._max_waiting)
        stack = contextlib.AsyncExitStack()
        port = await stack.enter_async_context(relay.attached(output))
        return _Client(port, output, stack, remote, token)

    async def _after(self, server: str, client: _Client, answer: Message | None) -> None:
        """Park the client when its answer asks for a retry; else let it go."""
        result = answer.get("result") if answer is not None else None
        if not isinstance(result, dict) or result.get("resultType") != "input_required":
            await client.close()
            return
        state = result.get("requestState")
        if not isinstance(state, str):
            await client.close()
            return
        while len(self._parked) >= MAX_PARKED:
            await self._parked.pop(next(iter(self._parked))).close()
        own = [key for key in self._parked if key[0] == server]
        for oldest in own[: max(0, len(own) - self._parked_per_server + 1)]:
            await self._parked.pop(oldest).close()
        key = (server, state)
        self._parked[key] = client
        loop = asyncio.get_running_loop()
        client.expiry = loop.call_later(self._parked_s, self._let_go_soon, [key])

    async def forget(self, *, remote_only: bool) -> None:
        """Let parked clients go: all, or those that came over TCP (a new token)."""
        keys = [k for k, c in self._parked.items() if c.remote or not remote_only]
        for key in keys:
            await self._parked.pop(key).close()
        await asyncio.gather(*self._leaving, return_exceptions=True)

    def forget_soon(self, *, remote_only: bool) -> None:
        """:meth:`forget`, from code that cannot wait."""
        self._let_go_soon([k for k, c in self._parked.items() if c.remote or not remote_only])

    def _let_go_soon(self, keys: list[tuple[str, str]]) -> None:
        for key in keys:
            client = self._parked.pop(key, None)
            if client is not None:
                task = asyncio.create_task(client.close())
                self._leaving.add(task)
                task.add_done_callback(self._leaving.discard)


async def _unless_disconnected(
    checking: Coroutine[Any, Any, Message | None], receive: Receive
) -> tuple[bool, Message | None]:
    """``checking``'s outcome (True, it), or (False, None) if the client left first."""
    checked = asyncio.ensure_future(checking)
    leaving = asyncio.ensure_future(_disconnected(receive))
    await first_done((checked, leaving))
    if checked.cancelled():
        return False, None
    return True, checked.result()


async def _answer_to(output: MemoryClient, request_id: Any) -> Message:
    """The relay's answer to ``request_id``; what comes before it is not this caller's."""
    while True:
        message = await output.receive()
        if "method" not in message and message.get("id") == request_id:
            return message


async def _relayed(
    server: str, client: _Client, request: Message, receive: Receive, send: Send, *, limit: int
) -> Message | None:
    """Give the relay the request and the HTTP client what comes back, until the answer
    (returned); None when the HTTP client left first (its request is then cancelled
    upstream, as the relay does for a client that leaves) or stopped reading."""
    client.port.receive(request)
    reply = _Reply(send)
    answering = asyncio.ensure_future(_answer(client, request["id"], reply))
    leaving = asyncio.ensure_future(_disconnected(receive))
    overflowing = asyncio.ensure_future(client.output.overflowed.wait())
    watched = (answering, leaving, overflowing)
    await first_done(watched)
    failed = None if answering.cancelled() else answering.exception()
    if failed is not None and not isinstance(failed, OSError):  # uvicorn's ClientDisconnected is
        raise failed  # a fault of ours: uvicorn logs it
    if answering.cancelled() and overflowing.done() and not overflowing.cancelled():
        await _fell_behind(server, client, request["id"], reply, limit)
        return None
    if answering.cancelled() or failed is not None:
        return None
    return answering.result()


async def _fell_behind(
    server: str, client: _Client, request_id: Any, reply: _Reply, limit: int
) -> None:
    """The reader did not keep up and messages were dropped, perhaps the answer:
    cancel the request upstream and end the response with an error saying so."""
    logger.warning(
        "%s: a single-exchange client stopped taking messages (%d waiting); request cancelled",
        server,
        limit,
    )
    await client.close()
    text = (
        f"The request was cancelled: its response was not read while the server sent more"
        f" than {limit} messages, and what came after them was lost"
    )
    with contextlib.suppress(TimeoutError, OSError):  # gone: uvicorn drops the connection
        async with asyncio.timeout(LAST_WORD_S):
            await reply.last(_error(request_id, INTERNAL_ERROR, text), status=503)


@dataclass
class _Reply:
    """A response as it goes: JSON if the answer comes first, else SSE."""

    send: Send
    streaming: bool = False

    async def event(self, message: Message, *, last: bool) -> None:
        await self._stream()
        await self.send(
            {"type": "http.response.body", "body": _event(message), "more_body": not last}
        )

    async def ping(self) -> None:
        await self._stream()
        await self.send(
            {"type": "http.response.body", "body": b": ping\r\n\r\n", "more_body": True}
        )

    async def last(self, message: Message, *, status: int | None = None) -> None:
        """``message`` ends the response: as JSON (with ``status``) unless streaming."""
        if self.streaming:
            await self.event(message, last=True)
        else:
            await _send_json(message, self.send, status=status)

    async def _stream(self) -> None:
        if not self.streaming:
            self.streaming = True
            await self.send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})


async def _answer(client: _Client, request_id: Any, reply: _Reply) -> Message:
    """What the relay sends, as JSON when the answer is first, else as SSE; the answer."""
    while True:
        try:
            message = await asyncio.wait_for(client.output.receive(), PING_S)
        except TimeoutError:
            await reply.ping()
            continue
        if "method" not in message and message.get("id") == request_id:
            await reply.last(message)
            return message
        await reply.event(message, last=False)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _event(message: Message) -> bytes:
    return f"event: message\r\ndata: {json.dumps(message, separators=(',', ':'))}\r\n\r\n".encode()


async def _send_json(message: Message, send: Send, *, status: int | None = None) -> None:
    """``message`` as the whole response; ``status`` by its error code unless given."""
    error = message.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    if status is None:
        status = ERROR_CODE_HTTP_STATUS.get(code, 200) if isinstance(code, int) else 200
    body = json.dumps(message, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _acknowledge(decoded: dict[str, Any], headers: Headers, send: Send) -> None:
    """A notification: 202 at a version served, else the version's refusal (as the SDK)."""
    if not isinstance(decoded.get("method"), str) or decoded.get("jsonrpc") != "2.0":
        text = "Body must be a single JSON-RPC request or notification object"
        await _send_json(_error(None, INVALID_REQUEST, text), send)
        return
    unsupported = unsupported_protocol_version_rejection(headers.get(VERSION_HEADER, ""))
    if unsupported is not None:
        await _send_json(_rejection(None, unsupported), send)
        return
    await send({"type": "http.response.start", "status": 202, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _unserved(
    server: str, relay: AttachableRelay, request: Message, version: str
) -> Message | None:
    """The refusal of a request this endpoint does not serve at ``version``, or None."""
    if not isinstance(relay, Relay):  # a process for each client: see the module's docstring
        return _unshared(server, request["id"], version)
    if request["method"] in REMOVED:
        text = f"{request['method']} does not exist at {version}"
        return _error(request["id"], METHOD_NOT_FOUND, text)
    return None


def _unshared(server: str, request_id: Any, version: str) -> Message:
    """The refusal of a single exchange with an unshared server: open a session instead."""
    text = (
        f'{server} is not shared ("shared": false): it runs a process for each session, and a'
        f" {version} request has none. Open a session (initialize, with MCP-Protocol-Version"
        f' {HANDSHAKE_PROTOCOL_VERSIONS[-1]}), or set "shared": true for {server} in'
        f" MCP Tray's config"
    )
    data = {"supported": list(HANDSHAKE_PROTOCOL_VERSIONS), "requested": version}
    return _error(request_id, UNSUPPORTED_PROTOCOL_VERSION, text, data)


def _rejection(request_id: Any, rejection: InboundLadderRejection) -> Message:
    return _error(request_id, rejection.code, rejection.message, rejection.data)


def _error(request_id: Any, code: int, text: str, data: Any = None) -> Message:
    error: dict[str, Any] = {"code": code, "message": text}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}
