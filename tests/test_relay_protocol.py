"""The relay's protocol semantics (DESIGN "Relay semantics"), seen by attached clients.

A real Hub runs in this test's event loop and supervises tests/servers/rich.py.
Clients attach through the control socket's ``attach`` op and then speak MCP
NDJSON by hand (``RawClient``), so every id, token and notification is under
the test's control; where realism matters (sampling answered by an editor),
the SDK's client runs through the real ``mcp-tray attach`` command. What the
server received is read back from the server itself: it announces each
subscribe, unsubscribe, setLevel, start and cancellation as a log entry, which
the relay broadcasts, so tests wait for those instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest

from app.core.rpc.relay import LAST_ANSWERS_S
from tests.relaykit import (
    Matcher,
    Message,
    RawClient,
    Tray,
    is_event,
    is_notification,
    is_request,
    is_response,
    result_text,
    rich_entry,
    tray_in,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # module scope: one hub serves the whole module, on one loop


@pytest.fixture(scope="module")
async def shared_tray(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Tray]:
    """One hub for the tests that leave it as they found it (starting one takes a second)."""
    async with tray_in(tmp_path_factory.mktemp("home")) as running:
        yield running


@pytest.fixture
async def tray(shared_tray: Tray) -> AsyncIterator[Tray]:
    """The shared hub; the clients a test attached are closed after it."""
    try:
        yield shared_tray
    finally:
        await shared_tray.close_clients()


@pytest.fixture
async def own_tray(tray_home: Path) -> AsyncIterator[Tray]:
    """A hub of this test's own, for tests that stop or may break the server."""
    async with tray_in(tray_home) as running:
        yield running


# ----- ids and progress tokens


async def test_two_clients_with_identical_request_ids_and_progress_tokens_get_their_own_answers(
    tray: Tray,
) -> None:
    first, second = await tray.attach(), await tray.attach()

    for client, steps in ((first, 3), (second, 5)):
        client.start(
            "tools/call",
            {"name": "progress", "arguments": {"steps": steps}, "_meta": {"progressToken": "p"}},
            request_id=1,
        )
    answers = [result_text(await c.response(1)) for c in (first, second)]
    await first.barrier()
    await second.barrier()

    assert answers == ["done 3", "done 5"]
    for client, steps in ((first, 3), (second, 5)):
        progress = client.received(is_notification("notifications/progress"))
        assert [p["params"] for p in progress] == [
            {"progressToken": "p", "progress": step, "total": steps} for step in range(1, steps + 1)
        ]


async def test_one_clients_ids_1_and_string_1_are_different_requests(tray: Tray) -> None:
    client = await tray.attach()

    client.start("tools/call", {"name": "progress", "arguments": {"steps": 1}}, request_id=1)
    client.start("tools/call", {"name": "progress", "arguments": {"steps": 2}}, request_id="1")

    assert result_text(await client.response(1)) == "done 1"
    assert result_text(await client.response("1")) == "done 2"


# ----- what the hub answers itself


def initialize_params(name: str, **capabilities: Any) -> Message:
    return {
        "protocolVersion": "2025-11-25",
        "capabilities": capabilities,
        "clientInfo": {"name": name, "version": "1"},
    }


async def test_initialize_is_answered_from_the_cached_handshake_with_the_same_server_info(
    tray: Tray,
) -> None:
    first, second = await tray.attach(), await tray.attach()

    answers = [
        await first.request("initialize", initialize_params("first")),
        await second.request("initialize", initialize_params("second", sampling={})),
    ]

    assert answers[0]["result"] == answers[1]["result"]
    assert answers[0]["result"]["serverInfo"] == {"name": "rich", "version": "7.7.7"}
    assert answers[0]["result"]["capabilities"]["resources"]["subscribe"] is True


async def test_ping_and_initialize_are_answered_by_the_hub_while_the_server_is_stopped(
    own_tray: Tray,
) -> None:
    client = await own_tray.attach()
    warm = await client.request("initialize", initialize_params("warm"))
    await own_tray.control("stop", name="rich")
    assert (await own_tray.status())["state"] == "stopped"

    ping = await client.request("ping", request_id="are you there")
    cold = await (await own_tray.attach()).request("initialize", initialize_params("cold"))

    assert ping == {"jsonrpc": "2.0", "id": "are you there", "result": {}}
    assert cold["result"] == warm["result"]


async def test_server_discover_is_refused_with_method_not_found(tray: Tray) -> None:
    client = await tray.attach()

    answer = await client.request("server/discover", {})

    assert answer["error"]["code"] == -32601
    assert "initialize" in answer["error"]["message"]


# ----- cancellation


async def test_cancelling_a_request_cancels_it_upstream_and_spares_another_clients_same_id(
    tray: Tray,
) -> None:
    first, second = await tray.attach(), await tray.attach()
    first.start("tools/call", {"name": "hold", "arguments": {"label": "cancel-a"}}, request_id=5)
    second.start("tools/call", {"name": "hold", "arguments": {"label": "cancel-b"}}, request_id=5)
    await first.wait_for(is_event("started", label="cancel-a"))
    await first.wait_for(is_event("started", label="cancel-b"))

    await first.notify("notifications/cancelled", {"requestId": 5, "reason": "changed my mind"})
    await second.wait_for(is_event("cancelled", label="cancel-a"))
    assert await first.call("release", label="cancel-b") == "released"

    assert result_text(await second.response(5)) == "released cancel-b"
    await first.barrier()
    assert first.received(is_response(5)) == []  # a cancelled request is never answered
    cancelled = [e["label"] for e in await tray.server_events(first) if e["event"] == "cancelled"]
    assert "cancel-a" in cancelled
    assert "cancel-b" not in cancelled


async def test_a_client_that_disconnects_mid_request_has_the_request_cancelled_upstream(
    tray: Tray,
) -> None:
    leaving, staying = await tray.attach(), await tray.attach()
    leaving.start("tools/call", {"name": "hold", "arguments": {"label": "orphan"}})
    await staying.wait_for(is_event("started", label="orphan"))

    await leaving.close()

    # At once: a client gone altogether is not one that only closed its side, whose
    # answers are waited for (LAST_ANSWERS_S).
    await staying.wait_for(is_event("cancelled", label="orphan"), timeout=LAST_ANSWERS_S / 2)
    assert await staying.call("progress", steps=1) == "done 1"


# ----- subscriptions


async def subscribe(client: RawClient, uri: str) -> Message:
    return await client.request("resources/subscribe", {"uri": uri})


async def unsubscribe(client: RawClient, uri: str) -> Message:
    return await client.request("resources/unsubscribe", {"uri": uri})


def updated(uri: str) -> Matcher:
    return is_notification("notifications/resources/updated", uri=uri)


async def upstream(tray: Tray, client: RawClient, event: str, uri: str) -> int:
    """How many ``event`` (subscribe, unsubscribe) for ``uri`` the server has received."""
    return sum(1 for e in await tray.server_events(client) if e == {"event": event, "uri": uri})


async def test_two_subscribers_share_one_upstream_subscription_and_only_they_get_updates(
    tray: Tray,
) -> None:
    uri = "rich://shared"
    first, second, bystander = await tray.attach(), await tray.attach(), await tray.attach()

    answers = [(await subscribe(client, uri)).get("result") for client in (first, second)]
    assert await bystander.call("touch", uri=uri) == "touched"

    assert answers == [{}, {}]
    await first.wait_for(updated(uri))
    await second.wait_for(updated(uri))
    await bystander.barrier()
    assert bystander.received(updated(uri)) == []
    assert await upstream(tray, bystander, "subscribe", uri) == 1


async def test_the_upstream_subscription_ends_only_when_the_last_subscriber_unsubscribes(
    tray: Tray,
) -> None:
    uri = "rich://unsubscribed"
    first, second = await tray.attach(), await tray.attach()
    await subscribe(first, uri)
    await subscribe(second, uri)

    assert (await unsubscribe(first, uri))["result"] == {}
    assert await first.call("touch", uri=uri) == "touched"
    await second.wait_for(updated(uri))
    await first.barrier()
    assert first.received(updated(uri)) == []
    assert await upstream(tray, first, "unsubscribe", uri) == 0

    assert (await unsubscribe(second, uri))["result"] == {}
    assert await upstream(tray, first, "unsubscribe", uri) == 1


async def test_the_last_subscriber_disconnecting_ends_the_upstream_subscription(
    tray: Tray,
) -> None:
    uri = "rich://abandoned"
    leaving, staying = await tray.attach(), await tray.attach()
    await subscribe(leaving, uri)

    await leaving.close()

    await staying.wait_for(is_event("unsubscribe", uri=uri))


async def test_a_subscription_the_server_refused_is_not_answered_as_a_success_to_others(
    tray: Tray,
) -> None:
    first, second = await tray.attach(), await tray.attach()

    refused_first = await subscribe(first, "rich://refused")
    refused_second = await subscribe(second, "rich://refused")

    assert refused_first["error"]["message"] == "rich://refused cannot be subscribed to"
    assert "error" in refused_second, "the hub said yes where the server said no"


# ----- config changes


async def test_a_config_change_restarts_the_server_without_failing_a_request(
    own_tray: Tray,
) -> None:
    client = await own_tray.attach()
    pid = (await own_tray.status())["pid"]
    seen = len(own_tray.events.events)
    changed = {"mcpServers": {"rich": rich_entry(env={"CHANGED": "1"})}}
    (own_tray.home / "config.json").write_text(json.dumps(changed))  # the hub watches it

    await own_tray.events.wait_for_state("stopping", after=seen)
    # Sent while the old process is going and the new one not yet there.
    during = [asyncio.ensure_future(client.call("progress", steps=1)) for _ in range(5)]
    await own_tray.events.wait_for_state("running", after=seen)
    answers = await asyncio.gather(*during)

    assert answers == ["done 1"] * 5
    assert (await own_tray.status())["pid"] != pid


# ----- server -> client requests


async def test_a_sampling_request_goes_to_the_client_that_declared_sampling_and_back(
    tray: Tray,
) -> None:
    prompts: list[str] = []

    async def sample(context: Any, params: types.CreateMessageRequestParams) -> Any:
        prompts.append(params.messages[0].content.text)  # type: ignore[union-attr]
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(text="a haiku"), model="test-model"
        )

    asking = await tray.attach()
    await asking.request("initialize", initialize_params("asking"))
    async with asyncio.timeout(60), tray.sdk_client(sampling_callback=sample) as editor:
        answer = await asking.call("sample", prompt="write a haiku")
        own = await editor.call_tool("sample", {"prompt": "and another"})

    assert answer == "a haiku"
    assert own.content[0].text == "a haiku"  # type: ignore[union-attr]
    assert prompts == ["write a haiku", "and another"]


async def test_a_sampling_request_with_no_capable_client_gets_an_error_answer(tray: Tray) -> None:
    client = await tray.attach()
    await client.request("initialize", initialize_params("no sampling"))

    answer = await client.call("sample", prompt="anyone?")

    assert answer.startswith("error -31006: no attached client can answer sampling/createMessage")


async def test_a_sampling_request_whose_client_leaves_without_answering_gets_an_error(
    tray: Tray,
) -> None:
    asking, sampler = await tray.attach(), await tray.attach()
    await sampler.request("initialize", initialize_params("sampler", sampling={}))
    request_id = asking.start("tools/call", {"name": "sample", "arguments": {"prompt": "hi"}})
    await sampler.wait_for(is_request("sampling/createMessage"))

    await sampler.close()

    # The hub answers at once; a short bound keeps the known failure cheap.
    answer = await asking.response(request_id, timeout=3.0)
    assert result_text(answer).startswith("error ")


def sampled(text: str) -> Message:
    return {"role": "assistant", "content": {"type": "text", "text": text}, "model": "m"}


async def test_only_the_client_a_sampling_request_went_to_can_answer_it(tray: Tray) -> None:
    asking, sampler, impostor = await tray.attach(), await tray.attach(), await tray.attach()
    await sampler.request("initialize", initialize_params("sampler", sampling={}))
    request_id = asking.start("tools/call", {"name": "sample", "arguments": {"prompt": "hi"}})
    routed = await sampler.wait_for(is_request("sampling/createMessage"))

    impostor.send({"jsonrpc": "2.0", "id": routed["id"], "result": sampled("impostor")})
    await impostor.barrier()
    sampler.send({"jsonrpc": "2.0", "id": routed["id"], "result": sampled("genuine")})

    assert result_text(await asking.response(request_id)) == "genuine"


# ----- restarts


async def test_log_level_and_subscriptions_are_replayed_to_a_restarted_server(
    tray: Tray,
) -> None:
    uri = "rich://replayed"
    client = await tray.attach()
    assert (await client.request("logging/setLevel", {"level": "warning"}))["result"] == {}
    await subscribe(client, uri)
    pid = (await tray.status())["pid"]

    await tray.control("restart", name="rich")

    assert (await tray.status())["pid"] != pid
    records = await tray.server_events(client)  # the new process's own record
    assert {"event": "subscribe", "uri": uri} in records
    assert {"event": "setLevel", "level": "warning"} in records
    assert await client.call("touch", uri=uri) == "touched"
    await client.wait_for(updated(uri))


async def test_every_client_is_told_the_lists_changed_after_a_restart(tray: Tray) -> None:
    first, second = await tray.attach(), await tray.attach()

    await tray.control("restart", name="rich")

    for client in (first, second):
        for kind in ("tools", "prompts", "resources"):
            await client.wait_for(is_notification(f"notifications/{kind}/list_changed"))


async def test_a_subscribe_during_the_replay_to_a_restarted_server_does_not_break_it(
    own_tray: Tray,
) -> None:
    # The replay of rich://slow-subscribe takes seconds on the server; a new
    # subscription arriving meanwhile must wait its turn, not break the replay.
    client = await own_tray.attach()
    await subscribe(client, "rich://slow-subscribe")
    client.inbox.clear()

    restart = asyncio.create_task(own_tray.control("restart", name="rich"))
    await client.wait_for(is_event("subscribe", uri="rich://slow-subscribe"))
    late = client.start("resources/subscribe", {"uri": "rich://late"})
    await restart

    assert (await own_tray.status())["state"] == "running"
    assert (await client.response(late))["result"] == {}
    assert await client.call("touch", uri="rich://late") == "touched"
    await client.wait_for(updated("rich://late"))
