"""The activity record (app.core.activity): each request that reached a server, and how
it ended, as a real Relay notes it through its request table.

The relay is real; the server is tests/core/fake_backend.py, speaking as a server
would, so every way a request ends is provoked in a few loop steps. The same,
through a real hub, real servers and the SDK's client, is tests/test_activity.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.core.activity import (
    ROWS_KEPT,
    UNKNOWN_APP,
    Activity,
    Outcome,
    Request,
    app_name,
    line_outcome,
    took,
    usage,
)
from app.core.events import ActivityRecorded, EventBus, from_wire, to_wire
from app.core.rpc import errors
from app.core.rpc.framing import Message
from app.core.rpc.port import ClientPort, MemoryClient
from app.core.rpc.relay import Relay
from tests.core.fake_backend import FakeBackend

pytestmark = pytest.mark.anyio

MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "zed", "version": "0.200"},
}


class Scene:
    """A relay named "weather" that notes its requests in ``activity``, and its server."""

    def __init__(self) -> None:
        self.activity = Activity()
        recorder = self.activity.recorder("weather")
        self.relay = Relay("weather", unavailable=lambda: None, activity=recorder)
        self.ports: list[ClientPort] = []

    @property
    def rows(self) -> list[Request]:
        return self.activity.rows()

    async def server(self) -> FakeBackend:
        backend = FakeBackend(self.relay)
        await self.relay.session_ready(backend)
        return backend

    def app(self, name: str | None, *, initialized: bool = True) -> tuple[MemoryClient, ClientPort]:
        """A client that gave ``name`` in its initialize (None: no clientInfo at all); one
        not ``initialized`` has yet to say anything (a 2026-07-28 client never does)."""
        output = MemoryClient()
        handshake: dict[str, Any] = {"capabilities": {}}
        if name is not None:
            handshake["clientInfo"] = {"name": name, "version": "1"}
        port = self.relay.attach(output, resumed=handshake if initialized else None)
        self.ports.append(port)
        return output, port


@pytest.fixture
async def scene() -> AsyncIterator[Scene]:
    made = Scene()
    yield made
    for port in made.ports:
        port.close()


def request(request_id: Any, method: str, params: dict[str, Any] | None = None) -> Message:
    message: Message = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def call(tool: str, request_id: Any = 1, **extra: Any) -> Message:
    return request(request_id, "tools/call", {"name": tool, "arguments": {}, **extra})


def seen(rows: list[Request]) -> list[tuple[str, str, str | None, Outcome, int | None]]:
    return [(row.app, row.method, row.tool, row.outcome, row.code) for row in rows]


# ----- each way a request ends


async def test_a_call_answered_is_a_row_with_its_app_tool_and_time_never_its_arguments(scene):
    server = await scene.server()
    _, port = scene.app("claude-code")
    port.receive(call("forecast", city="Lyon"))
    (sent,) = server.take()
    server.reply(sent, {"content": [{"type": "text", "text": "sunny in Lyon"}]})

    (row,) = scene.rows
    assert seen([row]) == [("claude-code", "tools/call", "forecast", Outcome.OK, None)]
    assert row.server == "weather"
    assert 0 <= row.duration_s < 5
    assert "Lyon" not in json.dumps(row.to_wire())


async def test_an_error_answer_keeps_its_code_whether_passed_on_unparsed_or_read(scene):
    server = await scene.server()
    _, port = scene.app("cursor")
    port.receive(call("forecast"))
    port.receive(request(2, "tools/list"))  # a list: the relay reads its answer
    to_call, to_list = server.take()
    server.refuse(to_call, errors.INVALID_PARAMS, "no city")
    server.refuse(to_list, -32603, "broken")

    assert seen(scene.rows) == [
        ("cursor", "tools/call", "forecast", Outcome.ERROR, -32602),
        ("cursor", "tools/list", None, Outcome.ERROR, -32603),
    ]
    assert [row.outcome_words() for row in scene.rows] == [
        "Failed (error -32602)",
        "Failed (error -32603)",
    ]


async def test_a_tool_that_says_it_failed_is_a_tool_error_not_an_answer(scene):
    server = await scene.server()
    _, port = scene.app("cursor")
    port.receive(call("forecast"))
    (sent,) = server.take()
    server.reply(sent, {"content": [{"type": "text", "text": "no such city"}], "isError": True})

    assert seen(scene.rows) == [("cursor", "tools/call", "forecast", Outcome.TOOL_ERROR, None)]
    assert scene.rows[0].outcome_words() == "Failed (the tool reported an error)"


async def test_a_call_its_app_cancels_is_a_cancelled_row_and_its_late_answer_adds_none(scene):
    server = await scene.server()
    _, port = scene.app("claude-code")
    port.receive(call("forecast", request_id="c1"))
    (sent,) = server.take()
    port.receive(
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "c1"}}
    )
    server.reply(sent, {"content": []})  # too late: nobody waits for it

    assert seen(scene.rows) == [("claude-code", "tools/call", "forecast", Outcome.CANCELLED, None)]
    assert scene.rows[0].outcome_words() == "Cancelled"


async def test_a_call_the_server_dies_during_is_crashed_and_one_mcp_tray_stopped_interrupted(
    scene,
):
    server = await scene.server()
    output, port = scene.app("claude-code")
    port.receive(call("forecast", request_id=1))
    server.take()
    server.closed = True
    scene.relay.session_ended(planned=False, delivered=server.bytes_sent)
    server = await scene.server()
    port.receive(call("forecast", request_id=2))
    server.take()
    server.closed = True
    scene.relay.session_ended(planned=True, delivered=server.bytes_sent)

    assert seen(scene.rows) == [
        ("claude-code", "tools/call", "forecast", Outcome.CRASHED, None),
        ("claude-code", "tools/call", "forecast", Outcome.INTERRUPTED, None),
    ]
    answers = [message for message in output.take() if "id" in message]
    assert [answer["error"]["code"] for answer in answers] == [errors.SERVER_CRASHED] * 2
    assert [row.outcome_words() for row in scene.rows] == [
        "Interrupted: the server stopped",
        "Interrupted: MCP Tray stopped the server",
    ]


async def test_a_list_repeated_on_the_next_process_is_one_row_once_answered(scene):
    server = await scene.server()
    _, port = scene.app("claude-code")
    port.receive(request(1, "resources/read", {"uri": "weather://today"}))
    server.take()
    server.closed = True
    scene.relay.session_ended(planned=False, delivered=server.bytes_sent)
    assert scene.rows == []  # not over: it waits for the next process

    server = await scene.server()
    again = await asyncio.wait_for(server.receive(), 5)  # sent again
    server.reply(again, {"contents": []})
    assert seen(scene.rows) == [("claude-code", "resources/read", None, Outcome.OK, None)]
    assert scene.rows[0].what_words() == "Read a resource"


async def test_what_the_relay_answers_itself_has_no_row(scene):
    await scene.server()
    output, port = scene.app("claude-code")
    port.receive(request(1, "ping"))
    port.receive(request(2, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}}))
    for _ in range(2):
        await asyncio.wait_for(output.receive(), 5)
    assert scene.rows == []


async def test_an_app_is_named_by_its_client_info_or_its_2026_envelope_else_an_app(scene):
    server = await scene.server()
    _, nameless = scene.app(None)
    _, modern = scene.app(None, initialized=False)
    nameless.receive(call("forecast", request_id=1))
    modern.receive(call("forecast", request_id=2, _meta=MODERN_META))
    for sent in server.take():
        server.reply(sent, {"content": []})

    assert sorted(row.app for row in scene.rows) == [UNKNOWN_APP, "zed"]


# ----- the record


def row(seq: int, server: str = "weather", app: str = "cursor", **fields: Any) -> Request:
    values: dict[str, Any] = {
        "at": 1_700_000_000.0 + seq,
        "method": "tools/call",
        "tool": "forecast",
        "duration_s": 0.01,
        "outcome": Outcome.OK,
        **fields,
    }
    return Request(seq=seq, server=server, app=app, **values)


def test_each_server_keeps_its_newest_rows_and_all_servers_read_in_order():
    activity = Activity(kept=3)
    for seq in range(1, 9):
        activity.add(row(seq, server="weather" if seq % 2 else "maps"))

    assert [r.seq for r in activity.rows("weather")] == [3, 5, 7]
    assert [r.seq for r in activity.rows("maps")] == [4, 6, 8]
    assert [r.seq for r in activity.rows()] == [3, 4, 5, 6, 7, 8]
    assert [r.seq for r in activity.rows(app="zed")] == []
    activity.forget("maps")
    assert [r.seq for r in activity.rows()] == [3, 5, 7]
    assert ROWS_KEPT >= 100


def test_rows_filter_by_app():
    activity = Activity()
    for seq, app in enumerate(["cursor", "zed", "cursor"], start=1):
        activity.add(row(seq, app=app))
    assert [r.seq for r in activity.rows(app="cursor")] == [1, 3]
    assert [r.seq for r in activity.rows("weather", app="zed")] == [2]


def test_usage_counts_each_tool_of_each_server_with_its_failures_and_median():
    rows = [
        row(1, duration_s=0.010),
        row(2, duration_s=0.030, outcome=Outcome.ERROR, code=-32602),
        row(3, duration_s=0.020),
        row(4, duration_s=5.0, outcome=Outcome.CANCELLED),
        row(5, server="maps", tool="route", duration_s=1.0, outcome=Outcome.CRASHED),
        row(6, method="tools/list", tool=None, duration_s=0.002),
    ]
    found = [(u.server, u.what, u.calls, u.failed, u.median_s) for u in usage(rows)]
    assert found == [
        ("weather", "forecast", 4, 1, 0.025),
        ("maps", "route", 1, 1, 1.0),
        ("weather", "tools/list", 1, 0, 0.002),
    ]


def test_rows_and_their_event_cross_the_wire_unchanged_and_a_newer_outcome_is_left_out():
    original, newer = row(7, outcome=Outcome.ERROR, code=-32602), row(8)
    assert Request.from_wire(json.loads(json.dumps(original.to_wire()))) == original
    wire = json.loads(json.dumps(to_wire(ActivityRecorded(rows=(original, newer)))))
    assert from_wire(wire) == ActivityRecorded(rows=(original, newer))

    wire["fields"]["rows"][1]["outcome"] = "teleported"
    assert from_wire(wire) == ActivityRecorded(rows=(original,))
    with pytest.raises(ValueError):
        Request.from_wire({**original.to_wire(), "outcome": "teleported"})


async def test_new_rows_are_told_a_batch_at_a_time_not_once_a_request():
    bus = EventBus()
    heard: list[ActivityRecorded] = []
    told = asyncio.Event()

    def hear(event: ActivityRecorded) -> None:
        heard.append(event)
        told.set()

    bus.subscribe(ActivityRecorded, hear)
    activity = Activity(
        on_rows=lambda rows: bus.publish(ActivityRecorded(rows=tuple(rows))), batch_s=0.01
    )
    recorder = activity.recorder("weather")
    for tool in ("forecast", "radar", "alerts"):
        recorder.ended(
            sent_at=0.0, app="cursor", method="tools/call", tool=tool, outcome=Outcome.OK
        )
    assert heard == []  # kept at once, told a moment later
    assert [r.tool for r in activity.rows()] == ["forecast", "radar", "alerts"]

    await asyncio.wait_for(told.wait(), 5)
    assert [[r.tool for r in event.rows] for event in heard] == [["forecast", "radar", "alerts"]]
    assert [r.seq for r in heard[0].rows] == [1, 2, 3]


# ----- reading an answer by its ends


def test_an_answer_is_read_by_its_first_and_last_bytes():
    assert line_outcome(b'{"jsonrpc":"2.0","id":3,"result":{"content":[]}}') == (Outcome.OK, None)
    assert line_outcome(b'{"jsonrpc": "2.0", "id": 3, "error": {"code": -32602, "m": 1}}') == (
        Outcome.ERROR,
        -32602,
    )
    code_later = b'{"jsonrpc":"2.0","id":3,"error":{"message":"no","code":-32001}}'
    assert line_outcome(code_later) == (Outcome.ERROR, -32001)
    long_error = b'{"jsonrpc":"2.0","id":3,"error":{"message":"' + b"x" * 70_000 + b'"}}'
    assert line_outcome(long_error) == (Outcome.ERROR, None)
    failed_tool = b'{"jsonrpc":"2.0","id":3,"result":{"content":[],"isError": true } }\n'
    assert line_outcome(failed_tool) == (Outcome.TOOL_ERROR, None)
    says_is_error = b'{"jsonrpc":"2.0","id":3,"result":{"content":[{"text":"isError: true"}]}}'
    assert line_outcome(says_is_error) == (Outcome.OK, None)


def test_an_apps_name_is_its_own_text_made_safe_to_show():
    assert app_name({"name": "claude-code", "version": "2.0"}) == "claude-code"
    assert app_name({"name": "evil\x1b[31m\nname"}) == "evil[31mname"
    assert app_name({"name": "x" * 500}) == "x" * 64
    assert app_name({"name": ""}) == app_name({}) == app_name(None) == UNKNOWN_APP


def test_durations_read_as_people_say_them():
    assert [took(s) for s in (0.0004, 0.012, 1.23, 59.97, 125)] == [
        "0.4 ms",
        "12 ms",
        "1.2 s",
        "1 min",
        "2 min 5 s",
    ]
