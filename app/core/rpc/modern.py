"""Clients of spec revision 2026-07-28, relayed to servers of the handshake era.

A 2026-07-28 client sends no ``initialize``: it may ask ``server/discover``
first, and every request carries its own envelope in ``params._meta``
(protocol version, client capabilities, optionally client info and a log
level). The hub keeps speaking to each server in the revision it negotiated
at ``initialize``, so the relay answers discovery from that handshake and
takes the envelope off before a request goes upstream: a handshake-era
server already knows the hub's version and capabilities, and must refuse a
request carrying the envelope on a handshake connection (the ``mcp`` SDK's
server does, with -32600). Everything else in ``_meta`` (``progressToken``,
vendor keys) is kept, as such a server uses it.

What the relay cannot bridge is refused with a message naming it; the README's
table "2026-07-28 through MCP Tray" sums it up. ``subscriptions/listen`` is the
relay's own (app.core.rpc.listens). Everything here is pure but the table of rounds, below.

Multi-round-trip requests (the table of rounds, :class:`Rounds`) are made of a
handshake-era server's own requests:
such a server asks its client for sampling, elicitation or roots with
a request of its own while a call runs. A 2026-07-28 client takes no requests:
the server's request is put in an ``input_required`` result of the client's
call, the call waits upstream (parked), and the client retries the call with
its answers and the opaque ``requestState`` it was given. Each such leg is a
:class:`Round`, kept here under its state: a random token bound to the client
it was given to, good for one retry and for ``Limits.round_s``, until its client
cancels the call, or while newer rounds do not crowd it out (ROUNDS_PER_CLIENT,
ROUNDS_PER_RELAY).

A token that is spent, expired or never was is refused with -32602 saying
which (tokens of other clients are "unknown": a client learns nothing of them).
Like the other routing tables, this one sends nothing: the relay does
(app.core.rpc.relay).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import secrets
from dataclasses import dataclass, field
from typing import Any

from app.core.rpc import errors
from app.core.rpc.envelope import id_key, params
from app.core.rpc.framing import Message
from app.core.rpc.routing import Client

MODERN_REVISIONS = ("2026-07-28",)  # revisions whose requests carry their own envelope
PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
_ENVELOPE_KEYS = (PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY, LOG_LEVEL_KEY)
# Handshake-era methods that 2026-07-28 removed: such a request has no meaning there.
REMOVED = {
    "logging/setLevel": "log levels are asked per request at 2026-07-28",
    "resources/subscribe": "2026-07-28 subscribes with subscriptions/listen",
    "resources/unsubscribe": "2026-07-28 subscribes with subscriptions/listen",
}
# The 2025-era capabilities a 2026 client is shown, with their flags: what ``listChanged``
# and ``subscribe`` promise comes on a subscriptions/listen (app.core.rpc.listens).
# Not ``logging``: a handshake-era server's log messages name no request, and at
# 2026-07-28 each goes to the request that asked for it.
_SHOWN = ("completions", "experimental", "prompts", "resources", "tools")
# How long a client may keep an answer to discovery or a list: not at all, as the SDK's
# own servers say by default. A listener is told of changes, but a result cannot be
# taken back when its listen ends, and a client that does not listen is told nothing;
# a list asked again is answered by the relay's copy if the server is slow. And only
# for this user (the hub is per user).
TTL_MS = 0
CACHE_SCOPE = "private"
# Whose 2026-07-28 results say how long they may be kept (ttlMs, cacheScope).
CACHEABLE = frozenset(
    {"tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read"}
)


def envelope(message: Message) -> dict[str, Any] | None:
    """The 2026-07-28 envelope of a request, or None for a handshake-era request.
    The protocol-version key alone marks it (as in the SDK's server): a bare
    ``_meta`` is no sign, handshake-era requests carry their progress token there."""
    meta = params(message).get("_meta")
    if isinstance(meta, dict) and PROTOCOL_VERSION_KEY in meta:
        return meta
    return None


def refusal(
    request_id: Any, method: str, meta: dict[str, Any], also: tuple[str, ...]
) -> Message | None:
    """The error for an enveloped request the relay cannot take, or None. ``also``: the
    handshake-era revisions, named with the modern ones when the version is refused, so
    a dual-era client falls back to ``initialize``."""
    missing = [key for key in (PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY) if key not in meta]
    if missing:
        text = f"params._meta is missing the required envelope key(s): {', '.join(missing)}"
        return errors.error_response(request_id, errors.INVALID_PARAMS, text)
    asked = meta[PROTOCOL_VERSION_KEY]
    if asked not in MODERN_REVISIONS:
        supported = [*also, *MODERN_REVISIONS]
        text = f"protocol version {asked!r} is not supported; supported: {', '.join(supported)}"
        data = {"supported": supported, "requested": asked}
        return errors.error_response(
            request_id, errors.UNSUPPORTED_PROTOCOL_VERSION, text, data=data
        )
    if method in REMOVED:
        text = f"{method} does not exist at {asked}: {REMOVED[method]}"
        return errors.error_response(request_id, errors.METHOD_NOT_FOUND, text)
    return None


def without_envelope(message: Message) -> Message:
    """The request as a handshake-era server takes it: its ``_meta`` without the
    envelope keys (and without ``_meta`` when nothing else was in it)."""
    request_params = dict(params(message))
    meta = {k: v for k, v in request_params.pop("_meta").items() if k not in _ENVELOPE_KEYS}
    if meta:
        request_params["_meta"] = meta
    stripped = {**message, "params": request_params}
    if not request_params:
        del stripped["params"]
    return stripped


def completed(method: str, value: Any) -> Any:
    """A handshake-era server's result as 2026-07-28 requires it: with ``resultType``
    (a handshake-era result is always complete) and, for what clients may cache, how long."""
    if not isinstance(value, dict):
        return value
    done = {"resultType": "complete", **value}
    if method in CACHEABLE:
        done = {"ttlMs": TTL_MS, "cacheScope": CACHE_SCOPE, **done}
    return done


def capabilities(meta: dict[str, Any]) -> dict[str, Any]:
    """The client capabilities an envelope declares."""
    declared = meta.get(CLIENT_CAPABILITIES_KEY)
    return declared if isinstance(declared, dict) else {}


def discover_result(handshake: dict[str, Any]) -> dict[str, Any]:
    """A server's ``initialize`` answer as the 2026-07-28 ``server/discover`` answer."""
    found: dict[str, Any] = {
        "supportedVersions": list(MODERN_REVISIONS),
        "capabilities": _modern_capabilities(handshake.get("capabilities")),
        "resultType": "complete",
        "ttlMs": TTL_MS,
        "cacheScope": CACHE_SCOPE,
    }
    if isinstance(handshake.get("instructions"), str):
        found["instructions"] = handshake["instructions"]
    if isinstance(handshake.get("serverInfo"), dict):
        found["_meta"] = {SERVER_INFO_KEY: handshake["serverInfo"]}
    return found


def _modern_capabilities(declared: Any) -> dict[str, Any]:
    if not isinstance(declared, dict):
        return {}
    shown: dict[str, Any] = {}
    for name in _SHOWN:
        value = declared.get(name)
        if isinstance(value, dict):
            shown[name] = dict(value)
    return shown


# ----- multi-round-trip requests

# The requests a 2026-07-28 client may be answered ``input_required`` on (its SDK's
# INPUT_REQUIRED_METHODS): the server's requests during others cannot be bridged.
CARRIERS = frozenset({"tools/call", "prompts/get", "resources/read"})
# What the client adds to a retry, for the relay alone: the server never sees them.
RETRY_KEYS = ("inputResponses", "requestState")
STATE_BYTES = 32  # of randomness in a requestState: unguessable, as the spec requires
# Spent and expired tokens remembered, to refuse a replay by name rather than as unknown.
REMEMBERED = 1_000
# Rounds waiting for a retry, at most; beyond, the oldest is abandoned (its call
# cancelled upstream, the server's requests refused). Each holds a call open in the
# server for up to Limits.round_s, and a client that drops its input_required answers
# (a form closed unanswered, an agent that gave up) would otherwise pile them up: per
# client, more than a person answers at once; per relay, a bound on what one server keeps
# suspended for all its clients.
ROUNDS_PER_CLIENT = 16
ROUNDS_PER_RELAY = 256


@dataclass
class Round:
    """One ``input_required`` answer given to a client, waiting for its retry."""

    client: Client
    call_id: Any  # the call's id as its client sent it, which a cancel names
    upstream_id: int  # the call that waits upstream, parked
    request: Message  # the call as the server has it, to check the retry against
    asked: dict[str, Any]  # input key -> the server's own request id, shown to the client
    queued: dict[str, Message] = field(default_factory=dict)  # asked by the server since
    outcome: Message | None = None  # the server's answer, when it came while parked
    lost: bool = False  # the server ended meanwhile
    planned: bool = False  # ... in a planned restart
    timer: asyncio.TimerHandle | None = None


def identity(message: Message) -> tuple[Any, ...]:
    """What a retry must repeat of its call: the method, its target and arguments."""
    given = params(message)
    return message.get("method"), given.get("name"), given.get("uri"), given.get("arguments")


def without_retry_keys(message: Message) -> Message:
    """A retry as the server takes it: the call it repeats, without what is the relay's."""
    given = {k: v for k, v in params(message).items() if k not in RETRY_KEYS}
    return {**message, "params": given}


def input_required(request_id: Any, asked: dict[str, Message], state: str) -> Message:
    """The 2026-07-28 ``InputRequiredResult`` carrying the server's requests."""
    requests = {key: {"method": m["method"], "params": params(m)} for key, m in asked.items()}
    value = {"resultType": "input_required", "inputRequests": requests, "requestState": state}
    return {"jsonrpc": "2.0", "id": request_id, "result": value}


def bad_state(request_id: Any, reason: str, text: str) -> Message:
    """A retry the relay refuses; ``reason`` as the SDK's servers name theirs."""
    return errors.error_response(request_id, errors.INVALID_PARAMS, text, data={"reason": reason})


def mismatch(round_: Round, retry: Message, answers: dict[str, Any]) -> tuple[str, str] | None:
    """Why ``retry`` cannot resume ``round_`` (a reason and a sentence), or None."""
    if identity(retry) != identity(round_.request):
        method, name, uri, _ = identity(round_.request)
        return "request_mismatch", (
            f"this requestState belongs to {method} of {name or uri!r} with the same "
            "arguments; retry that request"
        )
    missing = [key for key in round_.asked if key not in answers]
    if missing and not round_.lost and round_.outcome is None:
        return "missing_input_responses", f"inputResponses has no answer to {', '.join(missing)}"
    return None


class Rounds:
    """The rounds waiting for a retry, by their state; and recently ended ones."""

    def __init__(self) -> None:
        self._waiting: dict[str, Round] = {}
        self._ended: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._keys = itertools.count(1)

    def __iter__(self) -> Any:
        return iter(list(self._waiting.values()))

    def key(self) -> str:
        """A fresh input key (keys are the asking side's to choose)."""
        return f"input-{next(self._keys)}"

    def open(self, round_: Round) -> str:
        state = secrets.token_urlsafe(STATE_BYTES)
        self._waiting[state] = round_
        return state

    def issued(self, state: Any) -> bool:
        """Whether ``state`` is one of the relay's (waiting, or ended lately)."""
        return isinstance(state, str) and (state in self._waiting or state in self._ended)

    def parked(self, upstream_id: int) -> Round | None:
        """The round whose call waits upstream under ``upstream_id``."""
        return next((r for r in self._waiting.values() if r.upstream_id == upstream_id), None)

    def of_call(self, client: Client, call_id: Any) -> str | None:
        """The state of the round of ``client``'s call ``call_id``, if one waits."""
        key = id_key(call_id)
        mine = (s for s, r in self._waiting.items() if r.client is client)
        return next((s for s in mine if id_key(self._waiting[s].call_id) == key), None)

    def crowded(self, client: Client) -> list[tuple[str, int]]:
        """The rounds beyond the caps once ``client`` opens one more, oldest first: each
        state with the cap it exceeds."""
        mine = self.of_client(client)
        evicted = mine[: max(0, len(mine) + 1 - ROUNDS_PER_CLIENT)]
        rest = [s for s in self._waiting if s not in evicted]
        over = [(s, ROUNDS_PER_CLIENT) for s in evicted]
        over += [(s, ROUNDS_PER_RELAY) for s in rest[: max(0, len(rest) + 1 - ROUNDS_PER_RELAY)]]
        return over

    def find(self, client: Client, state: Any) -> tuple[Round | None, str, str]:
        """The round ``client`` may retry with ``state``; else None, a reason and why."""
        round_ = self._waiting.get(state) if isinstance(state, str) else None
        if round_ is not None and round_.client is client:
            return round_, "", ""
        ended = self._ended.get(state) if isinstance(state, str) else None
        if ended == "spent":
            return None, "replayed_request_state", "this requestState was used already"
        if ended == "expired":
            return None, "expired_request_state", "this requestState expired"
        if ended == "cancelled":
            return None, "unknown_request_state", "this requestState's call was cancelled"
        return None, "unknown_request_state", "this requestState was not issued to this client"

    def end(self, state: str, how: str) -> Round | None:
        """Forget a round (``how``: "spent", "expired" or "cancelled", as a later retry
        is told)."""
        round_ = self._waiting.pop(state, None)
        if round_ is not None and round_.timer is not None:
            round_.timer.cancel()
        self._ended[state] = how
        while len(self._ended) > REMEMBERED:
            self._ended.popitem(last=False)
        return round_

    def state_of(self, round_: Round) -> str | None:
        return next((s for s, r in self._waiting.items() if r is round_), None)

    def of_client(self, client: Client) -> list[str]:
        return [state for state, r in self._waiting.items() if r.client is client]

    def withdrawn(self, server_id: Any) -> None:
        """The server cancelled its request: no answer to it is passed on."""
        for round_ in self._waiting.values():
            round_.asked = {k: v for k, v in round_.asked.items() if v != server_id}
            round_.queued = {k: m for k, m in round_.queued.items() if m["id"] != server_id}

    def server_ended(self, *, planned: bool) -> None:
        """Calls parked are gone with their server; each retry learns it."""
        for round_ in self._waiting.values():
            round_.lost, round_.planned = True, planned
