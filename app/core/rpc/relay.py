"""The relay: many editors share one server process, and never see it die.

Each attached client speaks MCP to the relay as if it were the server. The
relay answers ``initialize`` and ``ping`` itself (from the handshake the hub
made), rewrites request ids and progress tokens so that clients whose ids
collide never see each other's answers, and routes what the server sends:
answers to their requester, progress to the one client that asked,
``resources/updated`` to subscribers, requests (sampling, elicitation,
roots) to a client that can answer them, everything else to all.

Restart transparency lives here too:

* While the server is down, requests wait for it (bounded); list requests
  are answered from the last list the server gave, so tools do not vanish.
* When it crashes, requests that are safe to repeat (lists, reads, ping)
  are sent again to the new process; a ``tools/call`` is never repeated, it
  gets an error that names the server and says what happened.
* A planned restart holds new requests, lets in-flight ones finish, restarts,
  replays subscriptions and the log level, releases the held requests and
  tells every client that the lists may have changed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from app.core.rpc import errors
from app.core.rpc.backend import BackendClosed, BackendSession, RpcError
from app.core.rpc.framing import (
    READ_CHUNK_BYTES,
    ByteSource,
    LineSplitter,
    MalformedLine,
    Message,
    PushReader,
    decode,
    encode,
)
from app.core.rpc.heads import early_id, valid_id

logger = logging.getLogger(__name__)

# Safe to send again to a fresh process after a crash: they change nothing.
IDEMPOTENT = frozenset(
    {
        "ping",
        "tools/list",
        "prompts/list",
        "prompts/get",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "completion/complete",
    }
)
CACHED_LISTS = frozenset(
    {"tools/list", "prompts/list", "resources/list", "resources/templates/list"}
)
# Which client capability a server-to-client request needs.
CLIENT_CAPABILITY = {
    "sampling/createMessage": "sampling",
    "elicitation/create": "elicitation",
    "roots/list": "roots",
}
LIST_CHANGED = {
    "tools": "notifications/tools/list_changed",
    "prompts": "notifications/prompts/list_changed",
    "resources": "notifications/resources/list_changed",
}
HOLD_LIMIT_S = 60.0  # a request waits this long for its server to come back
# A list the server does not answer this fast is answered from the last one it
# gave (its answer, when it comes, still refreshes that copy).
LIST_PATIENCE_S = 2.0
DRAIN_LIMIT_S = 10.0  # a planned restart lets in-flight requests finish this long
REPLAY_TIMEOUT_S = 10.0  # per replayed subscription or log level
DIRECT_WRITE_LIMIT = 256 * 1024  # below this much unsent data, write to a client at once
MAX_QUEUED_BYTES = 256 * 1024 * 1024  # a client this far behind has stopped reading
FLUSH_LIMIT_S = 5.0  # a leaving client gets this long to take its last answers
# Requests the relay must look at before they go upstream.
_HANDLED = frozenset(
    {"initialize", "resources/subscribe", "resources/unsubscribe", "logging/setLevel"}
)


class ClientLink:
    """One attached client: how to reach it, and what it has asked for.

    Messages go straight to the client's socket while it keeps up; when the
    socket's buffer fills they queue for a writer task that waits for the
    client, so a slow client never holds up the others. A client that lets more
    than MAX_QUEUED_BYTES pile up is dropped: the hub never buffers without bound.
    """

    def __init__(self, number: int, writer: asyncio.StreamWriter) -> None:
        self.number = number
        self.capabilities: dict[str, Any] = {}
        self.in_flight: dict[Any, int] = {}  # its request id -> upstream id
        self.held: dict[Any, asyncio.Task[None]] = {}  # requests waiting for the server
        self.last_active = time.monotonic()
        self._writer = writer
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued_bytes = 0
        self._queued = asyncio.Event()
        self._emptied = asyncio.Event()
        self._pump = asyncio.create_task(self._write_queued())

    def send(self, message: Message) -> None:
        self.send_bytes(encode(message))

    def send_bytes(self, data: bytes) -> None:
        """One message, already encoded, with its newline."""
        transport = self._writer.transport
        if transport.is_closing():
            return
        if not self._queue and transport.get_write_buffer_size() < DIRECT_WRITE_LIMIT:
            self._writer.write(data)
            return
        self._queue.append(data)
        self._queued_bytes += len(data)
        self._queued.set()
        if self._queued_bytes > MAX_QUEUED_BYTES:
            logger.warning("client %d stopped reading; disconnecting it", self.number)
            transport.abort()

    async def finish(self) -> None:
        """Flush what is queued (bounded), then close the connection."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._flushed(), FLUSH_LIMIT_S)
        self._pump.cancel()
        self._writer.close()

    async def _flushed(self) -> None:
        while self._queue:
            await self._emptied.wait()
        await self._writer.drain()

    async def _write_queued(self) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                await self._queued.wait()
                self._queued.clear()
                self._emptied.clear()
                while self._queue:
                    data = self._queue.popleft()
                    self._queued_bytes -= len(data)
                    self._writer.write(data)
                    await self._writer.drain()
                self._emptied.set()


@dataclass
class _Pending:
    """A client request forwarded upstream and not answered yet."""

    client: ClientLink
    client_id: Any
    message: Message  # as sent upstream, for a repeat after a crash
    progress_token: int | None
    offset: int  # where it starts in the server's stdin (BackendSession.bytes_sent)
    sent_at: float = field(default_factory=time.monotonic)
    answered: bool = False  # from the cached list: the server's answer only refreshes it
    patience: asyncio.TimerHandle | None = None  # until a list is answered from the cache


def _id_key(value: Any) -> Any:
    """Ids 1 and "1" are different requests; keep them apart as dict keys."""
    return (type(value).__name__, value)


class Relay:
    def __init__(self, name: str, *, unavailable: Callable[[], str | None]) -> None:
        self.name = name
        self._unavailable = unavailable
        self._session: BackendSession | None = None
        self.initialize_result: dict[str, Any] | None = None
        self._sessions_seen = 0
        self._holding = False  # a planned restart is draining
        self._changed = asyncio.Event()  # replaced on every notify, so waiters never miss one
        self._clients: dict[int, ClientLink] = {}
        self._client_numbers = itertools.count(1)
        self._upstream_ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._progress: dict[int, tuple[ClientLink, Any]] = {}
        self._server_requests: dict[str, tuple[ClientLink, Any]] = {}
        self._server_request_ids = itertools.count(1)
        self._subscriptions: dict[str, set[int]] = {}
        self._log_level: Any = None
        self._list_cache: dict[tuple[str, Any], dict[str, Any]] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # ----- the supervisor's side

    def waiting_since(self) -> float | None:
        """When the oldest request now waiting on the server was sent to it (monotonic);
        None when none waits. The supervisor's measure of a stall."""
        return min((pending.sent_at for pending in self._pending.values()), default=None)

    async def session_ready(self, session: BackendSession) -> None:
        """A new process finished its handshake: replay state, release waiting requests."""
        self.initialize_result = session.initialize_result
        await self._replay(session)
        self._session = session
        self._holding = False
        self._sessions_seen += 1
        if self._sessions_seen > 1:
            self._announce_list_changes()
        self.notify()

    def session_ended(self, *, planned: bool, delivered: int | None = None) -> None:
        """The process is gone: repeat what is safe to repeat, fail the rest readably.

        A request that starts at or beyond ``delivered`` (the bytes the server
        read of its stdin) never reached it, so even a ``tools/call`` is sent again.
        """
        self._session = None
        for upstream_id in list(self._pending):
            pending = self._drop_pending(upstream_id)
            if pending is None or pending.answered:
                continue
            unread = delivered is not None and pending.offset >= delivered
            if unread or pending.message.get("method") in IDEMPOTENT:
                self._hold(pending.client, self._original(pending))
            else:
                pending.client.send(
                    errors.error_response(
                        pending.client_id, errors.SERVER_CRASHED, self._lost_call(planned)
                    )
                )
        self._progress.clear()
        self._server_requests.clear()
        self.notify()

    def server_message(self, message: Message, raw: bytes = b"") -> None:
        """Everything the server sends that is not an answer to the hub itself."""
        problem = _envelope_problem(message)
        if problem is not None:
            logger.warning("%s sent an invalid message (%s); dropped", self.name, problem)
        elif "method" in message:
            if "id" in message:
                self._server_request(message)
            else:
                self._server_notification(message)
        elif isinstance(message.get("id"), int) and message["id"] in self._pending:
            self._answer(message, raw)
        else:
            logger.debug("%s sent an answer nobody waits for: %s", self.name, message.get("id"))

    def notify(self) -> None:
        """Wake every request waiting for the server (state changed, session ready)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def prepare_planned_restart(self) -> None:
        """Hold new requests and let in-flight ones finish (bounded)."""
        self._holding = True
        deadline = time.monotonic() + DRAIN_LIMIT_S
        while self._pending and (remaining := deadline - time.monotonic()) > 0:
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def release(self) -> None:
        """End a hold that no restart followed (the restart failed or was not needed)."""
        self._holding = False
        self.notify()

    # ----- one client's side

    async def serve_client(
        self,
        reader: ByteSource,
        writer: asyncio.StreamWriter,
        *,
        resumed: dict[str, Any] | None = None,
    ) -> None:
        """Relay one client until it hangs up.

        ``resumed`` holds the ``initialize`` params of a client that attached to
        an earlier hub: it is taken back as initialized, with no new handshake.
        """
        client = ClientLink(next(self._client_numbers), writer)
        if resumed is not None:
            self._take_capabilities(client, resumed)
        self._clients[client.number] = client
        splitter = LineSplitter()

        def receive(chunk: bytes) -> None:
            for line in splitter.feed(chunk):
                self._client_message(client, line)

        try:
            if isinstance(reader, PushReader):
                reader.push_to(receive)  # routed as it arrives, one loop step sooner
                await reader.read()  # returns at end of stream; raises if the connection breaks
            else:
                while chunk := await reader.read(READ_CHUNK_BYTES):
                    receive(chunk)
            for line in splitter.end():
                self._client_message(client, line)
        finally:
            self._disconnect(client)
            await client.finish()

    def _client_message(self, client: ClientLink, line: bytes | MalformedLine) -> None:
        client.last_active = time.monotonic()
        message = line if isinstance(line, MalformedLine) else decode(line)
        if isinstance(message, MalformedLine):
            logger.warning("%s: client %d sent %s", self.name, client.number, message)
            # The id read as `mcp-tray attach` reads it, so it can tell the request answered.
            head = line if isinstance(line, bytes) else message.preview.encode()
            answer_id = None if message.parsed else early_id(head)
            if message.parsed:
                client.send(_invalid(None, -32600, f"Invalid request: {message.reason}"))
            else:
                client.send(_invalid(answer_id, -32700, f"Parse error: {message.reason}"))
            return
        try:
            self._from_client(client, message)
        except Exception:
            # A bug on one message must not drop the client, let alone the hub.
            logger.exception(
                "%s: could not route a message from client %d", self.name, client.number
            )

    def _from_client(self, client: ClientLink, message: Message) -> None:
        method, request_id = message.get("method"), message.get("id")
        problem = _envelope_problem(message)
        if problem is None and message.get("jsonrpc") != "2.0":
            problem = 'jsonrpc must be "2.0"'
        if problem is not None:
            logger.warning(
                "%s: client %d sent an invalid message: %s", self.name, client.number, problem
            )
            if request_id is not None or method is not None:
                answer_id = request_id if valid_id(request_id) else None
                client.send(_invalid(answer_id, -32600, f"Invalid request: {problem}"))
        elif method is None:
            self._client_answer(client, message)
        elif request_id is None:
            self._client_notification(client, method, message)
        else:
            self._client_request(client, method, message)

    def _client_request(self, client: ClientLink, method: str, message: Message) -> None:
        request_id = message["id"]
        if method == "ping":
            client.send({"jsonrpc": "2.0", "id": request_id, "result": {}})
        elif method == "server/discover":
            # 2026-07-28 era discovery: refusing it makes dual-era clients use initialize.
            client.send(
                errors.error_response(
                    request_id,
                    errors.METHOD_NOT_FOUND,
                    "server/discover is not supported; use initialize",
                )
            )
        elif method in _HANDLED or not self._usable() or not self._send(client, message):
            self._hold(client, message)

    def _hold(self, client: ClientLink, message: Message) -> None:
        """Handle a request in a task of its own (it may wait); the client can cancel it."""
        key = _id_key(message["id"])
        task = self._spawn(self._handle(client, message["method"], message))
        client.held[key] = task
        task.add_done_callback(lambda _: client.held.pop(key, None))

    async def _handle(self, client: ClientLink, method: str, message: Message) -> None:
        if method == "initialize":
            await self._initialize(client, message)
        elif self._shared_subscription(client, method, message):
            # Another client holds the same subscription upstream; answer locally.
            client.send({"jsonrpc": "2.0", "id": message["id"], "result": {}})
        else:
            if method == "logging/setLevel":
                self._log_level = _params(message).get("level")
            await self._forward(client, message)

    def _shared_subscription(self, client: ClientLink, method: str, message: Message) -> bool:
        if method == "resources/subscribe":
            return not self._first_subscriber(client, message)
        if method == "resources/unsubscribe":
            return not self._last_subscriber(client, message)
        return False

    async def _initialize(self, client: ClientLink, message: Message) -> None:
        self._take_capabilities(client, _params(message))
        if self.initialize_result is None:
            problem = await self._wait_for_server()
            if problem is not None:
                client.send(errors.error_response(message["id"], *problem))
                return
        client.send({"jsonrpc": "2.0", "id": message["id"], "result": self.initialize_result})

    @staticmethod
    def _take_capabilities(client: ClientLink, initialize_params: dict[str, Any]) -> None:
        capabilities = initialize_params.get("capabilities")
        client.capabilities = capabilities if isinstance(capabilities, dict) else {}

    async def _forward(self, client: ClientLink, message: Message) -> None:
        """Send a client's request upstream, waiting for the server if it is down."""
        while client.number in self._clients:  # else it hung up while waiting
            if not self._usable():
                cached = self._cached_list(message["method"], message)
                if cached is not None:
                    client.send({"jsonrpc": "2.0", "id": message["id"], "result": cached})
                    return
                problem = await self._wait_for_server()
                if problem is not None:
                    client.send(errors.error_response(message["id"], *problem))
                    return
                if client.number not in self._clients:
                    return  # it hung up while waiting
            if self._send(client, message):
                return

    def _send(self, client: ClientLink, message: Message) -> bool:
        """Forward a request upstream now; False when the server cannot take it (then
        nothing was sent, and it waits for the next process)."""
        session = self._session
        if session is None or not session.open:
            return False
        pending = self._register(client, message, session)
        try:
            session.send(pending.message)
        except ConnectionError:
            self._drop_pending(pending.message["id"])  # never written: the next process gets it
            return False
        return True

    def _register(self, client: ClientLink, message: Message, session: BackendSession) -> _Pending:
        """Give a client's request its upstream id, and remember it until answered."""
        upstream_id = next(self._upstream_ids)
        outgoing = {**message, "id": upstream_id}
        token = self._rewrite_progress(client, outgoing)
        pending = _Pending(client, message["id"], outgoing, token, session.bytes_sent)
        self._pending[upstream_id] = pending
        client.in_flight[_id_key(message["id"])] = upstream_id
        if self._cached_list(message["method"], message) is not None:
            pending.patience = asyncio.get_running_loop().call_later(
                LIST_PATIENCE_S, self._answer_from_cache, upstream_id
            )
        return pending

    def _answer_from_cache(self, upstream_id: int) -> None:
        """The server is slow to list (busy, or hung): the client gets the last list now."""
        pending = self._pending.get(upstream_id)
        if pending is None or pending.answered:
            return
        cached = self._cached_list(pending.message["method"], pending.message)
        if cached is None:
            return
        pending.answered = True
        pending.client.in_flight.pop(_id_key(pending.client_id), None)
        pending.client.send({"jsonrpc": "2.0", "id": pending.client_id, "result": cached})

    def _usable(self) -> bool:
        return self._session is not None and self._session.open and not self._holding

    async def _wait_for_server(self) -> tuple[int, str] | None:
        """Wait until the server can take requests; or give the error code and why not."""
        deadline = time.monotonic() + HOLD_LIMIT_S
        while not self._usable():
            if (reason := self._unavailable()) is not None:
                return errors.SERVER_UNAVAILABLE, reason
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return errors.SERVER_TIMEOUT, (
                    f"{self.name} did not come back within {HOLD_LIMIT_S:g} seconds; "
                    f"see `mcp-tray logs {self.name}`."
                )
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
        return None

    def _cached_list(self, method: str, message: Message) -> dict[str, Any] | None:
        if method not in CACHED_LISTS:
            return None
        return self._list_cache.get((method, _cursor(message)))

    def _rewrite_progress(self, client: ClientLink, outgoing: Message) -> int | None:
        params = _params(outgoing)
        meta = params.get("_meta")
        if not isinstance(meta, dict) or "progressToken" not in meta:
            return None
        token = next(self._upstream_ids)
        self._progress[token] = (client, meta["progressToken"])
        outgoing["params"] = {**params, "_meta": {**meta, "progressToken": token}}
        return token

    def _original(self, pending: _Pending) -> Message:
        """The request as the client sent it, to forward again."""
        message = {**pending.message, "id": pending.client_id}
        if pending.progress_token is not None:
            _, token = self._progress.pop(pending.progress_token, (None, None))
            params = message["params"]
            message["params"] = {**params, "_meta": {**params["_meta"], "progressToken": token}}
        return message

    def _client_notification(self, client: ClientLink, method: str, message: Message) -> None:
        if method == "notifications/initialized":
            return  # the hub did the handshake with the server long ago
        if method == "notifications/cancelled":
            self._cancel(client, message)
            return
        self._send_upstream(message)

    def _cancel(self, client: ClientLink, message: Message) -> None:
        params = _params(message)
        if not valid_id(params.get("requestId")):
            return  # names no request this client could have made
        key = _id_key(params["requestId"])
        held = client.held.get(key)
        if held is not None and key not in client.in_flight:
            held.cancel()  # never reached the server: nothing to tell it
            return
        upstream_id = client.in_flight.pop(key, None)
        if upstream_id is None:
            return
        self._drop_pending(upstream_id)
        self._send_upstream({**message, "params": {**params, "requestId": upstream_id}})

    def _client_answer(self, client: ClientLink, message: Message) -> None:
        """A client answers a request the server made (sampling, elicitation, roots)."""
        key = str(message.get("id"))
        routed = self._server_requests.get(key)
        if routed is None or routed[0] is not client:
            return  # not a request this client was asked: nobody else may answer for it
        del self._server_requests[key]
        self._send_upstream({**message, "id": routed[1]})

    def _first_subscriber(self, client: ClientLink, message: Message) -> bool:
        uri = str(_params(message).get("uri"))
        subscribers = self._subscriptions.setdefault(uri, set())
        first = not subscribers
        subscribers.add(client.number)
        return first

    def _last_subscriber(self, client: ClientLink, message: Message) -> bool:
        uri = str(_params(message).get("uri"))
        subscribers = self._subscriptions.get(uri, set())
        if client.number not in subscribers:
            return False
        subscribers.discard(client.number)
        if subscribers:
            return False
        del self._subscriptions[uri]
        return True

    def _disconnect(self, client: ClientLink) -> None:
        """A client left: cancel its requests upstream and drop its subscriptions."""
        self._clients.pop(client.number, None)
        for task in list(client.held.values()):
            task.cancel()
        for upstream_id in list(client.in_flight.values()):
            self._drop_pending(upstream_id)
            self._send_upstream(
                {
                    "jsonrpc": "2.0",
                    "method": "notifications/cancelled",
                    "params": {"requestId": upstream_id, "reason": "the client disconnected"},
                }
            )
        for uri in [
            uri for uri, numbers in self._subscriptions.items() if client.number in numbers
        ]:
            self._subscriptions[uri].discard(client.number)
            if not self._subscriptions[uri]:
                del self._subscriptions[uri]
                self._spawn(self._unsubscribe_upstream(uri))
        for key, (owner, server_id) in list(self._server_requests.items()):
            if owner is client:  # the server must not wait forever for an answer
                del self._server_requests[key]
                self._send_upstream(
                    errors.error_response(
                        server_id,
                        errors.NO_CLIENT_FOR_REQUEST,
                        "the client this request went to disconnected before answering",
                    )
                )

    async def _unsubscribe_upstream(self, uri: str) -> None:
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.request(
                    "resources/unsubscribe", {"uri": uri}, timeout=REPLAY_TIMEOUT_S
                )

    # ----- what the server sends

    def _answer(self, message: Message, raw: bytes) -> None:
        pending = self._drop_pending(message["id"])
        if pending is None:
            return
        method = pending.message.get("method")
        if method == "resources/subscribe" and "error" in message:
            self._last_subscriber(pending.client, pending.message)  # refused: not subscribed
        if method in CACHED_LISTS and isinstance(message.get("result"), dict):
            self._list_cache[(method, _cursor(pending.message))] = message["result"]
        if not pending.answered:  # else it had the cached list already
            if (rewritten := _with_id(raw, pending.client_id)) is not None:
                pending.client.send_bytes(rewritten)  # a large answer is not encoded again
            else:
                # The id first, where `mcp-tray attach` looks for it in a long answer.
                rest = {k: v for k, v in message.items() if k not in ("jsonrpc", "id")}
                pending.client.send({"jsonrpc": "2.0", "id": pending.client_id, **rest})
        if not self._pending:
            self.notify()  # a draining planned restart may go on

    def _drop_pending(self, upstream_id: int) -> _Pending | None:
        pending = self._pending.pop(upstream_id, None)
        if pending is not None:
            if not pending.answered:
                pending.client.in_flight.pop(_id_key(pending.client_id), None)
            if pending.progress_token is not None:
                self._progress.pop(pending.progress_token, None)
            if pending.patience is not None:
                pending.patience.cancel()
        return pending

    def _server_notification(self, message: Message) -> None:
        method, params = message["method"], _params(message)
        if method == "notifications/progress":
            token = params.get("progressToken")
            target = self._progress.get(token) if isinstance(token, int) else None
            if target is not None:
                owner, token = target
                owner.send({**message, "params": {**params, "progressToken": token}})
        elif method == "notifications/resources/updated":
            for number in self._subscriptions.get(str(params.get("uri")), ()):
                if (subscriber := self._clients.get(number)) is not None:
                    subscriber.send(message)
        elif method == "notifications/cancelled":
            self._server_cancelled(params)
        else:
            self._broadcast(message)

    def _server_cancelled(self, params: dict[str, Any]) -> None:
        """The server withdrew one of its own requests to a client."""
        for key, (client, server_id) in list(self._server_requests.items()):
            if server_id == params.get("requestId"):
                del self._server_requests[key]
                client.send(
                    {
                        "jsonrpc": "2.0",
                        "method": "notifications/cancelled",
                        "params": {**params, "requestId": key},
                    }
                )

    def _server_request(self, message: Message) -> None:
        method = message["method"]
        client = self._client_for(CLIENT_CAPABILITY.get(method))
        if client is None:
            self._send_upstream(self._no_client_answer(method, message["id"]))
            return
        key = f"{self.name}-{next(self._server_request_ids)}"
        self._server_requests[key] = (client, message["id"])
        client.send({**message, "id": key})

    def _client_for(self, capability: str | None) -> ClientLink | None:
        """The client that has work in flight, else the most recently active; capable ones only."""
        capable = [
            c for c in self._clients.values() if capability is None or capability in c.capabilities
        ]
        if not capable:
            return None
        return max(capable, key=lambda c: (bool(c.in_flight), c.last_active))

    def _no_client_answer(self, method: str, server_id: Any) -> Message:
        if method == "roots/list":
            return {"jsonrpc": "2.0", "id": server_id, "result": {"roots": []}}
        return errors.error_response(
            server_id,
            errors.NO_CLIENT_FOR_REQUEST,
            f"no attached client can answer {method} (none declared that capability)",
        )

    def _broadcast(self, message: Message) -> None:
        for client in self._clients.values():
            client.send(message)

    def _announce_list_changes(self) -> None:
        capabilities = (self.initialize_result or {}).get("capabilities") or {}
        for capability, method in LIST_CHANGED.items():
            if capability in capabilities:
                self._broadcast({"jsonrpc": "2.0", "method": method})

    async def _replay(self, session: BackendSession) -> None:
        """Give a fresh process the state the clients set on the old one."""
        for uri in list(self._subscriptions):  # clients may (un)subscribe meanwhile
            await self._replay_one(session, "resources/subscribe", {"uri": uri})
        if self._log_level is not None:
            await self._replay_one(session, "logging/setLevel", {"level": self._log_level})

    async def _replay_one(self, session: BackendSession, method: str, params: Message) -> None:
        try:
            await session.request(method, params, timeout=REPLAY_TIMEOUT_S)
        except (TimeoutError, RpcError, BackendClosed, ConnectionError) as error:
            # The restart goes on; the clients just lose this one piece of state.
            logger.warning("%s: replaying %s %s failed: %s", self.name, method, params, error)

    def _lost_call(self, planned: bool) -> str:
        if planned:
            return (
                f"{self.name} was restarted before this call finished; "
                "the call was not repeated because it may already have had effects."
            )
        return (
            f"{self.name} crashed while handling this call and was restarted; the call was "
            "not repeated because it may already have had effects. Try it again."
        )

    def _send_upstream(self, message: Message) -> None:
        """A notification or an answer: lost with a process that is going away anyway."""
        if self._session is not None:
            with contextlib.suppress(ConnectionError):
                self._session.send(message)

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, ConnectionError):
            logger.debug("%s: a peer went away mid-write: %s", self.name, error)
        elif error is not None:
            logger.error("%s: relay task failed", self.name, exc_info=error)


# An answer as servers write it: {"jsonrpc": "2.0", "id": N, ...}; the relay's own
# upstream ids are integers, so N is one of them.
_LEADING_ID = re.compile(rb'^\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*(-?\d+)\s*[,}]')


def _with_id(raw: bytes, client_id: Any) -> bytes | None:
    """``raw`` with its top-level id replaced and a newline, or None when the id is not
    where expected."""
    found = _LEADING_ID.match(raw)
    if found is None:
        return None
    start, end = found.span(1)
    view = memoryview(raw)  # one copy in all, whatever the answer's size
    return b"".join((view[:start], json.dumps(client_id).encode(), view[end:], b"\n"))


def _envelope_problem(message: Message) -> str | None:
    """What makes a message impossible to route, or None (JSON-RPC 2.0 with MCP's object params)."""
    if "id" in message and not valid_id(message["id"]):
        return "id must be a string or an integer"
    if "method" in message and not isinstance(message["method"], str):
        return "method must be a string"
    if "params" in message and not isinstance(message["params"], dict):
        return "params must be an object"
    if "method" not in message and "id" not in message:
        return "neither a request, a notification nor an answer"
    return None


def _cursor(message: Message) -> Any:
    return _params(message).get("cursor")


def _params(message: Message) -> dict[str, Any]:
    params = message.get("params")
    return params if isinstance(params, dict) else {}


def _invalid(request_id: Any, code: int, text: str) -> Message:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": text}}
