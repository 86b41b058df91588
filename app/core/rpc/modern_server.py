"""A server of spec revision 2026-07-28, seen by the relay as one of the handshake era.

The hub speaks 2026-07-28 to a server that refuses the handshake and answers
``server/discover``, and to one whose config says ``"protocolVersion":
"2026-07-28"`` (app.core.rpc.backend). Not to every server that speaks both:
the era of a connection decides what the server's tools may do, for every
app, and most servers today ask the client (sampling, elicitation) with
requests of their own, which a 2026-07-28 connection has no way to carry
(the SDK refuses them: "no back-channel for server-initiated requests");
spoken to at the handshake era, those work for apps of both eras (the relay
bridges them for 2026-07-28 apps), and only tools that answer
``input_required`` by hand need the new era.

The relay stays as it is for every server; this layer, between it and the
server's pipes, translates where the eras differ:

- There is no handshake: the discovery answer stands for the ``initialize``
  answer the relay shows clients.
- Every request carries its envelope in ``params._meta``. A 2026-07-28
  client's request keeps its own (``native``); any other gets one made of
  the requesting client's capabilities, MCP Tray's name and the log level
  last set.
- ``logging/setLevel`` is answered here; the level goes with each request
  after it. ``resources/subscribe`` and ``unsubscribe`` are answered here
  too: the URIs, with the list changes, are asked for on one
  ``subscriptions/listen`` the hub keeps open (opened again, then the old one
  cancelled, as the URIs change), and what it hears reaches the relay as a
  handshake-era server would send it.
- A request of a handshake-era client answered ``input_required``: the
  server's requests in the answer go to the relay as the server's own
  requests (ids ``tray-ask-N``), which it routes to a client as ever; once
  all are answered, the request is sent again with the answers and the
  server's ``requestState``, under an id of its own (``tray-retry-N``), and
  the final answer goes back under the original id. The relay asks the
  client whose request it is (``asked_for``), never another. After
  MAX_ROUNDS rounds (the SDK's client gives up after as many) the request
  fails: a server that asks without end is not retried for ever. A
  2026-07-28 client's request gets ``input_required`` as it is: the client
  retries itself.
- 2026-only fields of results (``resultType``, ``ttlMs``, ``cacheScope``, the
  ``serverInfo`` stamp) are taken out of answers to handshake-era requests;
  the relay adds its own for 2026 clients.

Health: ``ping`` is gone at 2026-07-28; the hub pings with ``server/discover``.
"""

from __future__ import annotations

import collections
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app import __version__
from app.core.rpc import errors
from app.core.rpc.envelope import id_key, params
from app.core.rpc.framing import Message
from app.core.rpc.listens import SUBSCRIPTION_ID_KEY
from app.core.rpc.modern import (
    CARRIERS,
    CLIENT_CAPABILITIES_KEY,
    CLIENT_INFO_KEY,
    LOG_LEVEL_KEY,
    MODERN_REVISIONS,
    PROTOCOL_VERSION_KEY,
    SERVER_INFO_KEY,
    envelope,
)

logger = logging.getLogger(__name__)

REVISION = MODERN_REVISIONS[-1]
# Fields a 2026-07-28 result has that a handshake-era one has not.
_MODERN_FIELDS = ("resultType", "ttlMs", "cacheScope")
_ANSWERED_HERE = frozenset({"logging/setLevel", "resources/subscribe", "resources/unsubscribe"})
# input_required rounds of one request before it fails, as the SDK's client counts them.
MAX_ROUNDS = 10
_ASK_PREFIX = "tray-ask-"  # the ids of the server's requests of an input_required
# Listens the server ends in a row, with nothing heard on them, before the hub stops
# opening them again (until a subscription changes): a server that ends every listen
# at once is not asked again for ever.
MAX_RELISTENS = 3
# Listens cancelled lately whose notifications are still taken: sent before the
# server read the cancel, they are news all the same.
_ENDING_LISTENS = 4


def own_envelope(capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
    """The envelope of a request MCP Tray makes itself, or makes for a handshake-era
    client with ``capabilities``."""
    return {
        PROTOCOL_VERSION_KEY: REVISION,
        CLIENT_CAPABILITIES_KEY: capabilities or {},
        CLIENT_INFO_KEY: {"name": "mcp-tray", "version": __version__},
    }


def speaks_modern(found: dict[str, Any]) -> bool:
    """Whether a ``server/discover`` answer names a revision MCP Tray speaks."""
    versions = found.get("supportedVersions")
    return isinstance(versions, list) and REVISION in versions


def handshake_of(found: dict[str, Any], *, protocol_version: str) -> dict[str, Any]:
    """A ``server/discover`` answer as the ``initialize`` answer the relay shows clients."""
    capabilities = found.get("capabilities")
    meta = found.get("_meta")
    info = meta.get(SERVER_INFO_KEY) if isinstance(meta, dict) else None
    handshake: dict[str, Any] = {
        "protocolVersion": protocol_version,
        "capabilities": capabilities if isinstance(capabilities, dict) else {},
        "serverInfo": info if isinstance(info, dict) else {"name": "unknown", "version": ""},
    }
    if isinstance(found.get("instructions"), str):
        handshake["instructions"] = found["instructions"]
    return handshake


@dataclass
class _Round:
    """The server's requests of one ``input_required`` answer, on their way to a client."""

    request: Message  # as it was last sent upstream
    relay_id: Any  # the id the relay knows it by
    state: Any  # the server's requestState, sent back as it was
    asked: dict[str, str] = field(default_factory=dict)  # ask id -> the server's input key
    answers: dict[str, Any] = field(default_factory=dict)  # input key -> the client's result


class ModernServer:
    """Translation both ways for one server process that speaks 2026-07-28.

    ``write`` puts a message on the server's input; ``deliver`` hands one to
    the session as if the server had written it (answers made here, and the
    server's requests of an ``input_required``).
    """

    def __init__(
        self,
        found: dict[str, Any],
        *,
        name: str,
        write: Callable[[Message], None],
        deliver: Callable[[Message], None],
    ) -> None:
        self.name = name
        self.revision = REVISION
        capabilities = found.get("capabilities")
        self._capabilities: dict[str, Any] = capabilities if isinstance(capabilities, dict) else {}
        self._write = write
        self._deliver = deliver
        self._ids = itertools.count(1)
        self._log_level: str | None = None
        self._uris: set[str] = set()
        self._listens: set[str] = set()  # ids of the hub's open listens
        self._ending: collections.deque[str] = collections.deque(maxlen=_ENDING_LISTENS)
        self._relistens = 0  # listens the server ended since it last told one anything
        self._carried: dict[Any, tuple[Message, bool]] = {}  # upstream id -> (sent, native)
        self._retries: dict[str, Any] = {}  # retry id -> the relay's id
        self._upstream_of: dict[Any, str] = {}  # the relay's id (key) -> its retry's id
        self._asks: dict[str, _Round] = {}  # ask id -> its round
        self._rounds: dict[Any, _Round] = {}  # the relay's id (key) -> round being answered
        self._rounds_taken: dict[Any, int] = {}  # the relay's id (key) -> rounds so far
        self._ask_owners: dict[str, Any] = {}  # ask id -> the relay's id, until it asks

    def start(self) -> None:
        """Listen for what the server announces (its list changes)."""
        self._listen()

    def asked_for(self, ask_id: Any) -> Any | None:
        """The relay's id of the request a server's request (``tray-ask-N``) is asked
        for; None for a request the server made of its own. Told once, as the ask
        reaches the relay: the round may have ended since (the relay then refuses
        the ask, and the refusal is dropped here), yet it is still no other's."""
        return self._ask_owners.pop(ask_id, None) if isinstance(ask_id, str) else None

    # ----- from the relay (or the hub) to the server

    def send(self, message: Message, capabilities: dict[str, Any] | None = None) -> None:
        """``capabilities``: those of the client the request is made for."""
        method = message.get("method")
        if method is None:
            self._client_answer(message)
        elif "id" not in message:
            self._notification(message)
        elif method in _ANSWERED_HERE:
            self._answer_here(message)
        else:
            self._request(message, capabilities)

    def _request(self, message: Message, capabilities: dict[str, Any] | None) -> None:
        native = envelope(message) is not None
        outgoing = _without_log_level(message) if native else self._enveloped(message, capabilities)
        if message["method"] in CARRIERS:
            self._carried[id_key(message["id"])] = (outgoing, native)
        self._write(outgoing)

    def _enveloped(self, message: Message, capabilities: dict[str, Any] | None) -> Message:
        request_params = params(message)
        given = request_params.get("_meta")
        meta = {**(given if isinstance(given, dict) else {}), **own_envelope(capabilities)}
        if self._log_level is not None:
            meta[LOG_LEVEL_KEY] = self._log_level
        return {**message, "params": {**request_params, "_meta": meta}}

    def _notification(self, message: Message) -> None:
        method = message["method"]
        if method == "notifications/initialized":
            return  # there was no handshake
        if method == "notifications/cancelled":
            cancelled = id_key(params(message).get("requestId"))
            self._rounds_taken.pop(cancelled, None)
            self._carried.pop(cancelled, None)
            if (round_ := self._rounds.pop(cancelled, None)) is not None:
                self._withdraw(round_)  # nothing waits upstream: the server answered it
                return
            if (retry_id := self._upstream_of.pop(cancelled, None)) is not None:
                # A late answer to the retry finds nothing and is dropped by the relay.
                self._retries.pop(retry_id, None)
                self._carried.pop(id_key(retry_id), None)
                message = {**message, "params": {**params(message), "requestId": retry_id}}
        self._write(message)

    def _answer_here(self, message: Message) -> None:
        method, asked = message["method"], params(message)
        if method == "logging/setLevel" and isinstance(asked.get("level"), str):
            self._log_level = asked["level"]
        elif method in ("resources/subscribe", "resources/unsubscribe"):
            resources = self._capabilities.get("resources")
            if not (isinstance(resources, dict) and resources.get("subscribe")):
                text = f"{self.name} does not take resource subscriptions"
                self._deliver(errors.error_response(message["id"], errors.METHOD_NOT_FOUND, text))
                return
            uri = asked.get("uri")
            if isinstance(uri, str):
                (self._uris.add if method == "resources/subscribe" else self._uris.discard)(uri)
                self._listen()
        self._deliver({"jsonrpc": "2.0", "id": message["id"], "result": {}})

    def _client_answer(self, message: Message) -> None:
        """A client answered one of the server's own requests, or one of an
        ``input_required`` (an ask: it stays here)."""
        ask_id = message.get("id")
        if not (isinstance(ask_id, str) and ask_id.startswith(_ASK_PREFIX)):
            self._write(message)  # the server asked it during a request, over stdio
            return
        if (round_ := self._asks.pop(ask_id, None)) is None:
            return  # its round ended (cancelled, or another ask failed)
        key = round_.asked.pop(ask_id)
        if "error" in message:
            self._give_up(round_, key, message["error"])
        else:
            round_.answers[key] = message.get("result")
            if not round_.asked:
                self._retry(round_)

    # ----- from the server to the relay

    def received(self, message: Message) -> Message | None:
        """The server's message as the relay takes it; None when it is answered here."""
        if "method" in message:
            return self._server_notification(message) if "id" not in message else message
        message_id = message.get("id")
        if isinstance(message_id, str) and message_id in self._listens:
            self._listen_ended(message_id, message)
            return None
        if isinstance(message_id, str) and message_id in self._retries:
            relay_id = self._retries.pop(message_id)
            self._upstream_of.pop(id_key(relay_id), None)
            message = {**message, "id": relay_id}
        sent, native = self._carried.pop(id_key(message_id), (None, False))
        answer = message.get("result")
        if isinstance(answer, dict) and answer.get("resultType") == "input_required":
            if native:
                return message  # a 2026-07-28 client retries itself
            if sent is not None:
                self._ask(sent, message["id"], answer)
                return None
        self._rounds_taken.pop(id_key(message.get("id")), None)
        if not isinstance(answer, dict):
            return message
        return {**message, "result": _handshake_era(answer)}

    def _server_notification(self, message: Message) -> Message | None:
        if message["method"] == "notifications/subscriptions/acknowledged":
            return None
        meta = params(message).get("_meta")
        if not isinstance(meta, dict) or meta.get(SUBSCRIPTION_ID_KEY) is None:
            return message
        listen_id = meta[SUBSCRIPTION_ID_KEY]
        if not isinstance(listen_id, str) or not (
            listen_id in self._listens or listen_id in self._ending
        ):
            return None  # of a listen ended long since, or not the hub's
        self._relistens = 0
        rest = {k: v for k, v in meta.items() if k != SUBSCRIPTION_ID_KEY}
        notification_params = {k: v for k, v in params(message).items() if k != "_meta"}
        if rest:
            notification_params["_meta"] = rest
        return {"jsonrpc": "2.0", "method": message["method"], "params": notification_params}

    # ----- input_required for a handshake-era client's request

    def _ask(self, sent: Message, relay_id: Any, answer: dict[str, Any]) -> None:
        taken = self._rounds_taken.get(id_key(relay_id), 0) + 1
        if taken > MAX_ROUNDS:
            self._rounds_taken.pop(id_key(relay_id))
            why = f"it still asked for more after {MAX_ROUNDS} rounds of answers"
            self._deliver(errors.not_asked(relay_id, why))
            return
        self._rounds_taken[id_key(relay_id)] = taken
        round_ = _Round(sent, relay_id, answer.get("requestState"))
        asked = answer.get("inputRequests")
        if asked is not None and not isinstance(asked, dict):
            self._rounds_taken.pop(id_key(relay_id))
            self._deliver(errors.not_asked(relay_id, "its inputRequests are not an object"))
            return
        self._rounds[id_key(relay_id)] = round_
        for key, request in (asked or {}).items():
            if not _is_request(request):
                self._rounds.pop(id_key(relay_id))
                self._rounds_taken.pop(id_key(relay_id))
                self._withdraw(round_)
                self._deliver(
                    errors.not_asked(relay_id, f"its input request {key!r} is not a request")
                )
                return
            ask_id = f"{_ASK_PREFIX}{next(self._ids)}"
            round_.asked[ask_id] = key
            self._asks[ask_id] = round_
            self._ask_owners[ask_id] = relay_id
        for ask_id, key in list(round_.asked.items()):
            request = asked[key] if asked else {}
            self._deliver(
                {
                    "jsonrpc": "2.0",
                    "id": ask_id,
                    "method": request["method"],
                    "params": request.get("params") or {},
                }
            )
        if not round_.asked:
            self._retry(round_)  # state alone: the server wants the request again

    def _retry(self, round_: _Round) -> None:
        self._rounds.pop(id_key(round_.relay_id), None)
        retry_id = f"tray-retry-{next(self._ids)}"
        retry_params = {**params(round_.request), "inputResponses": round_.answers}
        if round_.state is not None:
            retry_params["requestState"] = round_.state
        elif "requestState" in retry_params:
            del retry_params["requestState"]
        retry = {**round_.request, "id": retry_id, "params": retry_params}
        self._retries[retry_id] = round_.relay_id
        self._upstream_of[id_key(round_.relay_id)] = retry_id
        self._carried[id_key(retry_id)] = (retry, False)
        self._write(retry)

    def _give_up(self, round_: _Round, key: str, error: Any) -> None:
        """The client refused the server's request, or the relay could not ask it: the
        request fails with their words."""
        self._rounds.pop(id_key(round_.relay_id), None)
        self._rounds_taken.pop(id_key(round_.relay_id), None)
        self._withdraw(round_)
        text = error.get("message") if isinstance(error, dict) else None
        why = f"input {key!r} was not given: {text or 'no reason given'}"
        self._deliver(errors.not_asked(round_.relay_id, why))

    def _withdraw(self, round_: _Round) -> None:
        """Take back the round's requests still waiting for a client."""
        for ask_id in list(round_.asked):
            self._asks.pop(ask_id, None)
            self._deliver(
                {
                    "jsonrpc": "2.0",
                    "method": "notifications/cancelled",
                    "params": {"requestId": ask_id, "reason": "the request ended"},
                }
            )
        round_.asked.clear()

    # ----- the hub's listen for the server's announcements

    def _listen(self) -> None:
        """Open a listen for what is wanted now, then cancel the one before (both open a
        moment: a change is told twice rather than missed)."""
        wanted = self._wanted()
        old = set(self._listens)
        if wanted:
            listen_id = f"tray-listen-{next(self._ids)}"
            self._listens.add(listen_id)
            listen_params = {"notifications": wanted, "_meta": own_envelope()}
            self._write(
                {
                    "jsonrpc": "2.0",
                    "id": listen_id,
                    "method": "subscriptions/listen",
                    "params": listen_params,
                }
            )
        for listen_id in old:
            self._listens.discard(listen_id)
            self._ending.append(listen_id)
            self._write(
                {
                    "jsonrpc": "2.0",
                    "method": "notifications/cancelled",
                    "params": {"requestId": listen_id},
                }
            )

    def _listen_ended(self, listen_id: str, message: Message) -> None:
        """The server ended one of the hub's listens (a listen has no other answer):
        listen again, unless it ends them without a word in between."""
        self._listens.discard(listen_id)
        if "error" in message or self._relistens >= MAX_RELISTENS:
            logger.warning(
                "%s ended MCP Tray's listen for its changes; apps hear of none until "
                "a subscription changes: %s",
                self.name,
                message.get("error") or "ended again and again",
            )
            return
        self._relistens += 1
        logger.info("%s ended MCP Tray's listen for its changes; listening again", self.name)
        self._listen()

    def _wanted(self) -> dict[str, Any]:
        wanted: dict[str, Any] = {}
        for kind in ("tools", "prompts", "resources"):
            declared = self._capabilities.get(kind)
            if isinstance(declared, dict) and declared.get("listChanged"):
                wanted[f"{kind}ListChanged"] = True
        resources = self._capabilities.get("resources")
        if self._uris and isinstance(resources, dict) and resources.get("subscribe"):
            wanted["resourceSubscriptions"] = sorted(self._uris)
        return wanted


def _is_request(asked: Any) -> bool:
    """Whether an entry of ``inputRequests`` is a request the relay can pass on."""
    return (
        isinstance(asked, dict)
        and isinstance(asked.get("method"), str)
        and isinstance(asked.get("params", {}), dict)
    )


def _without_log_level(request: Message) -> Message:
    """A 2026-07-28 client's request without the log level of its envelope: the log
    messages it asks for would name no request on stdio, and reach other apps
    instead of it (the relay cannot place them)."""
    request_params = params(request)
    meta = request_params.get("_meta")
    if not isinstance(meta, dict) or LOG_LEVEL_KEY not in meta:
        return request
    kept = {k: v for k, v in meta.items() if k != LOG_LEVEL_KEY}
    return {**request, "params": {**request_params, "_meta": kept}}


def _handshake_era(answer: dict[str, Any]) -> dict[str, Any]:
    """A 2026-07-28 result as a handshake-era server gives it."""
    kept = {k: v for k, v in answer.items() if k not in _MODERN_FIELDS}
    meta = kept.get("_meta")
    if isinstance(meta, dict) and SERVER_INFO_KEY in meta:
        rest = {k: v for k, v in meta.items() if k != SERVER_INFO_KEY}
        if rest:
            kept["_meta"] = rest
        else:
            del kept["_meta"]
    return kept
