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

What the relay cannot bridge yet is refused with a message naming it:
``subscriptions/listen``, and the server's own requests (sampling,
elicitation) during a 2026 client's call, which that revision carries as an
``input_required`` result. The README's table "2026-07-28 through MCP Tray"
sums it up. Everything here is pure.
"""

from __future__ import annotations

from typing import Any

from app.core.rpc import errors
from app.core.rpc.envelope import params
from app.core.rpc.framing import Message

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
# The 2025-era capabilities a 2026 client is shown. Not ``logging``: its messages are
# asked per request at 2026-07-28, and a handshake-era server sends them to everyone.
_SHOWN = ("completions", "experimental", "prompts", "resources", "tools")
# Flags that promise notifications, which 2026-07-28 sends on a subscriptions/listen
# stream; the relay offers none yet, so they are not shown.
_NOTIFYING = ("listChanged", "subscribe")
# How long a client may keep an answer to discovery or a list: not at all, since the
# relay cannot tell it of changes (that takes subscriptions/listen) and a restarted
# server may answer differently; and only for this user (the hub is per user).
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
    if method == "subscriptions/listen":
        return errors.not_bridged(request_id, method)
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
            flags = name != "experimental"  # its keys name capabilities, not flags
            shown[name] = {k: v for k, v in value.items() if not (flags and k in _NOTIFYING)}
    return shown
