"""The relay's routing tables, each the only owner of its map.

* :class:`RequestTable`: client requests sent upstream and not answered yet,
  under the relay's own integer ids, and the progress tokens they carry; it
  notes how each ended in the activity record (app.core.activity), when given one;
* :class:`Subscriptions`: which clients subscribed to which resource (the
  server holds one subscription a resource, however many clients want it);
* :class:`ServerRequests`: requests the server made of a client (sampling,
  elicitation, roots), under ids the relay gave them.

None of them sends anything: they answer who is concerned, and the relay
(app.core.rpc.relay) decides what to say to whom.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.core.activity import UNKNOWN_APP, Outcome, Recorder, answer_outcome, line_outcome
from app.core.rpc.envelope import id_key, params
from app.core.rpc.framing import Message
from app.core.rpc.port import ClientOutput


class Client:
    """One attached client, as the relay routes for it."""

    def __init__(self, number: int, output: ClientOutput) -> None:
        self.number = number
        self.output = output
        self.capabilities: dict[str, Any] = {}
        # 2026-07-28 when it speaks that revision (no initialize, an envelope on
        # every request); None until its first request says so.
        self.revision: str | None = None
        self.initialized = False  # it sent initialize (or resumed after one)
        self.app = UNKNOWN_APP  # the name in its clientInfo, for the activity record
        self.in_flight: dict[Any, int] = {}  # its request id (id_key) -> upstream id
        self.held: dict[Any, asyncio.Task[None]] = {}  # requests waiting for the server
        self.last_active = time.monotonic()
        self.request_ended = asyncio.Event()  # set as each of its requests ends; cleared by waiters

    @property
    def modern(self) -> bool:
        """Whether it speaks 2026-07-28: the server's requests and broadcasts are not for it."""
        return self.revision is not None

    @property
    def owed(self) -> bool:
        """Whether some request of this client has not been answered yet."""
        return bool(self.in_flight or self.held)

    def send(self, message: Message, encoded: bytes | None = None) -> None:
        self.output.send(message, encoded)

    def send_line(self, line: bytes) -> None:
        self.output.send_line(line)


@dataclass
class Pending:
    """A client request forwarded upstream and not answered yet."""

    client: Client
    original: Message  # as the client sent it, to send again after a crash
    message: Message  # as sent upstream: the relay's id and progress token
    progress_token: int | None
    offset: int  # where it starts in the server's stdin (BackendSession.bytes_sent)
    sent_at: float = field(default_factory=time.monotonic)
    answered: bool = False  # from the cached list: the server's answer only refreshes it
    patience: asyncio.TimerHandle | None = None  # until a list is answered from the cache
    # Its client was answered input_required and has yet to retry (app.core.rpc.modern):
    # the server waits on the client, not the other way round. Parked implies answered.
    parked: bool = False

    @property
    def client_id(self) -> Any:
        return self.original["id"]


class RequestTable:
    """Requests in flight upstream, by the relay's id for them; the progress tokens
    they carry, by the relay's token for them. Ids and tokens come from one count,
    so clients whose ids or tokens collide never see each other's answers.

    With a ``recorder``, the requests that end by an answer (:meth:`ended`,
    :meth:`ended_line`), a cancel (:meth:`cancel`) or the server's end
    (:meth:`lost`) are noted in the activity record."""

    def __init__(self, recorder: Recorder | None = None) -> None:
        self._pending: dict[int, Pending] = {}
        self._progress: dict[int, tuple[Client, Any]] = {}  # upstream token -> its owner's
        self._ids = itertools.count(1)
        self._recorder = recorder

    def __bool__(self) -> bool:
        return bool(self._pending)

    def __contains__(self, upstream_id: int) -> bool:
        return upstream_id in self._pending

    def get(self, upstream_id: int) -> Pending | None:
        return self._pending.get(upstream_id)

    def waiting_since(self) -> float | None:
        waiting = (p.sent_at for p in self._pending.values() if not p.parked)
        return min(waiting, default=None)

    def pending(self) -> list[Pending]:
        return list(self._pending.values())

    def register(self, client: Client, message: Message, offset: int) -> Pending:
        """Give a client's request its upstream id (and token), and keep it until answered."""
        upstream_id = next(self._ids)
        outgoing = {**message, "id": upstream_id}
        token = self._rewrite_progress(client, outgoing)
        pending = Pending(client, message, outgoing, token, offset)
        self._pending[upstream_id] = pending
        client.in_flight[id_key(message["id"])] = upstream_id
        return pending

    def answered_early(self, pending: Pending) -> None:
        """The client has its answer (a cached list); the server's, when it comes, is not
        passed on, and the client may use the id again."""
        pending.answered = True
        pending.client.in_flight.pop(id_key(pending.client_id), None)
        pending.client.request_ended.set()

    def park(self, pending: Pending) -> None:
        """Its client has an input_required answer; its retry will resume it."""
        self.answered_early(pending)
        pending.parked = True

    def resume(self, pending: Pending, retry: Message) -> None:
        """A parked request goes on as ``retry`` (the client's new id and progress token)."""
        pending.original, pending.answered, pending.parked = retry, False, False
        pending.sent_at = time.monotonic()  # the server has the answer it waited for now
        pending.client.in_flight[id_key(retry["id"])] = pending.message["id"]
        meta = params(retry).get("_meta")
        if (
            pending.progress_token is not None
            and isinstance(meta, dict)
            and "progressToken" in meta
        ):
            self._progress[pending.progress_token] = (pending.client, meta["progressToken"])

    def drop(self, upstream_id: int) -> Pending | None:
        pending = self._pending.pop(upstream_id, None)
        if pending is not None:
            if not pending.answered:
                pending.client.in_flight.pop(id_key(pending.client_id), None)
                pending.client.request_ended.set()
            if pending.progress_token is not None:
                self._progress.pop(pending.progress_token, None)
            if pending.patience is not None:
                pending.patience.cancel()
        return pending

    def drop_all(self) -> list[Pending]:
        """Every request in flight, forgotten (its server is gone), oldest first."""
        return [
            pending for upstream_id in list(self._pending) if (pending := self.drop(upstream_id))
        ]

    def cancel(self, client: Client, request_id: Any) -> int | None:
        """Forget a request the client withdrew; the upstream id it had, if in flight."""
        upstream_id = client.in_flight.pop(id_key(request_id), None)
        if upstream_id is not None:
            pending = self.drop(upstream_id)
            if pending is not None and self._recorder is not None:
                self._record(pending, Outcome.CANCELLED)
        return upstream_id

    def ended(self, pending: Pending, answer: Message) -> None:
        """The server answered ``pending`` (dropped already) with ``answer``, parsed."""
        if self._recorder is not None:
            self._record(pending, *answer_outcome(answer))

    def ended_line(self, pending: Pending, raw: bytes) -> None:
        """The same for an answer passed on unparsed (Relay.server_line)."""
        if self._recorder is not None:
            self._record(pending, *line_outcome(raw))

    def lost(self, pending: Pending, *, planned: bool) -> None:
        """The server ended during ``pending``, which is not repeated (its app got -31001)."""
        if self._recorder is not None:
            self._record(pending, Outcome.INTERRUPTED if planned else Outcome.CRASHED)

    def _record(self, pending: Pending, outcome: Outcome, code: int | None = None) -> None:
        assert self._recorder is not None
        method = pending.message["method"]
        tool = params(pending.message).get("name") if method == "tools/call" else None
        self._recorder.ended(
            sent_at=pending.sent_at,
            app=pending.client.app,
            method=method,
            tool=tool if isinstance(tool, str) else None,
            outcome=outcome,
            code=code,
        )

    def progress_owner(self, token: Any) -> tuple[Client, Any] | None:
        """The client that asked for progress under the relay's ``token``, and its own token."""
        return self._progress.get(token) if isinstance(token, int) else None

    def _rewrite_progress(self, client: Client, outgoing: Message) -> int | None:
        request_params = params(outgoing)
        meta = request_params.get("_meta")
        if not isinstance(meta, dict) or "progressToken" not in meta:
            return None
        token = next(self._ids)
        self._progress[token] = (client, meta["progressToken"])
        outgoing["params"] = {**request_params, "_meta": {**meta, "progressToken": token}}
        return token


class Subscriptions:
    """Resource uri -> who subscribed to it: a handshake-era client by its number, a
    2026-07-28 client's listen by itself (app.core.rpc.listens)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Hashable]] = {}

    def uris(self) -> list[str]:
        return list(self._subscribers)

    def subscribers(self, uri: str) -> Iterable[Hashable]:
        return list(self._subscribers.get(uri, ()))

    def add(self, number: Hashable, uri: str) -> bool:
        """Whether this is the resource's first subscriber (so the server must hear of it)."""
        subscribers = self._subscribers.setdefault(uri, set())
        first = not subscribers
        subscribers.add(number)
        return first

    def remove(self, number: Hashable, uri: str) -> bool:
        """Whether this was the resource's last subscriber (so the server must hear of it)."""
        subscribers = self._subscribers.get(uri, set())
        if number not in subscribers:
            return False
        subscribers.discard(number)
        if subscribers:
            return False
        del self._subscribers[uri]
        return True

    def remove_client(self, number: Hashable) -> list[str]:
        """Drop a subscriber's subscriptions; the resources nobody subscribes to any more."""
        return [uri for uri in self.uris() if self.remove(number, uri)]


class ServerRequests:
    """Requests the server made of clients: the relay's id for each -> (client, server's id).

    The relay's ids (``NAME-N``) are strings no client request could have made
    the server send, and unique across the relay's life."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._routes: dict[str, tuple[Client, Any]] = {}
        self._ids = itertools.count(1)

    def add(self, client: Client, server_id: Any) -> str:
        key = f"{self._name}-{next(self._ids)}"
        self._routes[key] = (client, server_id)
        return key

    def answered(self, client: Client, key: str) -> tuple[bool, Any]:
        """(True, the server's id) when ``client`` was asked ``key``; nobody else may answer."""
        routed = self._routes.get(key)
        if routed is None or routed[0] is not client:
            return False, None
        del self._routes[key]
        return True, routed[1]

    def withdrawn(self, server_id: Any) -> list[tuple[Client, str]]:
        """The server cancelled its request: who was asked it, and under which id."""
        found = [(client, key) for key, (client, sid) in self._routes.items() if sid == server_id]
        for _, key in found:
            del self._routes[key]
        return found

    def remove_client(self, client: Client) -> list[Any]:
        """Forget what ``client`` was asked; the server's ids, which it must not wait on."""
        found = [key for key, (owner, _) in self._routes.items() if owner is client]
        return [self._routes.pop(key)[1] for key in found]

    def clear(self) -> None:
        self._routes.clear()
