"""The relay's rules for clients of spec revision 2026-07-28, whose server the hub
speaks to in the handshake era: each on a Relay with in-memory clients and a fake
server (tests/core/test_relay_unit.py sets the scene). The SDK's own 2026 client
through ``mcp-tray attach`` is in tests/test_revision_2026.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.core.rpc import errors
from app.core.rpc.envelope import notification, result
from app.core.rpc.framing import Message
from app.core.rpc.modern import ROUNDS_PER_CLIENT, ROUNDS_PER_RELAY
from app.core.rpc.port import MemoryClient
from app.core.rpc.relay import Relay
from tests.core import test_relay_unit
from tests.core.fake_backend import FakeBackend
from tests.core.test_relay_unit import Scene, bounded, call, turn

pytestmark = pytest.mark.anyio

scene = test_relay_unit.scene  # the same fixture: its clients, 2026 ones too, closed after

CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
ENVELOPE: dict[str, Any] = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    CAPABILITIES_KEY: {"elicitation": {}, "sampling": {}},
    "io.modelcontextprotocol/clientInfo": {"name": "new-editor", "version": "1"},
    "io.modelcontextprotocol/logLevel": "info",
}


class ModernEditor(MemoryClient):
    """A 2026-07-28 client: no initialize, its envelope on every request."""

    def __init__(self, relay: Relay, capabilities: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.port = relay.attach(self)
        self.envelope = dict(ENVELOPE)
        if capabilities is not None:
            self.envelope[CAPABILITIES_KEY] = capabilities

    def request(
        self,
        request_id: Any,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        meta: dict[str, Any] | None = None,
    ) -> None:
        request_params = {**(params or {}), "_meta": {**self.envelope, **(meta or {})}}
        self.port.receive(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": request_params}
        )

    async def next(self) -> Message:
        return await bounded(self.receive())


def modern(s: Scene) -> ModernEditor:
    return s.keep(ModernEditor(s.relay))


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
        # With the flags that promise notifications: subscriptions/listen delivers them.
        "capabilities": {"tools": {"listChanged": True}, "resources": {"subscribe": True}},
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


async def test_what_2026_removed_gets_a_precise_error(scene):
    s = scene()
    server, editor = await s.server(), modern(s)
    editor.request(2, "resources/subscribe", {"uri": "a://b"})
    editor.request(3, "logging/setLevel", {"level": "debug"})
    subscribe, level = editor.take()
    assert subscribe["error"]["code"] == level["error"]["code"] == errors.METHOD_NOT_FOUND
    assert "2026-07-28" in subscribe["error"]["message"]
    assert server.take() == []


# ----- the server's requests during a 2026 call: multi-round-trip requests

ELICIT = {"message": "Your name?", "requestedSchema": {"type": "object", "properties": {}}}


def asks(server_id: Any, method: str = "elicitation/create") -> Message:
    return {"jsonrpc": "2.0", "id": server_id, "method": method, "params": ELICIT}


def input_required(answer: Message) -> tuple[str, dict[str, Any], str]:
    """The key, input request and requestState of an input_required answer asking one thing."""
    value = answer["result"]
    assert value["resultType"] == "input_required"
    ((key, asked),) = value["inputRequests"].items()
    return key, asked, value["requestState"]


def retry(editor: ModernEditor, request_id: Any, state: Any, **answers: Any) -> None:
    given = {**call("ask"), "inputResponses": answers, "requestState": state}
    editor.request(request_id, "tools/call", given)


async def parked(s: Scene) -> tuple[FakeBackend, ModernEditor, Message, str, str]:
    """A 2026 client's call whose server asked for elicitation (id 70): the call
    upstream, the input key and the state the client was given."""
    server, editor = await s.server(), modern(s)
    editor.request(1, "tools/call", call("ask"))
    (sent,) = server.take()
    server.say(asks(70))
    key, _, state = input_required(editor.take()[0])
    return server, editor, sent, key, state


async def test_the_servers_elicitation_during_a_2026_call_answers_it_input_required(scene):
    s = scene()
    server, editor = await s.server(), modern(s)
    editor.request(1, "tools/call", call("ask"))
    server.take()
    server.say(asks(70))
    (answer,) = editor.take()
    assert answer["id"] == 1
    _key, asked, state = input_required(answer)
    assert asked == {"method": "elicitation/create", "params": ELICIT}
    assert len(state) >= 32  # opaque and unguessable
    assert server.take() == []  # the call and the server's request both wait


async def test_the_retry_answers_the_server_and_gets_the_calls_result(scene):
    s = scene()
    server, editor, sent, key, state = await parked(s)
    accepted = {"action": "accept", "content": {"name": "Ada"}}
    retry(editor, 2, state, **{key: accepted})
    assert server.take() == [result(70, accepted)]  # the server's own id
    server.reply(sent, {"content": []})
    assert editor.take() == [result(2, {"resultType": "complete", "content": []})]


async def test_a_server_asking_again_gives_the_retry_another_input_required(scene):
    s = scene()
    server, editor, sent, key, state = await parked(s)
    retry(editor, 2, state, **{key: {"action": "accept", "content": {}}})
    server.take()
    server.say(asks(71, "sampling/createMessage"))
    second_key, asked, second_state = input_required(await editor.next())
    assert asked["method"] == "sampling/createMessage" and second_state != state
    sampled = {"role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "m"}
    retry(editor, 3, second_state, **{second_key: sampled})
    assert server.take() == [result(71, sampled)]
    server.reply(sent, {"content": []})
    assert (await editor.next())["id"] == 3


async def test_a_request_state_is_good_once_and_only_for_the_client_it_was_given_to(scene):
    s = scene()
    server, editor, _sent, key, state = await parked(s)
    other = modern(s)
    retry(other, 1, state, **{key: {"action": "decline"}})
    retry(editor, 2, "made-up", **{key: {"action": "decline"}})
    retry(editor, 3, state, **{key: {"action": "decline"}})
    retry(editor, 4, state, **{key: {"action": "decline"}})
    (stolen,) = other.take()
    unknown, replayed = editor.take()  # the good one goes on upstream: no answer yet
    assert (
        stolen["error"]["data"] == unknown["error"]["data"] == {"reason": "unknown_request_state"}
    )
    assert stolen["error"]["code"] == errors.INVALID_PARAMS
    assert replayed["error"]["data"] == {"reason": "replayed_request_state"}
    assert server.take() == [result(70, {"action": "decline"})]  # once


async def test_a_retry_of_another_request_or_without_the_answers_is_refused_and_may_be_made_again(
    scene,
):
    s = scene()
    server, editor, _sent, key, state = await parked(s)
    editor.request(2, "tools/call", {**call("other"), "inputResponses": {}, "requestState": state})
    retry(editor, 3, state)
    wrong, empty = editor.take()
    assert wrong["error"]["data"] == {"reason": "request_mismatch"}
    assert empty["error"]["data"] == {"reason": "missing_input_responses"}
    assert key in empty["error"]["message"]
    retry(editor, 4, state, **{key: {"action": "cancel"}})
    assert server.take() == [result(70, {"action": "cancel"})]


async def test_a_client_that_never_retries_has_its_call_cancelled_and_the_server_answered(scene):
    s = scene(round_s=0.01)
    server, editor, sent, key, state = await parked(s)
    cancelled = await bounded(server.receive())
    refused = await bounded(server.receive())
    assert cancelled == notification(
        "notifications/cancelled", {"requestId": sent["id"], "reason": "the client did not retry"}
    )
    assert refused["id"] == 70 and refused["error"]["code"] == errors.NO_CLIENT_FOR_REQUEST
    retry(editor, 2, state, **{key: {"action": "decline"}})
    assert editor.take()[0]["error"]["data"] == {"reason": "expired_request_state"}


async def test_a_client_that_leaves_while_its_call_is_parked_has_it_cancelled(scene):
    s = scene()
    server, editor, sent, _, _ = await parked(s)
    editor.port.close()
    cancelled, refused = server.take()
    assert cancelled["params"]["requestId"] == sent["id"]
    assert refused == errors.client_left(70)


async def test_a_parked_call_is_no_stall_of_the_server(scene):
    s = scene()
    _server, editor, _sent, key, state = await parked(s)
    assert s.relay.waiting_since() is None  # the server waits on the client
    retry(editor, 2, state, **{key: {"action": "decline"}})
    assert s.relay.waiting_since() is not None


async def test_a_crash_while_a_call_is_parked_fails_its_retry_as_a_crashed_call(scene):
    s = scene()
    server, editor, _sent, key, state = await parked(s)
    s.crash(server)
    assert editor.take() == []  # nothing to answer: the client holds an answer already
    fresh = await s.server()
    retry(editor, 2, state, **{key: {"action": "accept", "content": {}}})
    (lost,) = editor.take()
    assert lost["id"] == 2 and lost["error"]["code"] == errors.SERVER_CRASHED
    assert fresh.take() == []  # neither the call nor the old process's request goes on


async def test_a_crash_after_the_retry_fails_the_retry_as_a_crashed_call(scene):
    s = scene()
    server, editor, _sent, key, state = await parked(s)
    retry(editor, 2, state, **{key: {"action": "decline"}})
    s.crash(server)
    (lost,) = editor.take()
    assert lost["id"] == 2 and lost["error"]["code"] == errors.SERVER_CRASHED


async def test_a_parked_read_whose_server_crashed_is_read_again_on_its_retry(scene):
    s = scene()
    server, editor = await s.server(), modern(s)
    editor.request(1, "resources/read", {"uri": "a://b"})
    server.take()
    server.say(asks(70))
    key, _, state = input_required(editor.take()[0])
    s.crash(server)
    fresh = await s.server()
    given = {"uri": "a://b", "inputResponses": {key: {"action": "decline"}}, "requestState": state}
    editor.request(2, "resources/read", given)
    (again,) = fresh.take()
    assert again["method"] == "resources/read" and again["params"] == {"uri": "a://b"}


async def test_the_servers_answer_while_the_call_is_parked_is_given_to_the_retry(scene):
    s = scene()
    server, editor, sent, _key, state = await parked(s)
    server.say(notification("notifications/cancelled", {"requestId": 70, "reason": "gave up"}))
    server.reply(sent, {"content": [], "isError": True})
    assert editor.take() == []
    retry(editor, 2, state)  # the withdrawn request needs no answer
    assert editor.take() == [result(2, {"resultType": "complete", "content": [], "isError": True})]
    assert server.take() == []


async def test_a_second_request_of_the_server_while_parked_is_asked_on_the_retry(scene):
    s = scene()
    server, editor, _sent, key, state = await parked(s)
    server.say(asks(71, "roots/list"))  # the client did not declare roots: not for it
    server.say(asks(72))
    assert server.take() == [result(71, {"roots": []})]
    retry(editor, 2, state, **{key: {"action": "decline"}})
    assert server.take() == [result(70, {"action": "decline"})]
    second_key, asked, _ = input_required(editor.take()[0])
    assert second_key != key and asked["params"] == ELICIT


async def test_roots_are_asked_of_a_2026_client_that_declared_them(scene):
    s = scene()
    server, editor = await s.server(), modern(s)
    editor.request(1, "prompts/get", {"name": "p"}, meta={CAPABILITIES_KEY: {"roots": {}}})
    server.take()
    server.say({"jsonrpc": "2.0", "id": 5, "method": "roots/list"})
    _, asked, _ = input_required(editor.take()[0])
    assert asked == {"method": "roots/list", "params": {}}


async def test_a_2026_client_that_did_not_declare_the_capability_is_not_asked(scene):
    s = scene()
    server, editor = await s.server(), modern(s)
    editor.request(1, "tools/call", call("ask"), meta={CAPABILITIES_KEY: {"sampling": {}}})
    server.take()
    server.say(asks(70))
    assert server.take() == [errors.no_client_for(70, "elicitation/create")]
    assert editor.take() == []


async def test_the_servers_request_during_two_2026_calls_is_refused_as_ambiguous(scene):
    s = scene()
    server, editor = await s.server(), modern(s)
    editor.request(1, "tools/call", call("a"))
    editor.request(2, "tools/call", call("b"))
    server.take()
    server.say(asks(70))
    (refusal,) = server.take()
    assert refusal["id"] == 70 and refusal["error"]["code"] == errors.NOT_BRIDGED
    assert "2 calls" in refusal["error"]["message"]
    assert editor.take() == []  # neither call is shown a request that may not be its own


async def test_the_servers_request_during_a_2026_list_is_refused_naming_what_can_carry_it(scene):
    s = scene()
    server, editor = await s.server(), modern(s)
    editor.request(1, "tools/list")
    server.take()
    server.say(asks(70))
    (refusal,) = server.take()
    assert refusal["error"]["code"] == errors.NOT_BRIDGED
    assert "tools/call" in refusal["error"]["message"]
    assert "input_required" in refusal["error"]["message"]


async def test_a_handshake_client_at_work_is_asked_first_and_an_idle_one_after_a_2026_call(
    scene,
):
    s = scene()
    server, editor, old = await s.server(), modern(s), s.editor({"elicitation": {}})
    editor.request(1, "tools/call", call("a"))
    old.request(1, "tools/call", call("b"))
    _, theirs = server.take()
    server.say(asks(70))
    assert [m.get("method") for m in old.take()] == ["elicitation/create"]  # as ever
    assert editor.take() == []
    server.reply(theirs, {"content": []})
    old.take()
    server.say(asks(71))  # the handshake client is idle now: the 2026 call asked
    assert old.take() == []
    assert input_required(editor.take()[0])[1]["method"] == "elicitation/create"


def handshake_client_without_elicitation(s: Scene) -> Any:
    return s.editor({"sampling": {}})


def modern_client_without_elicitation(s: Scene) -> Any:
    return s.keep(ModernEditor(s.relay, {"sampling": {}}))


@pytest.mark.parametrize(
    "without", [handshake_client_without_elicitation, modern_client_without_elicitation]
)
async def test_a_2026_call_beside_a_call_of_a_client_that_cannot_answer_is_not_asked(
    scene, without
):
    s = scene()
    server, editor, asker = await s.server(), modern(s), without(s)
    asker.request(1, "tools/call", call("ask"))
    editor.request(1, "tools/call", call("other"))
    server.take()
    server.say(asks(70))  # maybe made for the first call, whose client cannot answer it
    (refusal,) = server.take()
    assert refusal["id"] == 70 and refusal["error"]["code"] == errors.NOT_BRIDGED
    assert "2 calls" in refusal["error"]["message"]
    assert editor.take() == [] and asker.take() == []


async def test_a_parked_call_leaves_the_servers_next_request_to_the_call_that_runs(scene):
    s = scene()
    server, parked_editor, _sent, _key, _state = await parked(s)
    editor = modern(s)
    editor.request(1, "tools/call", call("other"))
    server.take()
    server.say(asks(71))  # the parked call's server waits on its client: not it
    _, asked, _ = input_required(editor.take()[0])
    assert asked["method"] == "elicitation/create"
    assert server.take() == [] and parked_editor.take() == []


async def test_cancelling_a_parked_call_cancels_it_upstream_and_answers_the_server(scene):
    s = scene()
    server, editor, sent, key, state = await parked(s)
    editor.port.receive(notification("notifications/cancelled", {"requestId": 1}))
    assert server.take() == [
        notification(
            "notifications/cancelled",
            {"requestId": sent["id"], "reason": "the client cancelled the call"},
        ),
        errors.call_cancelled(70),
    ]
    retry(editor, 2, state, **{key: {"action": "decline"}})
    assert editor.take()[0]["error"]["data"] == {"reason": "unknown_request_state"}
    assert server.take() == []


async def park_calls(server: FakeBackend, editor: ModernEditor, first: int, count: int) -> None:
    """``count`` calls of ``editor``, each answered input_required in turn."""
    for n in range(first, first + count):
        editor.request(n, "tools/call", call("ask"))
        (sent,) = server.take()
        assert sent["id"] == n  # the relay's ids count the calls here: 1, 2 ...
        server.say(asks(1000 + n))


async def test_a_client_with_too_many_rounds_unanswered_loses_the_oldest(scene):
    s = scene()
    server, editor = await s.server(), modern(s)
    await park_calls(server, editor, 1, ROUNDS_PER_CLIENT + 1)
    assert server.take() == [
        notification(
            "notifications/cancelled", {"requestId": 1, "reason": "the client did not retry"}
        ),
        errors.crowded_out(1001, ROUNDS_PER_CLIENT),
    ]
    answers = editor.take()
    assert len(answers) == ROUNDS_PER_CLIENT + 1
    _, _, oldest = input_required(answers[0])
    retry(editor, 99, oldest, **{"input-1": {"action": "decline"}})
    assert editor.take()[0]["error"]["data"] == {"reason": "expired_request_state"}


async def test_a_relay_with_too_many_rounds_unanswered_loses_the_oldest(scene):
    s = scene()
    server = await s.server()
    for n in range(1, ROUNDS_PER_RELAY + 2):
        await park_calls(server, modern(s), n, 1)
    assert server.take() == [
        notification(
            "notifications/cancelled", {"requestId": 1, "reason": "the client did not retry"}
        ),
        errors.crowded_out(1001, ROUNDS_PER_RELAY),
    ]


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


# ----- subscriptions/listen: change notifications

SUBSCRIPTION = "io.modelcontextprotocol/subscriptionId"
EVERYTHING = {
    "toolsListChanged": True,
    "promptsListChanged": True,  # the fake server has no prompts
    "resourcesListChanged": True,
    "resourceSubscriptions": ["a://b", "a://c"],
}


def stamped(method: str, listen_id: Any, **fields: Any) -> Message:
    return notification(method, {**fields, "_meta": {SUBSCRIPTION: listen_id}})


def listening(s: Scene, listen_id: Any = "listen-1", **asked: Any) -> ModernEditor:
    editor = modern(s)
    editor.request(listen_id, "subscriptions/listen", {"notifications": asked or EVERYTHING})
    return editor


async def test_a_listen_is_acknowledged_first_with_what_the_relay_can_deliver(scene):
    s = scene()
    server = await s.server()
    editor = listening(s)
    await turn()
    assert editor.take() == [
        stamped(
            "notifications/subscriptions/acknowledged",
            "listen-1",
            notifications={
                "toolsListChanged": True,
                "resourcesListChanged": True,
                "resourceSubscriptions": ["a://b", "a://c"],
            },
        )
    ]
    assert server.take() == []  # the listen itself is the relay's own
    assert server.take_hub_requests() == [
        {"method": "resources/subscribe", "params": {"uri": "a://b"}},
        {"method": "resources/subscribe", "params": {"uri": "a://c"}},
    ]


async def test_a_listen_before_the_server_is_known_is_acknowledged_once_it_is(scene):
    s = scene()
    editor = listening(s, toolsListChanged=True)
    await turn()
    assert editor.take() == []
    await s.server()
    ack = await editor.next()
    assert ack["params"]["notifications"] == {"toolsListChanged": True}


async def test_a_listener_gets_the_list_changes_it_asked_for_stamped_with_its_listen(scene):
    s = scene()
    server = await s.server()
    tools_only, everything = listening(s, 7, toolsListChanged=True), listening(s, 8)
    tools_only.take(), everything.take()
    server.say(notification("notifications/tools/list_changed"))
    server.say(notification("notifications/resources/list_changed"))
    server.say(notification("notifications/message", {"level": "info", "data": "x"}))
    assert tools_only.take() == [stamped("notifications/tools/list_changed", 7)]
    assert everything.take() == [
        stamped("notifications/tools/list_changed", 8),
        stamped("notifications/resources/list_changed", 8),
    ]


async def test_a_listener_gets_updates_of_the_resources_it_listed_only(scene):
    s = scene()
    server = await s.server()
    editor = listening(s, resourceSubscriptions=["a://b"])
    editor.take()
    server.say(notification("notifications/resources/updated", {"uri": "a://b"}))
    server.say(notification("notifications/resources/updated", {"uri": "a://z"}))
    server.say(notification("notifications/tools/list_changed"))  # not asked for
    assert editor.take() == [stamped("notifications/resources/updated", "listen-1", uri="a://b")]


async def test_cancelling_a_listen_ends_it_and_unsubscribes_upstream_without_an_answer(scene):
    s = scene()
    server = await s.server()
    editor = listening(s)
    await turn()
    editor.take(), server.take_hub_requests()
    cancel = {"requestId": "listen-1", "reason": "done"}
    editor.port.receive(notification("notifications/cancelled", cancel))
    await turn()
    assert sorted(r["params"]["uri"] for r in server.take_hub_requests()) == ["a://b", "a://c"]
    assert server.take() == []  # the server never had the listen to cancel
    server.say(notification("notifications/tools/list_changed"))
    server.say(notification("notifications/resources/updated", {"uri": "a://b"}))
    assert editor.take() == []


async def test_a_client_that_leaves_has_its_listens_ended_and_unsubscribed(scene):
    s = scene()
    server = await s.server()
    editor = listening(s, resourceSubscriptions=["a://b"])
    await turn()
    server.take_hub_requests()
    editor.port.close()
    await turn()
    assert server.take_hub_requests() == [
        {"method": "resources/unsubscribe", "params": {"uri": "a://b"}}
    ]


async def test_a_resource_another_client_wants_stays_subscribed_upstream(scene):
    s = scene()
    server, old = await s.server(), s.editor()
    old.request(1, "resources/subscribe", {"uri": "a://b"})
    await turn()
    server.reply(server.take()[0], {})
    editor = listening(s, resourceSubscriptions=["a://b"])
    other = listening(s, "other", resourceSubscriptions=["a://b"])
    await turn()
    assert server.take_hub_requests() == []  # the server holds it already
    editor.port.receive(notification("notifications/cancelled", {"requestId": "listen-1"}))
    old.request(2, "resources/unsubscribe", {"uri": "a://b"})
    await turn()
    assert server.take_hub_requests() == [] and server.take() == []  # "other" still wants it
    other.take()
    server.say(notification("notifications/resources/updated", {"uri": "a://b"}))
    assert other.take() == [stamped("notifications/resources/updated", "other", uri="a://b")]
    other.port.close()
    await turn()
    assert server.take_hub_requests() == [
        {"method": "resources/unsubscribe", "params": {"uri": "a://b"}}
    ]


async def test_a_listen_outlives_a_restart_its_subscriptions_replayed_and_told_of_new_lists(
    scene,
):
    s = scene()
    server = await s.server()
    editor = listening(s, toolsListChanged=True, resourceSubscriptions=["a://b"])
    await turn()
    editor.take()
    s.crash(server)
    fresh = await s.server()
    assert fresh.take_hub_requests() == [
        {"method": "resources/subscribe", "params": {"uri": "a://b"}}
    ]
    # The new process may list other tools: the relay says so, as to handshake clients.
    assert editor.take() == [stamped("notifications/tools/list_changed", "listen-1")]
    fresh.say(notification("notifications/resources/updated", {"uri": "a://b"}))
    assert editor.take() == [stamped("notifications/resources/updated", "listen-1", uri="a://b")]


async def test_a_second_listen_under_an_open_ones_id_is_refused(scene):
    s = scene()
    await s.server()
    editor = listening(s, toolsListChanged=True)
    editor.take()
    editor.request("listen-1", "subscriptions/listen", {"notifications": {}})
    (refused,) = editor.take()
    assert refused["error"]["code"] == errors.INVALID_REQUEST


async def test_a_retry_of_a_2026_servers_own_round_waits_for_it_through_a_restart(scene):
    # The server's requestState is its own: the next process of a 2026-07-28 server
    # may take it, so the retry waits for it instead of being refused by the relay.
    s = scene()
    server = FakeBackend(s.relay)
    server.modern = True
    await s.relay.session_ready(server)
    editor = modern(s)
    s.crash(server)
    retry = {**call("ask"), "inputResponses": {"k": {}}, "requestState": "the server's"}
    editor.request(1, "tools/call", retry)
    await turn()
    assert editor.take() == []
    again = FakeBackend(s.relay)
    again.modern = True
    await s.relay.session_ready(again)
    sent = await bounded(again.receive())
    assert sent["params"]["requestState"] == "the server's"
