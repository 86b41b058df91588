"""An HTTP session's event store: ids that name one event of one session, a window
bounded by count and by size, replay of one stream only, and a refusal for what it
cannot replay (app.core.endpoint.events)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp.server.streamable_http import GET_STREAM_KEY, EventMessage
from mcp_types import (
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCResponse,
)

from app.core.endpoint.events import SessionEvents

pytestmark = pytest.mark.anyio

WAIT_S = 5.0


def progress(step: int, padding: str = "") -> JSONRPCNotification:
    params: dict[str, Any] = {"progressToken": "p", "progress": step, "message": padding}
    return JSONRPCNotification(jsonrpc="2.0", method="notifications/progress", params=params)


def answer(request_id: str) -> JSONRPCResponse:
    return JSONRPCResponse(jsonrpc="2.0", id=request_id, result={"done": True})


class Received:
    """A replay's send_callback: what it was given."""

    def __init__(self) -> None:
        self.events: list[EventMessage] = []
        self.arrived = anyio.Event()

    async def __call__(self, event: EventMessage) -> None:
        self.events.append(event)
        self.arrived.set()
        self.arrived = anyio.Event()

    @property
    def messages(self) -> list[JSONRPCMessage]:
        return [event.message for event in self.events]


async def test_a_replay_sends_what_followed_on_the_same_stream_and_ends_at_its_answer() -> None:
    store = SessionEvents()
    primed = await store.store_event("1", None)
    first = await store.store_event("1", progress(1))
    await store.store_event("2", progress(10))  # another request's stream
    second = await store.store_event("1", progress(2))
    await store.store_event(GET_STREAM_KEY, progress(20))
    done = await store.store_event("1", answer("1"))
    received = Received()

    with anyio.fail_after(WAIT_S):
        stream = await store.replay_events_after(first, received)

    assert stream is None  # the answer was sent: the transport ends the response
    assert received.messages == [progress(2), answer("1")]
    assert [event.event_id for event in received.events] == [second, done]
    assert len({primed, first, second, done}) == 4
    assert store.unresumable(primed) is None


async def test_a_replay_of_a_request_still_running_goes_on_live_until_its_answer() -> None:
    store = SessionEvents()
    first = await store.store_event("1", progress(1))
    received = Received()
    result: list[str | None] = []

    async def replay() -> None:
        result.append(await store.replay_events_after(first, received))

    with anyio.fail_after(WAIT_S):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(replay)
            arrived = received.arrived
            await store.store_event("1", progress(2))
            await arrived.wait()
            await store.store_event("2", progress(10))
            await store.store_event("1", answer("1"))

    assert received.messages == [progress(2), answer("1")]
    assert result == [None]


async def test_the_get_stream_is_replayed_then_handed_back_to_the_transport() -> None:
    store = SessionEvents()
    first = await store.store_event(GET_STREAM_KEY, progress(1))
    await store.store_event(GET_STREAM_KEY, progress(2))
    received = Received()

    with anyio.fail_after(WAIT_S):
        stream = await store.replay_events_after(first, received)

    assert stream == GET_STREAM_KEY
    assert received.messages == [progress(2)]


async def test_a_replay_waiting_for_more_ends_when_the_session_does() -> None:
    store = SessionEvents()
    first = await store.store_event("1", progress(1))

    with anyio.fail_after(WAIT_S):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(store.replay_events_after, first, Received())
            await anyio.wait_all_tasks_blocked()
            store.close()


async def test_ids_from_another_session_or_never_sent_are_refused_as_bad_requests() -> None:
    ours, theirs = SessionEvents(), SessionEvents()
    mine = await ours.store_event("1", progress(1))
    other = await theirs.store_event("1", progress(1))
    tag, _, seq = mine.partition(".")

    refusals = [
        ours.unresumable(other),
        ours.unresumable(f"{tag}.{int(seq) + 1}"),  # not sent yet
        ours.unresumable(f"{tag}.-1"),
        ours.unresumable(f"{tag}.²"),
        ours.unresumable(f"{tag}.{'9' * 5000}"),
        ours.unresumable("anything"),
    ]

    assert all(r is not None and r.status == 400 for r in refusals)
    assert await ours.replay_events_after(other, Received()) is None


async def test_the_store_keeps_only_its_newest_events_and_refuses_the_evicted_as_gone() -> None:
    store = SessionEvents(max_events=10)
    ids = [await store.store_event("1", progress(step)) for step in range(25)]
    await store.store_event("1", answer("1"))
    received = Received()

    refused = store.unresumable(ids[15])
    kept = store.unresumable(ids[16])
    with anyio.fail_after(WAIT_S):
        await store.replay_events_after(ids[16], received)

    assert refused is not None and refused.status == 410
    assert "no longer kept" in refused.reason
    assert kept is None
    assert received.messages == [*(progress(step) for step in range(17, 25)), answer("1")]


async def test_the_store_keeps_its_events_within_its_byte_bound_evicting_the_oldest() -> None:
    store = SessionEvents(max_bytes=10_000)
    ids = [await store.store_event("1", progress(step, "x" * 1_000)) for step in range(30)]

    assert 9_000 < store.kept_bytes <= 10_000
    assert store.unresumable(ids[20]) is not None
    assert store.unresumable(ids[-2]) is None


async def test_a_message_larger_than_the_bound_is_not_kept_and_a_resume_over_it_is_gone() -> None:
    """A 20 MiB result is sent live, but keeping it would hold 20 MiB per session."""
    store = SessionEvents()
    before = await store.store_event("1", progress(1))
    other = await store.store_event("2", progress(1))
    huge = await store.store_event("1", progress(2, "x" * (20 * 1024 * 1024)))
    after = await store.store_event("1", progress(3))
    await store.store_event("2", answer("2"))
    received = Received()

    refused = store.unresumable(before)
    with anyio.fail_after(WAIT_S):
        await store.replay_events_after(other, received)

    assert store.kept_bytes < 1_000
    assert refused is not None and refused.status == 410 and "larger" in refused.reason
    assert store.unresumable(huge) is None and store.unresumable(after) is None
    assert received.messages == [answer("2")]  # another stream goes on unharmed
    assert await store.replay_events_after(before, Received()) is None


async def test_a_replay_waiting_for_an_answer_ends_when_its_request_is_cancelled() -> None:
    """No answer comes to a cancelled request: the resumed stream must not wait for
    the session's end."""
    store = SessionEvents()
    first = await store.store_event("1", progress(1))
    received = Received()
    result: list[str | None] = []

    async def replay() -> None:
        result.append(await store.replay_events_after(first, received))

    with anyio.fail_after(WAIT_S):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(replay)
            await anyio.wait_all_tasks_blocked()
            store.cancelled("1")

    assert result == [None] and received.messages == []
    assert store.unresumable(first) is None  # still a known id; its replay simply ends
