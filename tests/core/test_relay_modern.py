"""The relay's rules for clients of spec revision 2026-07-28, whose server the hub
speaks to in the handshake era: each on a Relay with in-memory clients and a fake
server (tests/core/test_relay_unit.py sets the scene). The SDK's own 2026 client
through ``mcp-tray attach`` is in tests/test_revision_2026.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from app.core.rpc import errors
from app.core.rpc.envelope import notification, result
from app.core.rpc.framing import Message
from app.core.rpc.port import MemoryClient
from app.core.rpc.relay import Limits, Relay
from tests.core.test_relay_unit import Scene, bounded, call, turn

pytestmark = pytest.mark.anyio

ENVELOPE: dict[str, Any] = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}, "sampling": {}},
    "io.modelcontextprotocol/clientInfo": {"name": "new-editor", "version": "1"},
    "io.modelcontextprotocol/logLevel": "info",
}


class ModernEditor(MemoryClient):
    """A 2026-07-28 client: no initialize, its envelope on every request."""

    def __init__(self, relay: Relay) -> None:
        super().__init__()
        self.port = relay.attach(self)

    def request(
        self,
        request_id: Any,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        meta: dict[str, Any] | None = None,
    ) -> None:
        request_params = {**(params or {}), "_meta": {**ENVELOPE, **(meta or {})}}
        self.port.receive(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": request_params}
        )

    async def next(self) -> Message:
        return await bounded(self.receive())


_attached: list[ModernEditor] = []


@pytest.fixture
async def scene() -> AsyncIterator[Callable[..., Scene]]:
    """``scene(**limits)``: as in test_relay_unit; its 2026 clients come from ``modern``."""
    made: list[Scene] = []

    def make(**limits: float) -> Scene:
        made.append(Scene(Limits(**limits)))
        return made[-1]

    yield make
    for editor in [*_attached, *(e for each in made for e in each.editors)]:
        editor.port.close()  # ends the tasks of requests still waiting
    _attached.clear()
    await turn()


def modern(s: Scene) -> ModernEditor:
    _attached.append(ModernEditor(s.relay))
    return _attached[-1]


async def test_discovery_is_answered_from_the_servers_handshake_in_the_2026_shape(scene):
    s = scene()
    editor = modern(s)
    editor.request(1, "server/discover")
    await turn()
    assert editor.take() == []  # no handshake yet: it waits for the server
    await s.server()
    found = (await editor.next())["result"]
    assert found == {
        "supportedVersions": ["2026-07-28"],
        # Without the flags that promise notifications: those need subscriptions/listen.
        "capabilities": {"tools": {}, "resources": {}},
        "resultType": "complete",
        "ttlMs": 0,
        "cacheScope": "private",
        "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "fake", "version": "1"}},
    }


async def test_a_request_goes_upstream_without_the_envelope_but_with_its_progress_token(scene):
    s = scene()
    server, editor = await s.server(), modern(s)
    editor.request(1, "tools/call", call("slow"), meta={"progressToken": "tok", "vendor/x": 1})
    (sent,) = server.take()
    token = sent["params"]["_meta"]["progressToken"]
    assert sent["params"]["_meta"] == {"progressToken": token, "vendor/x": 1}
    server.say(notification("notifications/progress", {"progressToken": token, "progress": 1}))
    server.reply(sent, {"content": []})
    assert editor.take() == [
        notification("notifications/progress", {"progressToken": "tok", "progress": 1}),
        result(1, {"resultType": "complete", "content": []}),
    ]


async def test_a_request_with_nothing_but_the_envelope_goes_upstream_without_params(scene):
    s = scene()
    server, editor = await s.server(), modern(s)
    editor.request(1, "tools/list")
    (sent,) = server.take()
    assert "params" not in sent


async def test_lists_say_how_long_they_may_be_kept_even_from_the_relays_copy(scene):
    s = scene()
    server, editor = await s.server(), modern(s)
    editor.request(1, "tools/list")
    (sent,) = server.take()
    server.reply(sent, {"tools": []})
    expected = {"ttlMs": 0, "cacheScope": "private", "resultType": "complete", "tools": []}
    assert editor.take() == [result(1, expected)]
    s.crash(server)
    editor.request(2, "tools/list")  # the server is down: the last list answers
    assert await editor.next() == result(2, expected)


async def test_an_envelope_without_capabilities_or_with_an_unknown_revision_is_refused(scene):
    s = scene()
    editor = modern(s)
    version_alone = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}
    editor.port.receive(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": version_alone}}
    )
    editor.request(2, "tools/list", meta={"io.modelcontextprotocol/protocolVersion": "2099-01-01"})
    missing, unknown = editor.take()
    assert missing["error"]["code"] == errors.INVALID_PARAMS
    assert "clientCapabilities" in missing["error"]["message"]
    assert unknown["error"]["code"] == errors.UNSUPPORTED_PROTOCOL_VERSION
    # Naming the handshake revisions too, a dual-era client falls back to initialize.
    assert unknown["error"]["data"]["requested"] == "2099-01-01"
    assert {"2025-11-25", "2026-07-28"} <= set(unknown["error"]["data"]["supported"])


async def test_what_2026_removed_or_the_relay_cannot_bridge_yet_gets_a_precise_error(scene):
    s = scene()
    server, editor = await s.server(), modern(s)
    editor.request(1, "subscriptions/listen", {"notifications": {"toolsListChanged": True}})
    editor.request(2, "resources/subscribe", {"uri": "a://b"})
    editor.request(3, "logging/setLevel", {"level": "debug"})
    listen, subscribe, level = editor.take()
    assert listen["error"]["code"] == errors.NOT_BRIDGED
    assert "subscriptions/listen" in listen["error"]["message"]
    assert subscribe["error"]["code"] == level["error"]["code"] == errors.METHOD_NOT_FOUND
    assert "2026-07-28" in subscribe["error"]["message"]
    assert server.take() == []


async def test_the_servers_elicitation_during_a_2026_call_is_refused_naming_what_is_missing(
    scene,
):
    s = scene()
    server, editor = await s.server(), modern(s)
    editor.request(1, "tools/call", call("ask"))
    server.take()
    server.say({"jsonrpc": "2.0", "id": 70, "method": "elicitation/create", "params": {}})
    (refusal,) = server.take()
    assert refusal["id"] == 70
    assert refusal["error"]["code"] == errors.NOT_BRIDGED
    assert "elicitation/create" in refusal["error"]["message"]
    assert "input_required" in refusal["error"]["message"]
    assert editor.take() == []  # 2026-07-28 has no requests from a server


async def test_broadcasts_reach_handshake_clients_only(scene):
    s = scene()
    server, editor, old = await s.server(), modern(s), s.editor()
    editor.request(1, "tools/list")
    server.take()
    server.say(notification("notifications/tools/list_changed"))
    server.say(notification("notifications/message", {"level": "info", "data": "x"}))
    assert editor.take() == []
    assert len(old.take()) == 2


async def test_an_envelope_from_a_client_that_initialized_is_taken_off_and_nothing_more(scene):
    s = scene()
    server, old = await s.server(), s.editor()
    old.request(1, "tools/call", {**call("x"), "_meta": ENVELOPE})
    (sent,) = server.take()
    assert "_meta" not in sent["params"]
    server.reply(sent, {"content": []})
    assert old.take() == [result(1, {"content": []})]  # as the server wrote it
