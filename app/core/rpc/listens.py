"""``subscriptions/listen`` (2026-07-28) for clients of a handshake-era server.

A 2026-07-28 client asks for change notifications with one long-lived
request, ``subscriptions/listen``, naming what it wants: tools, prompts or
resources list changes, and updates of resources by URI. The relay answers
it itself (the server never sees the request): first the acknowledgement,
``notifications/subscriptions/acknowledged`` with what it will deliver, then
each matching notification, every frame stamped with the listen's id under
``_meta["io.modelcontextprotocol/subscriptionId"]`` (on stdio, all listens
share one channel: the stamp is how the client tells them apart).

What a listen gets comes from what the relay already has for handshake
clients: the server's list-changed broadcasts, the relay's own after a
restart, and ``notifications/resources/updated`` for the URIs it listed,
which the relay subscribes to upstream with ``resources/subscribe``, shared
with every other subscriber (app.core.rpc.routing.Subscriptions). The
client ends a listen with ``notifications/cancelled`` naming its id, or by
leaving; no result follows a cancel, as for any cancelled request.

Like the other tables, this one sends nothing: the relay does (app.core.rpc.relay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.rpc.envelope import id_key, notification, params
from app.core.rpc.framing import Message
from app.core.rpc.routing import Client

SUBSCRIPTION_ID_KEY = "io.modelcontextprotocol/subscriptionId"
ACKNOWLEDGED = "notifications/subscriptions/acknowledged"
# The filter's list flags, the capability each needs of the server, and what it delivers.
LIST_FLAGS = {
    "toolsListChanged": ("tools", "notifications/tools/list_changed"),
    "promptsListChanged": ("prompts", "notifications/prompts/list_changed"),
    "resourcesListChanged": ("resources", "notifications/resources/list_changed"),
}


@dataclass(eq=False)  # a subscriber in Subscriptions, by identity
class Listen:
    """One open ``subscriptions/listen`` of a client."""

    client: Client
    request_id: Any  # the client's id for it: the subscription id on every frame
    methods: frozenset[str]  # the list-changed notifications it gets
    uris: frozenset[str]  # the resources whose updates it gets

    def stamped(self, message: Message) -> Message:
        """A notification as this listen delivers it."""
        given = params(message)
        meta = {**(given.get("_meta") or {}), SUBSCRIPTION_ID_KEY: self.request_id}
        return {**message, "params": {**given, "_meta": meta}}

    def acknowledgement(self) -> Message:
        """The first frame: the filter the relay honours, as the client reads it."""
        honoured: dict[str, Any] = {
            flag: True for flag, (_, method) in LIST_FLAGS.items() if method in self.methods
        }
        if self.uris:
            honoured["resourceSubscriptions"] = sorted(self.uris)
        return self.stamped(notification(ACKNOWLEDGED, {"notifications": honoured}))


def honoured(client: Client, request: Message, capabilities: Any) -> Listen:
    """What the relay can deliver of what ``request`` asks, given the server's
    ``capabilities``: a list's changes when the server has that list (the relay
    tells of the changes a restart brings even when the server tells of none);
    resource updates when the server takes ``resources/subscribe``."""
    declared = capabilities if isinstance(capabilities, dict) else {}
    asked = params(request).get("notifications")
    asked = asked if isinstance(asked, dict) else {}
    methods = frozenset(
        method
        for flag, (capability, method) in LIST_FLAGS.items()
        if asked.get(flag) is True and capability in declared
    )
    resources = declared.get("resources")
    subscribable = isinstance(resources, dict) and resources.get("subscribe") is True
    uris = asked.get("resourceSubscriptions") if subscribable else None
    wanted = [uri for uri in uris if isinstance(uri, str)] if isinstance(uris, list) else []
    return Listen(client, request["id"], methods, frozenset(wanted))


class Listens:
    """The open listens, by client and the client's id for each."""

    def __init__(self) -> None:
        self._open: dict[tuple[int, Any], Listen] = {}

    def __contains__(self, key: tuple[Client, Any]) -> bool:
        client, request_id = key
        return (client.number, id_key(request_id)) in self._open

    def open(self, listen: Listen) -> None:
        self._open[(listen.client.number, id_key(listen.request_id))] = listen

    def close(self, client: Client, request_id: Any) -> Listen | None:
        """Forget the listen ``client`` opened as ``request_id``; it, if it was open."""
        return self._open.pop((client.number, id_key(request_id)), None)

    def close_all(self, client: Client) -> list[Listen]:
        """Forget every listen of a client that left."""
        keys = [key for key in self._open if key[0] == client.number]
        return [self._open.pop(key) for key in keys]

    def wanting(self, method: str) -> list[Listen]:
        """The listens that get this list-changed notification."""
        return [listen for listen in self._open.values() if method in listen.methods]
