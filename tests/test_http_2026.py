"""Spec revision 2026-07-28 at the HTTP endpoint: each request a POST of its own, with
no session, relayed to a server the hub speaks to in the handshake era (the rich
server). Raw HTTP where the wire matters (JSON or SSE, statuses, headers), and the
SDK's own client in 2026-07-28 mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import ElicitResult

from app.core.endpoint.exchange import Exchanges
from app.core.endpoint.http import server_url
from tests.relaykit import WAIT_S, rich_entry
from tests.test_http_endpoint import http_tray, own_endpoint

pytestmark = pytest.mark.anyio

REVISION = "2026-07-28"
NAME_BEARING = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


def request(
    request_id: Any, method: str, params: dict[str, Any] | None = None, **capabilities: Any
) -> dict[str, Any]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": REVISION,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    }
    given = dict(params or {})
    given["_meta"] = {**given.get("_meta", {}), **meta}
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": given}


def headers_for(token: str, message: dict[str, Any]) -> dict[str, str]:
    """The headers a 2026-07-28 client sends with ``message``."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": REVISION,
        "Mcp-Method": message["method"],
    }
    if (key := NAME_BEARING.get(message["method"])) is not None:
        headers["Mcp-Name"] = message["params"][key]
    return headers


async def post(http: httpx2.AsyncClient, url: str, token: str, message: dict[str, Any]) -> Any:
    return await http.post(url, headers=headers_for(token, message), json=message)


def sse_messages(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]


async def test_lists_and_calls_are_single_posts_answered_with_json_and_no_session(
    tray_home: Path,
) -> None:
    async with http_tray(tray_home) as (tray, token), httpx2.AsyncClient(timeout=WAIT_S) as http:
        url = server_url(tray.hub.config.http.port, "rich")
        listed = await post(http, url, token, request(1, "tools/list"))
        called = await post(
            http,
            url,
            token,
            request(2, "tools/call", {"name": "big", "arguments": {"megabytes": 0}}),
        )
        found = await post(http, url, token, request(3, "server/discover"))

    assert listed.status_code == 200
    assert listed.headers["content-type"] == "application/json"
    assert "mcp-session-id" not in listed.headers
    assert {"progress", "sample", "ask"} <= {t["name"] for t in listed.json()["result"]["tools"]}
    assert listed.json()["result"]["resultType"] == "complete"
    assert called.json()["id"] == 2 and called.json()["result"]["isError"] is False
    discovered = found.json()["result"]
    assert REVISION in discovered["supportedVersions"]
    assert discovered["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "rich"


async def test_progress_before_the_answer_makes_the_answer_a_stream(tray_home: Path) -> None:
    call = request(
        "p",
        "tools/call",
        {"name": "progress", "arguments": {"steps": 3}, "_meta": {"progressToken": 9}},
    )
    async with http_tray(tray_home) as (tray, token), httpx2.AsyncClient(timeout=WAIT_S) as http:
        answer = await post(http, server_url(tray.hub.config.http.port, "rich"), token, call)

    assert answer.headers["content-type"] == "text/event-stream"
    messages = sse_messages(answer.text)
    assert [m["params"]["progress"] for m in messages[:-1]] == [1, 2, 3]
    assert all(m["params"]["progressToken"] == 9 for m in messages[:-1])
    assert messages[-1]["id"] == "p" and messages[-1]["result"]["content"][0]["text"] == "done 3"


async def test_headers_that_disagree_with_the_body_are_refused_and_notifications_acknowledged(
    tray_home: Path,
) -> None:
    call = request(4, "tools/call", {"name": "big", "arguments": {"megabytes": 0}})
    async with http_tray(tray_home) as (tray, token), httpx2.AsyncClient(timeout=WAIT_S) as http:
        url = server_url(tray.hub.config.http.port, "rich")
        wrong_name = await http.post(
            url, headers={**headers_for(token, call), "Mcp-Name": "x"}, json=call
        )
        no_header = await http.post(
            url, headers={"Authorization": f"Bearer {token}", **_ACCEPT}, json=call
        )
        wrong_version = await http.post(
            url,
            headers={**headers_for(token, call), "MCP-Protocol-Version": "2099-01-01"},
            json=call,
        )
        notified = await http.post(
            url,
            headers=headers_for(token, {"method": "notifications/cancelled"}),
            json={
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": {"requestId": 1},
            },
        )
        without_token = await post(http, url, "wrong", call)

    assert wrong_name.status_code == 400 and wrong_name.json()["error"]["code"] == -32020
    assert no_header.status_code == 400 and no_header.json()["error"]["code"] == -32020
    assert wrong_version.status_code == 400
    assert notified.status_code == 202
    assert without_token.status_code == 401


_ACCEPT = {"Accept": "application/json, text/event-stream"}


async def test_a_server_s_sampling_during_a_call_is_a_round_trip_over_two_posts(
    tray_home: Path,
) -> None:
    call = {"name": "sample", "arguments": {"prompt": "hello?"}}
    reply = {"role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "test"}
    async with http_tray(tray_home) as (tray, token), httpx2.AsyncClient(timeout=WAIT_S) as http:
        url = server_url(tray.hub.config.http.port, "rich")
        first = (await post(http, url, token, request(1, "tools/call", call, sampling={}))).json()
        asked = first["result"]
        (key,) = asked["inputRequests"]
        retry = {**call, "inputResponses": {key: reply}, "requestState": asked["requestState"]}
        second = (await post(http, url, token, request(2, "tools/call", retry, sampling={}))).json()
        again = (await post(http, url, token, request(3, "tools/call", retry, sampling={}))).json()

    assert asked["resultType"] == "input_required"
    assert asked["inputRequests"][key]["method"] == "sampling/createMessage"
    assert second["id"] == 2 and second["result"]["content"][0]["text"] == "hi"
    assert again["error"]["code"] == -32602
    assert again["error"]["data"]["reason"] == "replayed_request_state"


async def test_the_sdk_client_in_2026_mode_lists_calls_and_answers_an_elicitation(
    tray_home: Path,
) -> None:
    async def elicit(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"name": "Alice"})

    async with http_tray(tray_home) as (tray, token):
        url = server_url(tray.hub.config.http.port, "rich")
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
            transport = streamable_http_client(url, http_client=http)
            async with Client(
                transport, mode=REVISION, elicitation_callback=elicit, read_timeout_seconds=WAIT_S
            ) as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
                done = await client.call_tool("progress", {"steps": 2})
                asked = await client.call_tool("ask", {"question": "name?"})

    assert {"progress", "ask"} <= tools
    # content is a union of block types; the rich server answers with text only
    assert done.content[0].text == "done 2"  # type: ignore[union-attr]
    assert asked.content[0].text == "accept Alice"  # type: ignore[union-attr]  # as above


async def test_a_client_that_closes_its_stream_cancels_its_call_upstream(tray_home: Path) -> None:
    hold = request("h", "tools/call", {"name": "hold", "arguments": {"label": "gone"}})
    async with http_tray(tray_home) as (tray, token), httpx2.AsyncClient(timeout=WAIT_S) as http:
        url = server_url(tray.hub.config.http.port, "rich")
        with anyio.fail_after(WAIT_S):
            async with anyio.create_task_group() as calls:
                calls.start_soon(post, http, url, token, hold)
                await _until_event(http, url, token, "started")
                calls.cancel_scope.cancel()  # the connection closes under the call
            await _until_event(http, url, token, "cancelled")


LOOKS = 200  # calls to the events tool, each a round trip to the server, before giving up


async def _until_event(http: httpx2.AsyncClient, url: str, token: str, event: str) -> None:
    """Until the rich server has recorded ``event`` for label "gone". The server records
    it as it handles the call, and says so to no one a 2026 exchange hears: each look is
    a call, and each waits for the server's last one, so at most LOOKS of them."""
    for _ in range(LOOKS):
        look = request("look", "tools/call", {"name": "events", "arguments": {}})
        seen = json.loads(
            (await post(http, url, token, look)).json()["result"]["content"][0]["text"]
        )
        if {"event": event, "label": "gone"} in seen:
            return
    raise AssertionError(f"the rich server recorded no {event!r} in {LOOKS} looks")


async def test_a_request_to_an_unshared_server_is_refused_and_starts_no_process(
    tray_home: Path,
) -> None:
    servers = {"rich": rich_entry(), "solo": rich_entry(shared=False)}
    async with (
        http_tray(tray_home, servers) as (tray, token),
        httpx2.AsyncClient(timeout=WAIT_S) as http,
    ):
        url = server_url(tray.hub.config.http.port, "solo")
        listed = await post(http, url, token, request(1, "tools/list"))
        called = await post(
            http, url, token, request(2, "tools/call", {"name": "big", "arguments": {"x": 1}})
        )
        instances = [name for name in tray.hub.supervisors if name.startswith("solo#")]

    assert listed.status_code == 400 and called.status_code == 400
    error = listed.json()["error"]
    assert error["code"] == -32022  # the SDK's client then opens a session, as it should
    assert "2025-11-25" in error["data"]["supported"]
    assert '"shared": false' in error["message"] and "Open a session" in error["message"]
    assert called.json()["error"]["code"] == -32022
    assert instances == []


async def test_a_server_keeps_only_its_newest_input_required_rounds(tray_home: Path) -> None:
    call = {"name": "sample", "arguments": {"prompt": "hello?"}}
    reply = {"role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "test"}
    async with (
        http_tray(tray_home) as (tray, _),
        own_endpoint(tray, exchanges=Exchanges(parked_per_server=1)) as (endpoint, token),
        httpx2.AsyncClient(timeout=WAIT_S) as http,
    ):
        url = server_url(endpoint.settings.port, "rich")
        rounds = [
            (await post(http, url, token, request(n, "tools/call", call, sampling={}))).json()[
                "result"
            ]
            for n in (1, 2)
        ]
        answers = []
        for n, asked in enumerate(rounds, start=3):
            (key,) = asked["inputRequests"]
            retry = {
                **call,
                "inputResponses": {key: reply},
                "requestState": asked["requestState"],
            }
            answer = await post(http, url, token, request(n, "tools/call", retry, sampling={}))
            answers.append(answer.json())

    first, second = answers
    # Let go when the second was parked: the relay takes its state for spent.
    assert first["error"]["code"] == -32602
    assert first["error"]["data"]["reason"] == "replayed_request_state"
    assert second["result"]["content"][0]["text"] == "hi"
