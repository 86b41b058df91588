"""The relay: many editors share one server process, and never see it die.

Each attached client speaks MCP to the relay as if it were the server. The
relay answers ``initialize`` and ``ping`` itself (from the handshake the hub
made), rewrites request ids and progress tokens so that clients whose ids
collide never see each other's answers, and routes what the server sends:
answers to their requester, progress to the one client that asked,
``resources/updated`` to subscribers, requests (sampling, elicitation,
roots) to a client that can answer them, everything else to all. A client
of revision 2026-07-28 is relayed to the same server, its discovery answered
and its requests and results translated as app.core.rpc.modern says.

Restart transparency lives here too:

* While the server is down, requests wait for it (bounded); list requests
  are answered from the last list the server gave, so tools do not vanish.
* When it crashes, requests that are safe to repeat (lists, reads, ping)
  are sent again to the new process; a ``tools/call`` is never repeated, it
  gets an error that names the server and says what happened.
* A planned restart holds new requests, lets in-flight ones finish, restarts,
  replays subscriptions and the log level, releases the held requests and
  tells every client that the lists may have changed.

Who is concerned by what is kept in the routing tables (app.core.rpc.routing);
a client attaches through a port (app.core.rpc.port), a socket's through
``serve_client`` (app.core.rpc.clientlink).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from app.core.activity import Recorder, app_name
from app.core.rpc import errors, listens, modern
from app.core.rpc.backend import BackendClosed, RpcError
from app.core.rpc.clientlink import ClientLink, read_lines
from app.core.rpc.envelope import (
    answer_id,
    cursor,
    envelope_problem,
    id_key,
    notification,
    params,
    result,
    unreadable_answer,
    with_id,
)
from app.core.rpc.framing import ByteSource, MalformedLine, Message, decode
from app.core.rpc.heads import valid_id
from app.core.rpc.listens import Listen, Listens
from app.core.rpc.modern import Round, Rounds
from app.core.rpc.port import ClientOutput, ClientPort, Upstream
from app.core.rpc.routing import Client, Pending, RequestTable, ServerRequests, Subscriptions
from app.core.rpc.toolgate import ToolGate

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
# Answers the relay reads before passing them on (Relay.server_line).
_READ_ANSWERS = CACHED_LISTS | {"resources/subscribe"}
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
# The lists each list_changed notification says are out of date.
_CHANGED_LIST = {
    LIST_CHANGED["tools"]: {"tools/list"},
    LIST_CHANGED["prompts"]: {"prompts/list"},
    LIST_CHANGED["resources"]: {"resources/list", "resources/templates/list"},
}
HOLD_LIMIT_S = 60.0  # a request waits this long for its server to come back
# A list the server does not answer this fast is answered from the last one it
# gave (its answer, when it comes, still refreshes that copy).
LIST_PATIENCE_S = 2.0
DRAIN_LIMIT_S = 10.0  # a planned restart lets in-flight requests finish this long
# A client that closed its side (its stdin ended) still gets the answers to what it
# sent, as from a server run directly, for this long; one that went away has its
# requests cancelled at once.
LAST_ANSWERS_S = 5.0
REPLAY_TIMEOUT_S = 10.0  # per replayed subscription or log level
# A 2026-07-28 client answered input_required retries within this, or its call is
# cancelled upstream: time for a person to answer a form, and the lifetime the SDK's
# own servers give a requestState (RequestStateSecurity's ttl).
ROUND_LIMIT_S = 600.0
# The revisions of MCP's stdio era, oldest first (their names sort as their dates).
# The hub speaks to a server in the newest it takes; a client asking for an older
# one the server also takes gets that one, as it would from the server directly.
REVISIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
# Requests the relay must look at before they go upstream.
_HANDLED = frozenset(
    {"initialize", "resources/subscribe", "resources/unsubscribe", "logging/setLevel"}
)


def _named(tool: Any) -> bool:
    return isinstance(tool, dict) and isinstance(tool.get("name"), str)


@dataclass(frozen=True)
class Limits:
    """How long the relay waits for what (the constants above; shorter in tests)."""

    hold_s: float = HOLD_LIMIT_S
    list_patience_s: float = LIST_PATIENCE_S
    drain_s: float = DRAIN_LIMIT_S
    replay_s: float = REPLAY_TIMEOUT_S
    last_answers_s: float = LAST_ANSWERS_S
    round_s: float = ROUND_LIMIT_S


def negotiated(handshake: dict[str, Any] | None, asked: Any) -> dict[str, Any] | None:
    """The server's handshake as a client asking for revision ``asked`` gets it: with
    that revision when the server's is the same or newer, else the server's own
    (the client then decides whether it can go on, as the spec says)."""
    theirs = handshake.get("protocolVersion") if handshake is not None else None
    if handshake is not None and asked in REVISIONS and theirs in REVISIONS and asked < theirs:
        return {**handshake, "protocolVersion": asked}
    return handshake


class Relay:
    def __init__(
        self,
        name: str,
        *,
        unavailable: Callable[[], str | None],
        limits: Limits = Limits(),
        activity: Recorder | None = None,
        tools: ToolGate | None = None,
    ) -> None:
        self.name = name
        self.tools = tools or ToolGate(name)  # which tools the apps see (app.core.rpc.toolgate)
        # Told each page of tools/list the server gives, before any app sees it (the
        # hub's record of accepted tools: it may hold some back, app.core.accepted).
        self.on_tools: Callable[[dict[str, Any]], None] | None = None
        self._unavailable = unavailable
        self._limits = limits
        self._session: Upstream | None = None
        self.initialize_result: dict[str, Any] | None = None
        self._sessions_seen = 0
        self._holding = False  # a planned restart is draining
        self._changed = asyncio.Event()  # replaced on every notify, so waiters never miss one
        self._clients: dict[int, Client] = {}
        self._client_numbers = itertools.count(1)
        self._requests = RequestTable(activity)  # notes each request's end in ``activity``
        self._subscriptions = Subscriptions()
        self._server_requests = ServerRequests(name)
        self._rounds = Rounds()
        self._listens = Listens()
        self._log_level: Any = None
        self._list_cache: dict[tuple[str, Any], dict[str, Any]] = {}
        # Pages of _list_cache as the running process last gave them, with no word of
        # a change since (its list_changed, or a new process, ends that).
        self._current_lists: set[tuple[str, Any]] = set()
        self._server_modern = False  # the last process was spoken to at 2026-07-28
        self._background: set[asyncio.Task[Any]] = set()

    # ----- the supervisor's side

    def waiting_since(self) -> float | None:
        """When the oldest request now waiting on the server was sent to it (monotonic);
        None when none waits. The supervisor's measure of a stall."""
        return self._requests.waiting_since()

    async def session_ready(self, session: Upstream) -> None:
        """A new process finished its handshake: replay state, release waiting requests."""
        self.initialize_result = session.initialize_result
        self._server_modern = session.modern
        await self._replay(session)
        await self._list_tools_first(session)
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
        self._current_lists.clear()
        for pending in self._requests.drop_all():
            if pending.answered:
                continue
            unread = delivered is not None and pending.offset >= delivered
            if unread or pending.message.get("method") in IDEMPOTENT:
                self._hold(pending.client, pending.original)
            else:
                pending.client.send(errors.call_lost(pending.client_id, self.name, planned=planned))
                self._requests.lost(pending, planned=planned)
        self._server_requests.clear()
        self._rounds.server_ended(planned=planned)
        self.notify()

    def server_message(self, message: Message, raw: bytes = b"") -> None:
        """Everything the server sends that is not an answer to the hub itself."""
        problem = envelope_problem(message)
        if problem is not None:
            logger.warning("%s sent an invalid message (%s); dropped", self.name, problem)
        elif "method" in message:
            if "id" in message:
                self._server_request(message)
            else:
                self._server_notification(message)
        elif isinstance(message.get("id"), int) and message["id"] in self._requests:
            self._answer(message, raw)
        else:
            logger.debug("%s sent an answer nobody waits for: %s", self.name, message.get("id"))

    def server_line(self, raw: bytes) -> bool:
        """Pass on an answer recognised by its first bytes, unparsed; False when the
        line must be parsed and given to :meth:`server_message` instead.

        Most of what a server writes is answers to tool calls, and the relay needs
        only their id to route them: a 20 MiB result then costs a copy, not a
        parse and a copy. Answers the relay reads (lists it caches, refused
        subscriptions) go the parsed way. What follows the head is the server's
        own business with its own client: a line with a second "id" or a
        "method" further on reaches only the client whose request it answers,
        and can confuse no other.
        """
        upstream_id = answer_id(raw)
        pending = self._requests.get(upstream_id) if upstream_id is not None else None
        if pending is None or pending.answered or pending.message["method"] in _READ_ANSWERS:
            return False
        if pending.client.modern:
            return False  # its answer is completed for 2026-07-28 (app.core.rpc.modern)
        if not raw.rstrip().endswith(b"}"):
            return False  # not a whole object: parsed, it is refused as the malformed line it is
        forwarded = with_id(raw, pending.client_id)
        if forwarded is None:
            return False
        pending.client.send_line(forwarded)  # first: one that raises leaves it unanswered
        self._requests.drop(pending.message["id"])
        self._requests.ended_line(pending, raw)
        if not self._requests:
            self.notify()  # a draining planned restart may go on
        return True

    def set_tools(self, gate: ToolGate) -> None:
        """The user switched tools on or off, or reviewed them: the apps are told their
        list changed when what they see did (the server runs on untouched)."""
        before, self.tools = self.tools, gate
        if not before.shows_the_same(gate, self.known_tools()):
            self._broadcast(notification(LIST_CHANGED["tools"]))

    def known_tools(self) -> list[str]:
        """The names of the tools the server last listed, on every page, in order."""
        return [tool["name"] for tool in self.tool_list()]

    def learn_tools(self, listed: dict[str, Any]) -> None:
        """The first page of tools as the running process gives it, asked as it starts."""
        self._list_cache[("tools/list", None)] = listed
        self._current_lists.add(("tools/list", None))
        self._saw_tools(listed)

    async def _list_tools_first(self, session: Upstream) -> None:
        """A new process's tools are looked at before any request reaches it: one changed
        since the user accepted it is held from the first call, even from an app that
        calls it from a list it kept (app.core.accepted)."""
        capabilities = (session.initialize_result or {}).get("capabilities") or {}
        if self.on_tools is None or "tools" not in capabilities:
            return
        try:
            self.learn_tools(await session.request("tools/list", timeout=self._limits.replay_s))
        except (TimeoutError, RpcError, BackendClosed, ConnectionError) as error:
            logger.info("%s: its tools could not be looked at before use: %s", self.name, error)

    def _saw_tools(self, listed: dict[str, Any]) -> None:
        if self.on_tools is not None and isinstance(listed.get("tools"), list):
            self.on_tools(listed)

    def tool_list(self) -> list[dict[str, Any]]:
        """The tools the server last listed (every page), as it gave them."""
        tools: list[dict[str, Any]] = []
        for (method, _), listed in self._list_cache.items():
            if method == "tools/list":
                tools += [t for t in listed.get("tools") or () if _named(t)]
        return tools

    def notify(self) -> None:
        """Wake every request waiting for the server (state changed, session ready)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def prepare_planned_restart(self) -> None:
        """Hold new requests and let in-flight ones finish (bounded)."""
        self._holding = True
        deadline = time.monotonic() + self._limits.drain_s
        while self._requests and (remaining := deadline - time.monotonic()) > 0:
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def release(self) -> None:
        """End a hold that no restart followed (the restart failed or was not needed)."""
        self._holding = False
        self.notify()

    # ----- clients coming and going

    def attach(self, output: ClientOutput, *, resumed: dict[str, Any] | None = None) -> ClientPort:
        """A new client, whose messages the relay sends to ``output``; feed the port what
        it sends, and close the port when it leaves.

        ``resumed`` holds the ``initialize`` params of a client that attached to
        an earlier hub: it is taken back as initialized, with no new handshake.
        """
        return self._attach(next(self._client_numbers), output, resumed)

    @contextlib.asynccontextmanager
    async def attached(
        self, output: ClientOutput, *, resumed: dict[str, Any] | None = None
    ) -> AsyncIterator[ClientPort]:
        """:meth:`attach` for the length of a ``with`` block: the client leaves at its end."""
        port = self.attach(output, resumed=resumed)
        try:
            yield port
        finally:
            port.close()

    async def serve_client(
        self,
        reader: ByteSource,
        writer: asyncio.StreamWriter,
        *,
        resumed: dict[str, Any] | None = None,
    ) -> None:
        """Relay one client on a socket until it hangs up (``resumed``: see attach)."""
        number = next(self._client_numbers)
        link = ClientLink(writer, label=f"client {number}")
        port = self._attach(number, link, resumed)
        try:
            await read_lines(reader, port.receive_line)
            await self._answers_owed(number, link)
        finally:
            port.close()
            await link.finish()

    async def _answers_owed(self, number: int, link: ClientLink) -> None:
        """The client hung up its side: the answers to what it sent still reach it
        (bounded by Limits.last_answers_s, and only while it can still be written to)."""
        client = self._clients.get(number)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._limits.last_answers_s):
                while client is not None and client.owed and link.writable:
                    client.request_ended.clear()
                    await client.request_ended.wait()

    def _attach(
        self, number: int, output: ClientOutput, resumed: dict[str, Any] | None
    ) -> ClientPort:
        client = Client(number, output)
        if resumed is not None:
            self._take_capabilities(client, resumed)
        self._clients[number] = client
        return ClientPort(
            number,
            receive=functools.partial(self._client_message, client),
            receive_line=functools.partial(self._client_line, client),
            close=functools.partial(self._disconnect, client),
        )

    def _disconnect(self, client: Client) -> None:
        """A client left: cancel its requests upstream and drop its subscriptions."""
        self._clients.pop(client.number, None)
        for task in list(client.held.values()):
            task.cancel()
        for upstream_id in list(client.in_flight.values()):
            self._requests.drop(upstream_id)
            reason = {"requestId": upstream_id, "reason": "the client disconnected"}
            self._send_upstream(notification("notifications/cancelled", reason))
        for uri in self._subscriptions.remove_client(client.number):
            self._spawn(self._unsubscribe_upstream(uri))
        for listen in self._listens.close_all(client):
            self._end_listen(listen)
        for server_id in self._server_requests.remove_client(client):
            self._send_upstream(errors.client_left(server_id))  # the server must not wait
        for state in self._rounds.of_client(client):
            if (round_ := self._rounds.end(state, "spent")) is not None:
                self._abandon(round_, "the client disconnected", errors.client_left)

    @staticmethod
    def _take_capabilities(client: Client, initialize_params: dict[str, Any]) -> None:
        capabilities = initialize_params.get("capabilities")
        client.capabilities = capabilities if isinstance(capabilities, dict) else {}
        client.app = app_name(initialize_params.get("clientInfo"))
        client.initialized = True
        client.revision = None  # it speaks the handshake era from now on

    # ----- what a client sends

    def _client_line(self, client: Client, line: bytes | MalformedLine) -> None:
        message = line if isinstance(line, MalformedLine) else decode(line)
        if isinstance(message, MalformedLine):
            client.last_active = time.monotonic()
            logger.warning("%s: client %d sent %s", self.name, client.number, message)
            client.send(unreadable_answer(line, message))
        else:
            self._client_message(client, message)

    def _client_message(self, client: Client, message: Message) -> None:
        client.last_active = time.monotonic()
        try:
            self._from_client(client, message)
        except Exception:
            # A bug on one message must not drop the client, let alone the hub.
            logger.exception(
                "%s: could not route a message from client %d", self.name, client.number
            )

    def _from_client(self, client: Client, message: Message) -> None:
        method, request_id = message.get("method"), message.get("id")
        problem = envelope_problem(message)
        if problem is None and message.get("jsonrpc") != "2.0":
            problem = 'jsonrpc must be "2.0"'
        if problem is not None:
            logger.warning(
                "%s: client %d sent an invalid message: %s", self.name, client.number, problem
            )
            if request_id is not None or method is not None:
                answer_id = request_id if valid_id(request_id) else None
                client.send(errors.invalid_request(answer_id, problem))
        elif method is None:
            self._client_answer(client, message)
        elif request_id is None:
            self._client_notification(client, method, message)
        else:
            self._client_request(client, method, message)

    def _client_request(self, client: Client, method: str, message: Message) -> None:
        request_id = message["id"]
        meta = modern.envelope(message)
        if method == "tools/call" and (refused := self._tool_refusal(message)) is not None:
            client.send(refused)
        elif meta is not None and method != "initialize":  # initialize is the handshake era's
            self._modern_request(client, method, message, meta)
        elif method == "ping":
            client.send(result(request_id, {}))
        elif method == "server/discover":
            # Without the 2026-07-28 envelope it is no discovery: as a handshake-era
            # server would, refuse it, and the client uses initialize.
            text = "server/discover needs the 2026-07-28 envelope in params._meta; or initialize"
            client.send(errors.error_response(request_id, errors.METHOD_NOT_FOUND, text))
        elif method in _HANDLED or not self._usable() or not self._send(client, message):
            self._hold(client, message)

    def _modern_request(
        self, client: Client, method: str, message: Message, meta: dict[str, Any]
    ) -> None:
        """A 2026-07-28 request: its envelope checked, then taken off (app.core.rpc.modern)."""
        refused = modern.refusal(message["id"], method, meta, REVISIONS)
        if refused is not None:
            client.send(refused)
            return
        if client.revision is None and not client.initialized:
            client.revision = meta[modern.PROTOCOL_VERSION_KEY]
            client.capabilities = modern.capabilities(meta)
            client.app = app_name(meta.get(modern.CLIENT_INFO_KEY))
        upstream = modern.without_envelope(message)
        state = params(upstream).get("requestState")
        if method == "server/discover":
            self._hold(client, message)
        elif method == "subscriptions/listen":
            self._listen(client, upstream)
        elif method == "ping":
            client.send(result(message["id"], {}))
        elif method in modern.CARRIERS and state is not None and self._rounds_own(state):
            self._resume(client, upstream)
        else:
            self._send_or_hold(client, message)  # its envelope goes only to a 2026 server

    def _tool_refusal(self, message: Message) -> Message | None:
        """The answer to a call of a tool the user keeps from the apps (the server never
        hears of it); None for one they may call."""
        reason = self.tools.refusal(str(params(message).get("name")))
        if reason is None:
            return None
        return errors.error_response(message["id"], errors.INVALID_PARAMS, reason)

    def _rounds_own(self, state: Any) -> bool:
        """Whether a retry's requestState is the relay's; else the server's own, given
        to the client when the server speaks 2026-07-28 (its input_required passes).
        While the server restarts, the era of the last process decides."""
        return not self._server_modern or self._rounds.issued(state)

    def _send_or_hold(self, client: Client, message: Message) -> None:
        if not self._usable() or not self._send(client, message):
            self._hold(client, message)

    def _client_notification(self, client: Client, method: str, message: Message) -> None:
        if method == "notifications/initialized":
            return  # the hub did the handshake with the server long ago
        if method == "notifications/cancelled":
            self._cancel(client, message)
            return
        self._send_upstream(message)

    def _cancel(self, client: Client, message: Message) -> None:
        cancel_params = params(message)
        request_id = cancel_params.get("requestId")
        if not valid_id(request_id):
            return  # names no request this client could have made
        held = client.held.get(id_key(request_id))
        if held is not None and id_key(request_id) not in client.in_flight:
            held.cancel()  # never reached the server: nothing to tell it
            return
        if (listen := self._listens.close(client, request_id)) is not None:
            self._end_listen(listen)  # the relay's own: nothing to tell the server
            return
        upstream_id = self._requests.cancel(client, request_id)
        if upstream_id is not None:
            self._send_upstream({**message, "params": {**cancel_params, "requestId": upstream_id}})
        elif (state := self._rounds.of_call(client, request_id)) is not None:
            self._cancel_parked(state)

    def _cancel_parked(self, state: str) -> None:
        """The client cancelled a call it was answered input_required on: the call
        waits upstream for a retry that will not come."""
        if (round_ := self._rounds.end(state, "cancelled")) is not None:
            self._abandon(round_, "the client cancelled the call", errors.call_cancelled)

    def _client_answer(self, client: Client, message: Message) -> None:
        """A client answers a request the server made (sampling, elicitation, roots)."""
        asked, server_id = self._server_requests.answered(client, str(message.get("id")))
        if asked:  # else nobody may answer for the client that was asked
            self._send_upstream({**message, "id": server_id})

    # ----- requests that wait (for the server, or for the relay to look at them)

    def _hold(self, client: Client, message: Message) -> None:
        """Handle a request in a task of its own (it may wait); the client can cancel it."""
        key = id_key(message["id"])
        task = self._spawn(self._handle(client, message["method"], message))
        client.held[key] = task
        task.add_done_callback(lambda _: self._ended(client, key))

    @staticmethod
    def _ended(client: Client, key: Any) -> None:
        client.held.pop(key, None)
        client.request_ended.set()

    async def _handle(self, client: Client, method: str, message: Message) -> None:
        if method == "initialize":
            await self._initialize(client, message)
        elif method == "server/discover":
            await self._discover(client, message)
        elif method == "subscriptions/listen":
            await self._listen_when_known(client, message)
        elif self._shared_subscription(client, method, message):
            # Another client holds the same subscription upstream; answer locally.
            client.send(result(message["id"], {}))
        else:
            if method == "logging/setLevel":
                self._log_level = params(message).get("level")
            await self._forward(client, message)

    def _shared_subscription(self, client: Client, method: str, message: Message) -> bool:
        uri = str(params(message).get("uri"))
        if method == "resources/subscribe":
            return not self._subscriptions.add(client.number, uri)
        if method == "resources/unsubscribe":
            return not self._subscriptions.remove(client.number, uri)
        return False

    async def _initialize(self, client: Client, message: Message) -> None:
        self._take_capabilities(client, params(message))
        if self.initialize_result is None:
            problem = await self._wait_for_server()
            if problem is not None:
                client.send(errors.error_response(message["id"], *problem))
                return
        asked = params(message).get("protocolVersion")
        client.send(result(message["id"], negotiated(self.initialize_result, asked)))

    async def _discover(self, client: Client, message: Message) -> None:
        """2026-07-28 discovery, answered from the handshake the hub made."""
        if self.initialize_result is None and (problem := await self._wait_for_server()):
            client.send(errors.error_response(message["id"], *problem))
            return
        handshake = self.initialize_result or {}  # set before the server became usable
        client.send(result(message["id"], modern.discover_result(handshake)))

    async def _forward(self, client: Client, message: Message) -> None:
        """Send a client's request upstream, waiting for the server if it is down."""
        while client.number in self._clients:  # else it hung up while waiting
            if not self._usable():
                cached = self._cached_list(message["method"], message)
                if cached is not None:
                    client.send(self._result_for(client, message["method"], message["id"], cached))
                    return
                problem = await self._wait_for_server()
                if problem is not None:
                    client.send(errors.error_response(message["id"], *problem))
                    return
                if client.number not in self._clients:
                    return  # it hung up while waiting
            if self._send(client, message):
                return

    def _send(self, client: Client, message: Message) -> bool:
        """Forward a request upstream now; False when the server cannot take it (then
        nothing was sent, and it waits for the next process)."""
        session = self._session
        if session is None or not session.open:
            return False
        if message.get("method") == "tools/call" and (refused := self._tool_refusal(message)):
            # Switched off or held while it waited for the server.
            client.send(refused)
            return True
        if not session.modern and modern.envelope(message) is not None:
            message = modern.without_envelope(message)  # a handshake-era server refuses it
        pending = self._requests.register(client, message, session.bytes_sent)
        try:
            session.send(pending.message, capabilities=client.capabilities)
        except ConnectionError:
            self._requests.drop(pending.message["id"])  # never written: the next process gets it
            return False
        if self._cached_list(message["method"], message) is not None:
            pending.patience = asyncio.get_running_loop().call_later(
                self._limits.list_patience_s, self._answer_from_cache, pending.message["id"]
            )
        return True

    def _answer_from_cache(self, upstream_id: int) -> None:
        """The server is slow to list (busy, or hung): the client gets the last list now."""
        pending = self._requests.get(upstream_id)
        if pending is None or pending.answered:
            return
        cached = self._cached_list(pending.message["method"], pending.message)
        if cached is None:
            return
        self._requests.answered_early(pending)
        method = pending.message["method"]
        pending.client.send(self._result_for(pending.client, method, pending.client_id, cached))

    def _result_for(self, client: Client, method: str, request_id: Any, value: Any) -> Message:
        """A result the relay answers with, as the client's revision wants it."""
        value = self._shown(method, value)
        return result(request_id, modern.completed(method, value) if client.modern else value)

    def _shown(self, method: str, value: Any) -> Any:
        """A list as the apps see it: without the tools the user keeps from them."""
        if method == "tools/list" and isinstance(value, dict):
            return self.tools.shown(value)
        return value

    def _usable(self) -> bool:
        return self._session is not None and self._session.open and not self._holding

    async def _wait_for_server(self) -> tuple[int, str] | None:
        """Wait until the server can take requests; or give the error code and why not."""
        deadline = time.monotonic() + self._limits.hold_s
        while not self._usable():
            if (reason := self._unavailable()) is not None:
                return errors.SERVER_UNAVAILABLE, reason
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return errors.SERVER_TIMEOUT, errors.not_back(self.name, self._limits.hold_s)
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
        return None

    def current_list(self, method: str, page: Any = None) -> dict[str, Any] | None:
        """The running server's answer to list ``method`` (at cursor ``page``), when it
        has not said its list changed since; else None (ask it)."""
        key = (method, page)
        return self._list_cache.get(key) if key in self._current_lists else None

    def _cached_list(self, method: str, message: Message) -> dict[str, Any] | None:
        if method not in CACHED_LISTS:
            return None
        return self._list_cache.get((method, cursor(message)))

    # ----- what the server sends

    def _answer(self, message: Message, raw: bytes) -> None:
        pending = self._requests.drop(message["id"])
        if pending is None:
            return
        method = pending.message.get("method")
        if method == "resources/subscribe" and "error" in message:
            # Refused: the client is not subscribed.
            self._subscriptions.remove(
                pending.client.number, str(params(pending.message).get("uri"))
            )
        if method in CACHED_LISTS and isinstance(message.get("result"), dict):
            self._list_cache[(method, cursor(pending.message))] = message["result"]
            self._current_lists.add((method, cursor(pending.message)))
            if method == "tools/list":
                self._saw_tools(message["result"])
        if pending.parked and (round_ := self._rounds.parked(message["id"])) is not None:
            round_.outcome = message  # its client is told on its retry
        elif not pending.answered:  # else it had the cached list already
            listed = message.get("result")
            if (shown := self._shown(str(method), listed)) is not listed:
                message, raw = {**message, "result": shown}, b""  # changed: encoded again
            self._pass_answer(pending.client, pending.client_id, str(method), message, raw)
        self._requests.ended(pending, message)  # after: the client waits for none of it
        if not self._requests:
            self.notify()  # a draining planned restart may go on

    @staticmethod
    def _pass_answer(
        client: Client, client_id: Any, method: str, message: Message, raw: bytes = b""
    ) -> None:
        # The id first, where `mcp-tray attach` looks for it in a long answer.
        rest = {k: v for k, v in message.items() if k not in ("jsonrpc", "id")}
        answer = {"jsonrpc": "2.0", "id": client_id, **rest}
        if client.modern and "result" in answer:
            answer["result"] = modern.completed(method, answer["result"])
            client.send(answer)
        else:
            # A large answer is passed on as it came, not encoded again.
            client.send(answer, with_id(raw, client_id) if raw else None)

    def _server_notification(self, message: Message) -> None:
        method, notification_params = message["method"], params(message)
        if method == "notifications/progress":
            owner = self._requests.progress_owner(notification_params.get("progressToken"))
            if owner is not None:
                client, token = owner
                client.send({**message, "params": {**notification_params, "progressToken": token}})
        elif method == "notifications/resources/updated":
            for subscriber in self._subscriptions.subscribers(str(notification_params.get("uri"))):
                if isinstance(subscriber, Listen):
                    subscriber.client.send(subscriber.stamped(message))
                elif isinstance(subscriber, int) and (old := self._clients.get(subscriber)):
                    old.send(message)
        elif method == "notifications/cancelled":
            self._server_cancelled(notification_params)
        else:
            if method in _CHANGED_LIST:
                listed = _CHANGED_LIST[method]
                self._current_lists -= {key for key in self._current_lists if key[0] in listed}
            self._broadcast(message)

    def _server_cancelled(self, cancel_params: dict[str, Any]) -> None:
        """The server withdrew one of its own requests to a client."""
        self._rounds.withdrawn(cancel_params.get("requestId"))
        for client, key in self._server_requests.withdrawn(cancel_params.get("requestId")):
            client.send(
                notification("notifications/cancelled", {**cancel_params, "requestId": key})
            )

    def _server_request(self, message: Message) -> None:
        """To the handshake-era client working with the server, as ever; else, when the
        one call the server runs is of a 2026-07-28 client that can answer, into that
        call's input_required result (app.core.rpc.modern). Several calls, and one of
        them of such a client: none is told a request that may not be its own (whatever
        the era or capabilities of the others' clients), and the server hears why."""
        method = message["method"]
        capability = CLIENT_CAPABILITY.get(method)
        session = self._session
        asked_for = None if session is None else session.asked_for(message["id"])
        if asked_for is not None:
            self._ask_caller(asked_for, message)
            return
        client = self._client_for(capability)
        if client is None or not client.in_flight:
            calls = self._carrier_calls()
            capable = [p for p in calls if p.client.modern and capability in p.client.capabilities]
            if len(calls) == 1 and capable:
                self._ask_modern(calls[0], message)
                return
            if len(calls) > 1 and capable:
                self._send_upstream(errors.ambiguous_input(message["id"], method, len(calls)))
                return
        if client is None:
            self._send_upstream(self._no_client_answer(method, message["id"]))
            return
        self._ask_client(client, message)

    def _ask_caller(self, upstream_id: Any, message: Message) -> None:
        """A 2026-07-28 server's request for input to one request (app.core.rpc.
        modern_server): to that request's client, never to another."""
        pending = self._requests.get(upstream_id) if isinstance(upstream_id, int) else None
        method = message["method"]
        if pending is None:
            self._send_upstream(errors.client_left(message["id"]))  # the request ended
        elif CLIENT_CAPABILITY.get(method) in pending.client.capabilities:
            self._ask_client(pending.client, message)
        elif method == "roots/list":
            self._send_upstream(result(message["id"], {"roots": []}))
        else:
            self._send_upstream(errors.client_cannot(message["id"], method))

    def _ask_client(self, client: Client, message: Message) -> None:
        key = self._server_requests.add(client, message["id"])
        client.send({**message, "id": key})

    def _client_for(self, capability: str | None) -> Client | None:
        """The client that has work in flight, else the most recently active; capable ones only."""
        # A 2026-07-28 client takes no requests from a server (that revision has none).
        capable = [
            c
            for c in self._clients.values()
            if not c.modern and (capability is None or capability in c.capabilities)
        ]
        if not capable:
            return None
        return max(capable, key=lambda c: (bool(c.in_flight), c.last_active))

    def _no_client_answer(self, method: str, server_id: Any) -> Message:
        if method == "roots/list":
            return result(server_id, {"roots": []})
        capability = CLIENT_CAPABILITY.get(method)
        if any(
            c.modern and c.in_flight and capability in c.capabilities
            for c in self._clients.values()
        ):
            # Asked during a 2026-07-28 request that cannot be answered input_required
            # (a list, say): the server, and through it that client, learn why.
            return errors.not_bridged(server_id, method)
        return errors.no_client_for(server_id, method)

    def _broadcast(self, message: Message) -> None:
        """To every client of the handshake era; a list change also to the 2026-07-28
        listens that asked for it (app.core.rpc.listens), that revision's only way."""
        for client in self._clients.values():
            if not client.modern:
                client.send(message)
        for listen in self._listens.wanting(message["method"]):
            listen.client.send(listen.stamped(message))

    # ----- multi-round-trip requests: the server's requests to 2026-07-28 clients

    def _carrier_calls(self) -> list[Pending]:
        """The calls upstream that may be asking the server's request: every unanswered
        tools/call, prompts/get and resources/read, of any client and era. A parked call
        waits for its client, not the server, and counts only when the server asked for
        it again since (it asks several things at once), or when no other call runs."""
        calls = [
            p
            for p in self._requests.pending()
            if p.message["method"] in modern.CARRIERS and (p.parked or not p.answered)
        ]
        busy = [p for p in calls if not p.parked or self._asking_again(p)]
        return busy or calls

    def _asking_again(self, pending: Pending) -> bool:
        round_ = self._rounds.parked(pending.message["id"])
        return round_ is not None and bool(round_.queued)

    def _ask_modern(self, pending: Pending, message: Message) -> None:
        """Answer the call input_required with the server's request; if it is parked
        already, the request waits for its retry, which is answered so in turn."""
        key = self._rounds.key()
        round_ = self._rounds.parked(pending.message["id"])
        if round_ is not None:
            round_.queued[key] = message
        else:
            self._park(pending, {key: message})

    def _park(self, pending: Pending, asked: dict[str, Message]) -> None:
        server_ids = {key: m["id"] for key, m in asked.items()}
        self._make_room(pending.client)
        round_ = Round(
            pending.client, pending.client_id, pending.message["id"], pending.message, server_ids
        )
        state = self._rounds.open(round_)
        loop = asyncio.get_running_loop()
        round_.timer = loop.call_later(self._limits.round_s, self._round_expired, state)
        self._requests.park(pending)
        pending.client.send(modern.input_required(pending.client_id, asked, state))

    def _make_room(self, client: Client) -> None:
        """Abandon the oldest rounds beyond the caps (app.core.rpc.modern) before
        ``client`` is given one more."""
        for state, cap in self._rounds.crowded(client):
            if (round_ := self._rounds.end(state, "expired")) is not None:
                logger.info(
                    "%s: client %d had not retried when newer rounds took its place; "
                    "its call is cancelled",
                    self.name,
                    round_.client.number,
                )
                refusal = functools.partial(errors.crowded_out, rounds=cap)
                self._abandon(round_, "the client did not retry", refusal)

    def _resume(self, client: Client, message: Message) -> None:
        """A retry: the client's answers go to the server, and the call goes on under
        the retry's id (the server may ask again, or answer)."""
        request_id, given = message["id"], params(message)
        round_, reason, why = self._rounds.find(client, given["requestState"])
        if round_ is None:
            client.send(modern.bad_state(request_id, reason, why))
            return
        answers = given.get("inputResponses")
        answers = answers if isinstance(answers, dict) else {}
        problem = modern.mismatch(round_, message, answers)
        if problem is not None:
            client.send(modern.bad_state(request_id, *problem))  # it may retry right
            return
        self._rounds.end(given["requestState"], "spent")
        retry = modern.without_retry_keys(message)
        pending = self._requests.get(round_.upstream_id)
        if round_.lost or (pending is None and round_.outcome is None):
            self._lost(client, retry, planned=round_.planned)
        elif round_.outcome is not None:  # the server answered without waiting
            self._pass_answer(client, request_id, retry["method"], round_.outcome)
        elif pending is not None:
            for key, server_id in round_.asked.items():
                self._send_upstream(result(server_id, answers[key]))
            self._requests.resume(pending, retry)
            if round_.queued:
                self._park(pending, round_.queued)

    def _lost(self, client: Client, retry: Message, *, planned: bool) -> None:
        """The retry of a call whose server ended while it was parked: the crash rules."""
        if retry["method"] in IDEMPOTENT:
            self._send_or_hold(client, retry)  # the new process may ask again
        else:
            client.send(errors.call_lost(retry["id"], self.name, planned=planned))

    def _round_expired(self, state: str) -> None:
        round_ = self._rounds.end(state, "expired")
        if round_ is not None:
            logger.info(
                "%s: client %d did not retry within %gs; its call is cancelled",
                self.name,
                round_.client.number,
                self._limits.round_s,
            )
            waited = self._limits.round_s
            self._abandon(
                round_, "the client did not retry", lambda i: errors.not_retried(i, waited)
            )

    def _abandon(self, round_: Round, reason: str, refusal: Callable[[Any], Message]) -> None:
        """Nobody will retry: the parked call is cancelled upstream, and the server's
        requests are answered with ``refusal`` (a server may not heed the cancel)."""
        if round_.lost:
            return  # gone with its server: nothing upstream waits
        if self._requests.drop(round_.upstream_id) is not None:
            cancel = {"requestId": round_.upstream_id, "reason": reason}
            self._send_upstream(notification("notifications/cancelled", cancel))
        for server_id in [*round_.asked.values(), *(m["id"] for m in round_.queued.values())]:
            self._send_upstream(refusal(server_id))
        if not self._requests:
            self.notify()  # a draining planned restart may go on

    # ----- subscriptions/listen: change notifications for 2026-07-28 clients

    def _listen(self, client: Client, message: Message) -> None:
        """Open a listen now when the server's capabilities are known (even while it is
        down: a restart replays its subscriptions), else once they are."""
        if (client, message["id"]) in self._listens:
            text = "a subscriptions/listen with this id is open already"
            client.send(errors.invalid_request(message["id"], text))
        elif self.initialize_result is None:
            self._hold(client, message)
        else:
            self._open_listen(client, message)

    async def _listen_when_known(self, client: Client, message: Message) -> None:
        problem = await self._wait_for_server()
        if problem is not None:
            client.send(errors.error_response(message["id"], *problem))
        else:
            self._open_listen(client, message)

    def _open_listen(self, client: Client, message: Message) -> None:
        """Acknowledge first (the spec's order), then subscribe upstream to what no
        one else subscribed to; a refused URI is honoured and never fires, as in the
        SDK's servers."""
        capabilities = (self.initialize_result or {}).get("capabilities")
        listen = listens.honoured(client, message, capabilities)
        self._listens.open(listen)
        client.send(listen.acknowledgement())
        for uri in sorted(listen.uris):
            if self._subscriptions.add(listen, uri) and self._usable():
                self._spawn(self._subscribe_upstream(listen, uri))

    def _end_listen(self, listen: Listen) -> None:
        """A listen ended: the server forgets what only it wanted."""
        for uri in self._subscriptions.remove_client(listen):
            self._spawn(self._unsubscribe_upstream(uri))

    async def _subscribe_upstream(self, listen: Listen, uri: str) -> None:
        session = self._session
        if session is None:
            return  # the next process gets it with the replay
        try:
            await session.request(
                "resources/subscribe", {"uri": uri}, timeout=self._limits.replay_s
            )
        except RpcError as error:
            logger.info("%s refused a subscription to %s: %s", self.name, uri, error)
            self._subscriptions.remove(listen, uri)
        except (TimeoutError, BackendClosed, ConnectionError) as error:
            logger.info("%s: subscribing to %s did not finish: %s", self.name, uri, error)

    # ----- a new process

    def _announce_list_changes(self) -> None:
        capabilities = (self.initialize_result or {}).get("capabilities") or {}
        for capability, method in LIST_CHANGED.items():
            if capability in capabilities:
                self._broadcast(notification(method))

    async def _replay(self, session: Upstream) -> None:
        """Give a fresh process the state the clients set on the old one."""
        for uri in self._subscriptions.uris():  # clients may (un)subscribe meanwhile
            await self._replay_one(session, "resources/subscribe", {"uri": uri})
        if self._log_level is not None:
            await self._replay_one(session, "logging/setLevel", {"level": self._log_level})

    async def _replay_one(self, session: Upstream, method: str, request: Message) -> None:
        try:
            await session.request(method, request, timeout=self._limits.replay_s)
        except (TimeoutError, RpcError, BackendClosed, ConnectionError) as error:
            # The restart goes on; the clients just lose this one piece of state.
            logger.warning("%s: replaying %s %s failed: %s", self.name, method, request, error)

    async def _unsubscribe_upstream(self, uri: str) -> None:
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.request(
                    "resources/unsubscribe", {"uri": uri}, timeout=self._limits.replay_s
                )

    # ----- plumbing

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
