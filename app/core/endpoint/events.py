"""What an HTTP session keeps of its SSE streams, so a broken one can be resumed.

MCP 2025-11-25, Streamable HTTP, "Resumability and Redelivery": every event
the session sends carries an id; a client whose stream broke sends a GET with
``Last-Event-ID`` and gets what followed that event on the same stream, and
nothing from any other stream. The SDK's transport stores each event here
(``EventStore``) and asks for the replay; :meth:`SessionEvents.unresumable`
lets the endpoint turn away, with an HTTP error, an id this session cannot
resume from before the transport opens a stream for it.

Ids are ``TAG.SEQ``: TAG is random per session, so an id from another session
(or an earlier run of the hub) is unknown here rather than mistaken for one of
ours; SEQ counts every event of the session, so it names one event of one
stream. Kept events are a window of the newest, oldest evicted first, bounded
by MAX_EVENTS and MAX_BYTES; an event larger than MAX_BYTES is sent but not
kept, and a resume that would need it is refused.

A resumed request stream carries on live until the request's answer and then
ends, as the POST's stream would have, or until the client cancels the request
(:meth:`SessionEvents.cancelled`), after which no answer comes; a resumed GET
stream is handed back to the transport, which goes on with it. A client that
disconnects ends its replay itself: the SDK's SSE response cancels it.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus

import anyio
from mcp.server.streamable_http import (
    GET_STREAM_KEY,
    EventCallback,
    EventId,
    EventMessage,
    EventStore,
    StreamId,
)
from mcp_types import JSONRPCError, JSONRPCMessage, JSONRPCResponse, jsonrpc_message_adapter

# A resume follows a broken connection by about RETRY_MS: what piles up meanwhile
# is a few progress and log lines and perhaps one answer. A thousand events is
# minutes of a chatty server; 4 MiB keeps a tool result of a few MiB (a file, a
# screenshot) resumable, while 256 sessions (app.core.endpoint.http.MAX_SESSIONS)
# could at worst hold 1 GiB only if every one had just sent that much.
MAX_EVENTS = 1_000
MAX_BYTES = 4 * 1024 * 1024
# Suggested to clients in each stream's first event: on the user's own machine
# a reconnect costs nothing, and the events it asks for are kept far longer.
RETRY_MS = 1_000
SEQ_DIGITS = 19  # a session would need centuries to count past them; longer is not an id


@dataclass(frozen=True)
class Unresumable:
    """Why a ``Last-Event-ID`` cannot be resumed from, as an HTTP answer."""

    status: int
    reason: str


@dataclass(frozen=True)
class _Event:
    seq: int
    stream: StreamId
    data: str | None  # the message's JSON; None: a priming event, a cancellation, or too large
    ends: bool = False  # the answer (or cancellation) that ends a request's stream
    too_large: bool = False


class SessionEvents(EventStore):
    """One HTTP session's recent events: see the module's docstring."""

    def __init__(self, *, max_events: int = MAX_EVENTS, max_bytes: int = MAX_BYTES) -> None:
        self._tag = secrets.token_hex(4)
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._events: deque[_Event] = deque()
        self._bytes = 0
        self._next_seq = 0
        self._stored = anyio.Event()  # set, and replaced, at each new event
        self._closed = False

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        data = (
            None if message is None else message.model_dump_json(by_alias=True, exclude_unset=True)
        )
        too_large = data is not None and len(data) > self._max_bytes
        ends = stream_id != GET_STREAM_KEY and isinstance(message, JSONRPCResponse | JSONRPCError)
        event = _Event(self._next_seq, stream_id, None if too_large else data, ends, too_large)
        self._keep(event)
        return self._id(event.seq)

    def cancelled(self, stream_id: StreamId) -> None:
        """The client cancelled the request of ``stream_id``: its answer will not come, so
        a replay of its stream ends here (a marker in the stream, sent to no one: a
        later request that reuses the id has a stream of its own after it)."""
        self._keep(_Event(self._next_seq, stream_id, None, ends=True))

    def _keep(self, event: _Event) -> None:
        self._next_seq += 1
        size = len(event.data or "")
        while self._events and (
            len(self._events) >= self._max_events or self._bytes + size > self._max_bytes
        ):
            self._bytes -= len(self._events.popleft().data or "")
        self._events.append(event)
        self._bytes += size
        self._stored.set()
        self._stored = anyio.Event()

    @property
    def kept_bytes(self) -> int:
        """The size of the messages kept, in characters of their JSON."""
        return self._bytes

    def close(self) -> None:
        """The session is over: resumed streams waiting for more end now."""
        self._closed = True
        self._stored.set()

    def unresumable(self, last_event_id: str) -> Unresumable | None:
        """Why the stream of ``last_event_id`` cannot go on from it (None: it can)."""
        seq = self._seq(last_event_id)
        if seq is None:
            return Unresumable(HTTPStatus.BAD_REQUEST, "No event with that Last-Event-ID was sent")
        start = self._index(seq)
        if start is None:
            return Unresumable(
                HTTPStatus.GONE,
                f"Events after that Last-Event-ID are no longer kept (the session keeps its"
                f" last {self._max_events} events, {self._max_bytes // 1024} KiB)",
            )
        stream = self._events[start].stream
        for index in range(start + 1, len(self._events)):
            event = self._events[index]
            if event.stream == stream and event.too_large:
                return Unresumable(
                    HTTPStatus.GONE,
                    f"A message after that Last-Event-ID was larger than the"
                    f" {self._max_bytes // 1024} KiB kept for resuming; send the request again",
                )
        return None

    async def replay_events_after(
        self, last_event_id: EventId, send_callback: EventCallback
    ) -> StreamId | None:
        """Send what followed ``last_event_id`` on its stream; then, for a request's
        stream, what follows live until its answer (None: the transport ends the
        response), or, for the GET stream, return it for the transport to go on."""
        seq = self._seq(last_event_id)
        start = None if seq is None else self._index(seq)
        if seq is None or start is None:
            return None  # evicted since the endpoint checked: the client's next try is refused
        stream = self._events[start].stream
        while True:
            following = self._following(stream, seq)
            if following is None:  # evicted under a slow reader, or not kept
                return None
            if not following:
                if stream == GET_STREAM_KEY:
                    return stream
                if self._closed:
                    return None
                await self._stored.wait()
                continue
            event = following[0]
            seq = event.seq
            if event.data is None:
                if event.ends:
                    return None  # the request was cancelled
                continue  # a priming event
            message = jsonrpc_message_adapter.validate_json(event.data)
            await send_callback(EventMessage(message, self._id(event.seq)))
            if event.ends:
                return None

    def _following(self, stream: StreamId, seq: int) -> list[_Event] | None:
        """The next kept event of ``stream`` after ``seq`` ([] if none yet), or None
        when what follows ``seq`` is no longer all kept."""
        start = self._index(seq + 1) if seq + 1 < self._next_seq else len(self._events)
        if start is None:
            return None
        for index in range(start, len(self._events)):
            event = self._events[index]
            if event.stream == stream:
                return None if event.too_large else [event]
        return []

    def _id(self, seq: int) -> EventId:
        return f"{self._tag}.{seq}"

    def _seq(self, event_id: str) -> int | None:
        """The sequence number of an id this session issued, or None."""
        tag, _, number = event_id.partition(".")
        well_formed = number.isascii() and number.isdigit() and len(number) <= SEQ_DIGITS
        if tag != self._tag or not well_formed or int(number) >= self._next_seq:
            return None
        return int(number)

    def _index(self, seq: int) -> int | None:
        """Where event ``seq`` is kept, or None when it has been evicted."""
        first = self._events[0].seq if self._events else self._next_seq
        return seq - first if seq >= first else None
