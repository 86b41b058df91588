"""The relay's rules, each on a Relay with in-memory clients and a fake server.

Clients attach through the relay's port (``Relay.attach`` with a MemoryClient),
the server is tests/core/fake_backend.py, and the relay's patience and limits
are set per test, so every rule is checked in milliseconds without a process,
a socket or a sleep. The end-to-end versions of these rules, through a real
hub and server, are in tests/test_relay_protocol.py and tests/test_attach.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from app.core.config.schema import ToolSwitches
from app.core.rpc import errors
from app.core.rpc.envelope import notification, result, with_id
from app.core.rpc.framing import Message
from app.core.rpc.port import MemoryClient
from app.core.rpc.relay import Limits, Relay
from app.core.rpc.toolgate import ToolGate
from tests.core.fake_backend import HANDSHAKE, FakeBackend

pytestmark = pytest.mark.anyio

WAIT_S = 5.0  # everything here happens within a few loop steps; this only bounds a broken test
T = TypeVar("T")
C = TypeVar("C")
# What every client hears when a new process is ready (the fake's handshake names
# tools and resources, not prompts).
LISTS_CHANGED = [
    notification("notifications/tools/list_changed"),
    notification("notifications/resources/list_changed"),
]


async def bounded(work: Awaitable[T]) -> T:
    async with asyncio.timeout(WAIT_S):
        return await work


class Editor(MemoryClient):
    """One attached client. Whatever the relay also hands over as a line must say
    the same as the message itself, which every test thereby checks."""

    def __init__(self, relay: Relay, capabilities: dict[str, Any] | None) -> None:
        super().__init__()
        self.port = relay.attach(self, resumed={"capabilities": capabilities or {}})
        self.lines: list[bytes] = []  # what the relay passed on unparsed, as it came

    def send_line(self, line: bytes) -> None:
        self.lines.append(line)
        super().send_line(line)

    def send(self, message: Message, encoded: bytes | None = None) -> None:
        if encoded is not None:
            assert encoded.endswith(b"\n")
            assert json.loads(encoded) == message
        super().send(message, encoded)

    def request(self, request_id: Any, method: str, params: dict[str, Any] | None = None) -> None:
        message: Message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.port.receive(message)

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self.port.receive(notification(method, params))

    async def next(self) -> Message:
        return await bounded(self.receive())


class Scene:
    """A relay named "weather", its clients, and the servers it is given in turn."""

    def __init__(self, limits: Limits) -> None:
        self.reason: str | None = None  # why the server is unavailable, as the supervisor says
        self.relay = Relay("weather", unavailable=lambda: self.reason, limits=limits)
        self.editors: list[Any] = []  # every client attached, closed when the test ends

    async def server(self) -> FakeBackend:
        """A new process has finished its handshake."""
        backend = FakeBackend(self.relay)
        await self.relay.session_ready(backend)
        return backend

    def crash(self, server: FakeBackend, *, planned: bool = False) -> None:
        """The process is gone, having read all of its input."""
        server.closed = True
        self.relay.session_ended(planned=planned, delivered=server.bytes_sent)

    def editor(self, capabilities: dict[str, Any] | None = None) -> Editor:
        return self.keep(Editor(self.relay, capabilities))

    def keep(self, client: C) -> C:
        """``client``, attached to the relay, is closed when the test ends."""
        self.editors.append(client)
        return client


@pytest.fixture
async def scene() -> AsyncIterator[Callable[..., Scene]]:
    """``scene(**limits)``: a Scene whose relay waits as Limits(**limits) says."""
    made: list[Scene] = []

    def make(**limits: float) -> Scene:
        made.append(Scene(Limits(**limits)))
        return made[-1]

    yield make
    for each in made:
        for editor in each.editors:
            editor.port.close()  # ends the tasks of requests still waiting
    await turn()


async def turn() -> None:
    """Let every task started so far take its first step (not a timed wait): tasks
    start in the order they were made, so one made now runs after them."""
    await asyncio.create_task(_nothing())


async def _nothing() -> None:
    pass


def call(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "arguments": {}, **extra}


# ----- ids and tokens


async def test_ids_1_and_string_1_are_two_requests_each_answered_under_its_own_id(scene):
    s = scene()
    server, editor = await s.server(), s.editor()
    editor.request(1, "tools/call", call("a"))
    editor.request("1", "tools/call", call("b"))
    first, second = server.take()
    assert first["id"] != second["id"]
    server.reply(second, {"for": "b"})
    server.reply(first, {"for": "a"})
    assert editor.take() == [result("1", {"for": "b"}), result(1, {"for": "a"})]


async def test_two_clients_using_the_same_id_each_get_only_their_own_answer(scene):
    s = scene()
    server, a, b = await s.server(), s.editor(), s.editor()
    a.request(7, "tools/call", call("a"))
    b.request(7, "tools/call", call("b"))
    from_a, from_b = server.take()
    assert from_a["id"] != from_b["id"]
    server.reply(from_b, {"for": "b"})
    server.reply(from_a, {"for": "a"})
    assert a.take() == [result(7, {"for": "a"})]
    assert b.take() == [result(7, {"for": "b"})]


async def test_progress_goes_under_its_own_token_to_the_one_client_that_asked(scene):
    s = scene()
    server, a, b = await s.server(), s.editor(), s.editor()
    a.request(1, "tools/call", call("slow", _meta={"progressToken": "tok"}))
    b.request(1, "tools/call", call("slow", _meta={"progressToken": "tok"}))
    to_a, to_b = (sent["params"]["_meta"]["progressToken"] for sent in server.take())
    assert to_a != to_b
    server.say(notification("notifications/progress", {"progressToken": to_b, "progress": 1}))
    assert b.take() == [
        notification("notifications/progress", {"progressToken": "tok", "progress": 1})
    ]
    assert a.take() == []


async def test_progress_after_its_answer_reaches_nobody(scene):
    s = scene()
    server, editor = await s.server(), s.editor()
    editor.request(1, "tools/call", call("slow", _meta={"progressToken": 5}))
    (sent,) = server.take()
    server.reply(sent, {})
    server.say(
        notification(
            "notifications/progress",
            {"progressToken": sent["params"]["_meta"]["progressToken"], "progress": 1},
        )
    )
    assert editor.take() == [result(1, {})]


async def test_an_answer_as_the_server_wrote_it_gets_the_clients_id_in_place():
    raw = b'{"jsonrpc": "2.0", "id": 41, "result": {"text": "id 41"}}'
    assert with_id(raw, "41") == b'{"jsonrpc": "2.0", "id": "41", "result": {"text": "id 41"}}\n'
    assert with_id(b'{"id": 41, "jsonrpc": "2.0", "result": {}}', 1) is None  # re-encoded


async def test_a_call_answered_by_the_server_is_passed_on_unparsed_under_the_clients_id(scene):
    setting = scene()
    server, editor = await setting.server(), setting.editor()
    editor.request("call-1", "tools/call", call("echo"))
    (sent,) = server.take()
    # Spaced as no encoder would: what arrives is the server's own bytes, id aside.
    written = b'{"jsonrpc":"2.0","id":%d,"result":{"content":[]} ,  "x" : 1}'
    assert setting.relay.server_line(written % sent["id"])
    assert editor.lines == [written.replace(b"%d", b'"call-1"') + b"\n"]
    assert editor.take() == [result("call-1", {"content": []}) | {"x": 1}]
    assert not setting.relay.server_line(written % sent["id"])  # answered: nobody waits now


async def test_an_answer_that_is_not_whole_json_stays_unanswered_for_the_parser(scene):
    setting = scene()
    server, editor = await setting.server(), setting.editor()
    editor.request(1, "tools/call", call("echo"))
    (sent,) = server.take()
    head = b'{"jsonrpc":"2.0","id":%d,"result":' % sent["id"]

    assert not setting.relay.server_line(head + b'{"text":"cut sh')  # no closing brace
    with pytest.raises(ValueError):  # the client could not take it: nothing was answered
        setting.relay.server_line(head + b"{oops}}")
    assert setting.relay.server_line(head + b"{}}")
    assert editor.take() == [result(1, {})]


def test_a_memory_client_past_its_limit_says_so_and_keeps_what_it_had() -> None:
    client = MemoryClient(limit=2)
    for number in range(3):
        client.send(result(number, {}))

    assert client.overflowed.is_set()
    assert client.take() == [result(0, {}), result(1, {})]


async def test_answers_the_relay_reads_and_lines_it_cannot_place_are_left_to_be_parsed(scene):
    setting = scene()
    server, editor = await setting.server(), setting.editor()
    editor.request(1, "tools/list")
    (sent,) = server.take()
    tools_list = b'{"jsonrpc":"2.0","id":%d,"result":{"tools":[]}}' % sent["id"]
    assert not setting.relay.server_line(tools_list)  # cached on its way: read in full
    assert not setting.relay.server_line(b'{"jsonrpc":"2.0","id":999,"result":{}}')  # no one's
    assert not setting.relay.server_line(b'{"id":%d,"jsonrpc":"2.0","result":{}}' % sent["id"])
    assert not setting.relay.server_line(b'{"jsonrpc":"2.0","id":5,"method":"ping"}')


# ----- what the relay answers itself, and what it refuses


async def test_ping_and_server_discover_are_answered_without_any_server(scene):
    editor = scene().editor()
    editor.request(1, "ping")
    editor.request(2, "server/discover")
    pong, refusal = editor.take()
    assert pong == result(1, {})
    assert refusal["id"] == 2
    assert refusal["error"]["code"] == errors.METHOD_NOT_FOUND


async def test_initialize_is_answered_from_the_handshake_the_hub_made(scene):
    s = scene()
    server, editor = await s.server(), s.editor()
    editor.request(1, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}})
    assert await editor.next() == result(1, HANDSHAKE)
    editor.notify("notifications/initialized")
    assert server.take() == []


@pytest.mark.parametrize(
    ("asked", "given"),
    [
        ("2025-06-18", "2025-06-18"),
        ("2025-03-26", "2025-03-26"),
        ("2024-11-05", "2024-11-05"),
        ("2025-11-25", "2025-11-25"),
        ("2031-01-01", "2025-11-25"),  # unknown: the server's own, for the client to judge
        (None, "2025-11-25"),
    ],
)
async def test_each_client_gets_the_revision_it_asked_for_when_the_server_speaks_it(
    scene, asked, given
):
    s = scene()
    await s.server()
    editor = s.editor()
    editor.request(1, "initialize", {"protocolVersion": asked, "capabilities": {}})
    assert await editor.next() == result(1, {**HANDSHAKE, "protocolVersion": given})


async def test_an_initialize_before_the_first_server_is_ready_is_answered_once_it_is(scene):
    s = scene()
    editor = s.editor()
    editor.request(1, "initialize", {"capabilities": {}})
    await turn()
    assert editor.take() == []
    await s.server()
    assert await editor.next() == result(1, HANDSHAKE)


async def test_other_client_notifications_go_to_the_server_as_they_are(scene):
    s = scene()
    server, editor = await s.server(), s.editor()
    editor.notify("notifications/roots/list_changed")
    assert server.take() == [notification("notifications/roots/list_changed")]


async def test_lines_and_messages_that_are_not_requests_get_the_specs_errors(scene, caplog):
    s = scene()
    server, editor = await s.server(), s.editor()
    editor.port.receive_line(b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{')
    editor.port.receive_line(b"[1, 2]")
    editor.port.receive({"id": 3, "method": "tools/list"})
    editor.port.receive({"jsonrpc": "2.0", "id": 1.5, "method": "tools/list"})
    answers = [(answer["id"], answer["error"]["code"]) for answer in editor.take()]
    assert answers == [
        (5, errors.PARSE_ERROR),  # the id read from the line's start, as attach reads it
        (None, errors.INVALID_REQUEST),
        (3, errors.INVALID_REQUEST),  # no "jsonrpc": "2.0"
        (None, errors.INVALID_REQUEST),  # an id must be a string or an integer
    ]
    assert server.take() == []
    assert [r.levelname for r in caplog.records] == ["WARNING"] * 4  # each is logged


# ----- cancellation


async def test_cancelling_a_request_in_flight_tells_the_server_under_its_own_id(scene):
    s = scene()
    server, editor = await s.server(), s.editor()
    editor.request(1, "tools/call", call("slow"))
    (sent,) = server.take()
    editor.notify("notifications/cancelled", {"requestId": 1, "reason": "user"})
    assert server.take() == [
        notification("notifications/cancelled", {"requestId": sent["id"], "reason": "user"})
    ]
    server.reply(sent, {"late": True})
    assert editor.take() == []
    assert s.relay.waiting_since() is None


async def test_cancelling_a_request_held_for_the_server_never_sends_it(scene):
    s = scene()
    editor = s.editor()
    editor.request(1, "tools/call", call("pay"))  # no server yet: held
    editor.notify("notifications/cancelled", {"requestId": 1})
    server = await s.server()
    editor.request(2, "logging/setLevel", {"level": "info"})  # held too, started later
    assert (await bounded(server.receive()))["method"] == "logging/setLevel"
    assert server.take() == []
    assert editor.take() == []


async def test_a_client_cannot_cancel_another_clients_request(scene):
    s = scene()
    server, a, b = await s.server(), s.editor(), s.editor()
    a.request(1, "tools/call", call("a"))
    (sent,) = server.take()
    b.notify("notifications/cancelled", {"requestId": 1})
    b.notify("notifications/cancelled", {"requestId": None})
    assert server.take() == []
    server.reply(sent, {})
    assert a.take() == [result(1, {})]


# ----- the server ends under requests


async def test_after_a_crash_a_read_is_sent_again_to_the_next_process(scene):
    s = scene()
    server, editor = await s.server(), s.editor()
    editor.request(1, "resources/read", {"uri": "file:///a"})
    (first,) = server.take()
    s.crash(server)
    again = await s.server()
    assert editor.take() == LISTS_CHANGED
    repeated = await bounded(again.receive())
    assert repeated["method"] == "resources/read"
    assert repeated["params"] == {"uri": "file:///a"}
    server.reply(first, {"from": "the dead process"})
    again.reply(repeated, {"contents": []})
    assert await editor.next() == result(1, {"contents": []})
    assert editor.take() == []


@pytest.mark.parametrize("planned", [False, True])
async def test_a_call_the_server_may_have_read_is_not_repeated_and_gets_31001(scene, planned):
    s = scene()
    server, editor = await s.server(), s.editor()
    editor.request(1, "tools/call", call("pay"))
    server.take()
    s.crash(server, planned=planned)
    (answer,) = editor.take()
    assert answer["id"] == 1
    assert answer["error"]["code"] == errors.SERVER_CRASHED
    said = "weather was restarted" if planned else "weather crashed"
    assert answer["error"]["message"].startswith(said)
    again = await s.server()
    await turn()
    assert again.take() == []


async def test_a_call_when_it_is_unknown_what_the_server_read_counts_as_read(scene):
    s = scene()
    await s.server()
    editor = s.editor()
    editor.request(1, "tools/call", call("pay"))
    s.relay.session_ended(planned=False, delivered=None)
    assert editor.take()[0]["error"]["code"] == errors.SERVER_CRASHED


async def test_a_call_beyond_what_the_server_read_goes_to_the_next_process(scene):
    s = scene()
    server, editor = await s.server(), s.editor()
    editor.request(1, "tools/call", call("read"))
    read = server.bytes_sent
    editor.request(2, "tools/call", call("unread"))
    server.take()
    s.relay.session_ended(planned=False, delivered=read)
    (lost,) = editor.take()
    assert (lost["id"], lost["error"]["code"]) == (1, errors.SERVER_CRASHED)
    again = await s.server()
    assert editor.take() == LISTS_CHANGED
    repeated = await bounded(again.receive())
    assert repeated["params"]["name"] == "unread"
    again.reply(repeated, {"done": True})
    assert await editor.next() == result(2, {"done": True})


async def test_a_call_whose_write_finds_the_input_closed_goes_to_the_next_process(scene):
    s = scene()
    server, editor = await s.server(), s.editor()
    server.input_breaks_on_next_send = True
    editor.request(1, "tools/call", call("pay"))
    assert s.relay.waiting_since() is None  # nothing reached the server
    s.crash(server)
    assert editor.take() == []
    again = await s.server()
    sent = await bounded(again.receive())
    assert sent["params"]["name"] == "pay"


async def test_a_request_repeated_after_a_crash_keeps_its_progress_token(scene):
    s = scene()
    server, editor = await s.server(), s.editor()
    editor.request(1, "resources/read", {"uri": "file:///a", "_meta": {"progressToken": "p"}})
    server.take()
    s.crash(server)
    again = await s.server()
    repeated = await bounded(again.receive())
    token = repeated["params"]["_meta"]["progressToken"]
    again.say(notification("notifications/progress", {"progressToken": token, "progress": 1}))
    assert editor.take() == [
        *LISTS_CHANGED,
        notification("notifications/progress", {"progressToken": "p", "progress": 1}),
    ]


async def test_a_servers_request_to_a_client_ends_with_the_process(scene):
    s = scene()
    server, editor = await s.server(), s.editor({"sampling": {}})
    server.say({"jsonrpc": "2.0", "id": 9, "method": "sampling/createMessage", "params": {}})
    (asked,) = editor.take()
    s.crash(server)
    again = await s.server()
    editor.port.receive(result(asked["id"], {"content": "late"}))
    assert again.take() == []


# ----- while the server is down, or slow


async def fill_tool_cache(server: FakeBackend, editor: Editor, tools: list[str]) -> None:
    editor.request("fill", "tools/list")
    (sent,) = server.take()
    server.reply(sent, {"tools": tools})
    assert editor.take() == [result("fill", {"tools": tools})]


async def test_while_the_server_is_down_tools_list_is_answered_from_its_last_list(scene):
    s = scene()
    server, editor = await s.server(), s.editor()
    await fill_tool_cache(server, editor, ["forecast"])
    s.crash(server)
    editor.request(2, "tools/list")
    assert await editor.next() == result(2, {"tools": ["forecast"]})
    editor.request(3, "tools/list", {"cursor": "page 2"})  # a page never seen waits
    await turn()
    assert editor.take() == []


async def test_a_slow_list_comes_from_the_cache_and_its_late_answer_refreshes_the_cache(
    scene,
):
    s = scene(list_patience_s=0.0)
    server, editor = await s.server(), s.editor()
    await fill_tool_cache(server, editor, ["old"])
    editor.request(2, "tools/list")
    (slow,) = server.take()
    assert await editor.next() == result(2, {"tools": ["old"]})
    server.reply(slow, {"tools": ["new"]})
    assert editor.take() == []  # answered once
    s.crash(server)
    editor.request(3, "tools/list")
    assert await editor.next() == result(3, {"tools": ["new"]})


async def test_a_list_answered_in_time_is_the_servers_answer(scene):
    s = scene()
    server, editor = await s.server(), s.editor()
    await fill_tool_cache(server, editor, ["old"])
    editor.request(2, "tools/list")
    (sent,) = server.take()
    server.reply(sent, {"tools": ["new"]})
    assert editor.take() == [result(2, {"tools": ["new"]})]


async def test_a_list_answered_from_the_cache_is_not_repeated_after_a_crash(scene):
    s = scene(list_patience_s=0.0)
    server, editor = await s.server(), s.editor()
    await fill_tool_cache(server, editor, ["old"])
    editor.request(2, "tools/list")
    server.take()
    assert await editor.next() == result(2, {"tools": ["old"]})
    s.crash(server)
    again = await s.server()
    await turn()
    assert again.take() == []
    assert editor.take() == LISTS_CHANGED


async def test_the_current_list_is_the_running_servers_until_it_says_it_changed(scene):
    # What the HTTP endpoint checks a call's Mcp-Param headers against without asking.
    s = scene()
    server, editor = await s.server(), s.editor()
    assert s.relay.current_list("tools/list") is None
    await fill_tool_cache(server, editor, ["forecast"])
    assert s.relay.current_list("tools/list") == {"tools": ["forecast"]}
    assert s.relay.current_list("tools/list", "page 2") is None

    server.say(notification("notifications/prompts/list_changed"))
    assert s.relay.current_list("tools/list") == {"tools": ["forecast"]}
    server.say(notification("notifications/tools/list_changed"))
    assert s.relay.current_list("tools/list") is None
    assert len(editor.take()) == 2  # both told to the client

    await fill_tool_cache(server, editor, ["forecast", "alerts"])
    assert s.relay.current_list("tools/list") == {"tools": ["forecast", "alerts"]}
    s.crash(server)
    assert s.relay.current_list("tools/list") is None  # the next process may list others


async def test_a_call_to_a_parked_server_fails_at_once_with_the_reason(scene):
    s = scene()
    s.reason = "weather keeps crashing, so MCP Tray paused it."
    editor = s.editor()
    editor.request(1, "tools/call", call("pay"))
    assert await editor.next() == errors.error_response(1, errors.SERVER_UNAVAILABLE, s.reason)


async def test_a_call_that_waits_longer_than_the_hold_limit_fails_readably(scene):
    s = scene(hold_s=0.0)
    editor = s.editor()
    editor.request(1, "tools/call", call("pay"))
    answer = await editor.next()
    assert answer["error"]["code"] == errors.SERVER_TIMEOUT
    assert answer["error"]["message"].startswith("weather did not come back within 0 seconds")


async def test_a_call_made_while_the_server_is_down_is_sent_when_it_is_back(scene):
    s = scene()
    editor = s.editor()
    editor.request(1, "tools/call", call("pay"))
    await turn()
    server = await s.server()
    sent = await bounded(server.receive())
    server.reply(sent, {"paid": True})
    assert await editor.next() == result(1, {"paid": True})


# ----- subscriptions


async def test_clients_share_one_subscription_upstream_until_the_last_one_leaves_it(scene):
    s = scene()
    server, a, b = await s.server(), s.editor(), s.editor()
    a.request(1, "resources/subscribe", {"uri": "file:///x"})
    sent = await bounded(server.receive())
    server.reply(sent, {})
    assert await a.next() == result(1, {})
    b.request(1, "resources/subscribe", {"uri": "file:///x"})
    assert await b.next() == result(1, {})
    assert server.take() == []
    a.request(2, "resources/unsubscribe", {"uri": "file:///x"})
    assert await a.next() == result(2, {})
    assert server.take() == []
    b.request(2, "resources/unsubscribe", {"uri": "file:///x"})
    assert (await bounded(server.receive()))["method"] == "resources/unsubscribe"


async def test_resources_updated_goes_to_the_subscribers_only(scene):
    s = scene()
    server, subscriber, other = await s.server(), s.editor(), s.editor()
    subscriber.request(1, "resources/subscribe", {"uri": "file:///x"})
    server.reply(await bounded(server.receive()), {})
    await subscriber.next()
    updated = notification("notifications/resources/updated", {"uri": "file:///x"})
    server.say(updated)
    server.say(notification("notifications/resources/updated", {"uri": "file:///y"}))
    assert subscriber.take() == [updated]
    assert other.take() == []


async def test_a_refused_subscribe_leaves_the_client_unsubscribed(scene):
    s = scene()
    server, editor = await s.server(), s.editor()
    editor.request(1, "resources/subscribe", {"uri": "file:///x"})
    server.refuse(await bounded(server.receive()), -32602, "no such resource")
    assert (await editor.next())["error"]["message"] == "no such resource"
    editor.request(2, "resources/subscribe", {"uri": "file:///x"})
    assert (await bounded(server.receive()))["params"] == {"uri": "file:///x"}


async def test_a_new_process_gets_the_subscriptions_and_log_level_and_clients_hear_lists_changed(
    scene,
):
    s = scene()
    server, editor = await s.server(), s.editor()
    editor.request(1, "resources/subscribe", {"uri": "file:///x"})
    server.reply(await bounded(server.receive()), {})
    editor.request(2, "logging/setLevel", {"level": "debug"})
    server.reply(await bounded(server.receive()), {})
    assert [await editor.next(), await editor.next()] == [result(1, {}), result(2, {})]
    s.crash(server, planned=True)
    again = await s.server()
    assert again.take_hub_requests() == [
        {"method": "resources/subscribe", "params": {"uri": "file:///x"}},
        {"method": "logging/setLevel", "params": {"level": "debug"}},
    ]
    assert editor.take() == LISTS_CHANGED


# ----- the server's requests and notifications to clients


async def test_a_servers_request_goes_to_the_capable_client_with_work_in_flight(scene):
    s = scene()
    server = await s.server()
    plain, idle, busy = s.editor(), s.editor({"sampling": {}}), s.editor({"sampling": {}})
    busy.request(1, "tools/call", call("think"))
    idle.request(1, "ping")  # the most recently active, but with nothing in flight
    server.take()
    idle.take()
    asked = {"jsonrpc": "2.0", "id": 9, "method": "sampling/createMessage", "params": {}}
    server.say(asked)
    (relayed,) = busy.take()
    assert relayed == {**asked, "id": "weather-1"}
    assert plain.take() == idle.take() == []
    busy.port.receive(result("weather-1", {"content": "an answer"}))
    assert server.take() == [result(9, {"content": "an answer"})]


async def test_without_work_in_flight_the_most_recently_active_capable_client_is_asked(scene):
    s = scene()
    server = await s.server()
    active, attached_last = s.editor({"roots": {}}), s.editor({"roots": {}})
    active.request(1, "ping")
    active.take()
    server.say({"jsonrpc": "2.0", "id": 3, "method": "roots/list"})
    assert [m["method"] for m in active.take()] == ["roots/list"]
    assert attached_last.take() == []


async def test_a_servers_request_no_client_can_answer_is_answered_by_the_relay(scene):
    s = scene()
    server = await s.server()
    s.editor()  # declares nothing
    server.say({"jsonrpc": "2.0", "id": 1, "method": "roots/list"})
    server.say({"jsonrpc": "2.0", "id": 2, "method": "elicitation/create", "params": {}})
    roots, refusal = server.take()
    assert roots == result(1, {"roots": []})
    assert (refusal["id"], refusal["error"]["code"]) == (2, errors.NO_CLIENT_FOR_REQUEST)
    assert "elicitation/create" in refusal["error"]["message"]


async def test_only_the_client_asked_may_answer_a_servers_request(scene):
    s = scene()
    server = await s.server()
    asked, other = s.editor({"sampling": {}}), s.editor()
    server.say({"jsonrpc": "2.0", "id": 9, "method": "sampling/createMessage", "params": {}})
    (relayed,) = asked.take()
    other.port.receive(result(relayed["id"], {"forged": True}))
    assert server.take() == []
    asked.port.receive(result(relayed["id"], {"real": True}))
    asked.port.receive(result(relayed["id"], {"twice": True}))
    assert server.take() == [result(9, {"real": True})]


async def test_a_server_withdrawing_its_request_tells_the_client_under_the_relays_id(scene):
    s = scene()
    server, editor = await s.server(), s.editor({"sampling": {}})
    server.say({"jsonrpc": "2.0", "id": 9, "method": "sampling/createMessage", "params": {}})
    (relayed,) = editor.take()
    server.say(notification("notifications/cancelled", {"requestId": 9, "reason": "timeout"}))
    assert editor.take() == [
        notification("notifications/cancelled", {"requestId": relayed["id"], "reason": "timeout"})
    ]
    editor.port.receive(result(relayed["id"], {}))
    assert server.take() == []


async def test_list_changed_and_log_messages_go_to_every_client(scene):
    s = scene()
    server, a, b = await s.server(), s.editor(), s.editor()
    changed = notification("notifications/tools/list_changed")
    logged = notification("notifications/message", {"level": "info", "data": "hello"})
    server.say(changed)
    server.say(logged)
    assert a.take() == b.take() == [changed, logged]


async def test_an_invalid_message_from_the_server_reaches_nobody(scene, caplog):
    s = scene()
    server, editor = await s.server(), s.editor()
    server.say({"jsonrpc": "2.0", "method": 42})
    server.say({"jsonrpc": "2.0", "id": 777, "result": {}})  # an answer nobody waits for
    assert editor.take() == []
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "weather sent an invalid message (method must be a string); dropped"
    ]


# ----- a client leaves


async def test_a_client_that_leaves_has_its_requests_cancelled_and_its_state_released(scene):
    s = scene()
    server, editor, stays = await s.server(), s.editor({"sampling": {}}), s.editor()
    editor.request(1, "resources/subscribe", {"uri": "file:///x"})
    server.reply(await bounded(server.receive()), {})
    await editor.next()
    editor.request(2, "tools/call", call("slow"))
    (in_flight,) = server.take()
    server.say({"jsonrpc": "2.0", "id": 9, "method": "sampling/createMessage", "params": {}})
    editor.take()
    editor.port.close()
    cancelled, refused = server.take()
    assert cancelled == notification(
        "notifications/cancelled",
        {"requestId": in_flight["id"], "reason": "the client disconnected"},
    )
    assert (refused["id"], refused["error"]["code"]) == (9, errors.NO_CLIENT_FOR_REQUEST)
    assert await bounded(server.receive_hub_request()) == {
        "method": "resources/unsubscribe",
        "params": {"uri": "file:///x"},
    }
    server.reply(in_flight, {"late": True})
    server.say(notification("notifications/resources/updated", {"uri": "file:///x"}))
    assert editor.take() == stays.take() == []


async def test_a_request_held_for_a_client_that_left_is_never_sent(scene):
    s = scene()
    leaving, staying = s.editor(), s.editor()
    leaving.request(1, "tools/call", call("pay"))
    await turn()  # it waits for the server
    leaving.port.close()
    server = await s.server()
    staying.request(1, "tools/call", call("look"))
    await turn()
    assert [sent["params"]["name"] for sent in server.take()] == ["look"]


# ----- planned restarts


async def test_a_planned_restart_drains_in_flight_calls_and_holds_new_ones_for_the_next_process(
    scene,
):
    s = scene()
    server, editor = await s.server(), s.editor()
    editor.request(1, "tools/call", call("first"))
    (first,) = server.take()
    drain = asyncio.create_task(s.relay.prepare_planned_restart())
    await turn()
    editor.request(2, "tools/call", call("second"))
    await turn()
    assert server.take() == []
    assert not drain.done()
    server.reply(first, {"n": 1})
    await bounded(drain)
    assert editor.take() == [result(1, {"n": 1})]
    s.crash(server, planned=True)
    again = await s.server()
    second = await bounded(again.receive())
    assert second["params"]["name"] == "second"
    again.reply(second, {"n": 2})
    assert editor.take() == [*LISTS_CHANGED, result(2, {"n": 2})]


async def test_the_drain_of_a_planned_restart_is_bounded(scene):
    s = scene(drain_s=0.0)
    await s.server()
    editor = s.editor()
    editor.request(1, "tools/call", call("forever"))
    await bounded(s.relay.prepare_planned_restart())
    assert s.relay.waiting_since() is not None


async def test_a_hold_that_no_restart_follows_is_released_to_the_same_process(scene):
    s = scene()
    server, editor = await s.server(), s.editor()
    await bounded(s.relay.prepare_planned_restart())
    editor.request(1, "tools/call", call("pay"))
    await turn()
    assert server.take() == []
    s.relay.release()
    assert (await bounded(server.receive()))["params"]["name"] == "pay"


async def test_waiting_since_is_when_the_oldest_request_in_flight_was_sent(scene):
    s = scene()
    server, editor = await s.server(), s.editor()
    assert s.relay.waiting_since() is None
    editor.request(1, "tools/call", call("a"))
    oldest = s.relay.waiting_since()
    editor.request(2, "tools/call", call("b"))
    assert s.relay.waiting_since() == oldest
    first, second = server.take()
    server.reply(first, {})
    assert oldest is not None
    assert (s.relay.waiting_since() or 0) >= oldest  # the second one's
    server.reply(second, {})
    assert s.relay.waiting_since() is None


# ----- tools the user keeps from the apps


async def test_a_call_that_waited_for_the_server_is_refused_if_its_tool_was_switched_off_meanwhile(
    scene,
):
    s = scene()
    editor = s.editor()
    editor.request(1, "tools/call", call("rm"))  # no server yet: it waits
    await turn()
    s.relay.set_tools(ToolGate("weather", ToolSwitches(disabled=["rm"])))
    server = await s.server()

    answer = await editor.next()
    assert answer["id"] == 1 and answer["error"]["code"] == errors.INVALID_PARAMS
    assert "switched off in MCP Tray" in answer["error"]["message"]
    assert [m for m in server.take() if m.get("method") == "tools/call"] == []
