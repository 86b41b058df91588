"""app.core.rpc.modern_server's input_required rounds for a handshake-era client's
request, one rule at a time: the test speaks as both the relay (``send``, and what
is delivered to it) and the server (``received``). With real processes:
tests/test_modern_upstream.py.
"""

from __future__ import annotations

from typing import Any

from app.core.rpc.framing import Message
from app.core.rpc.modern_server import MAX_RELISTENS, MAX_ROUNDS, ModernServer

FOUND: dict[str, Any] = {"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}}}
FORM = {"method": "elicitation/create", "params": {"message": "Your name?"}}


class Scene:
    """A ModernServer with what it wrote to the server and delivered to the relay."""

    def __init__(self) -> None:
        self.written: list[Message] = []
        self.delivered: list[Message] = []
        self.server = ModernServer(
            FOUND, name="demo", write=self.written.append, deliver=self.delivered.append
        )

    def call(self, relay_id: int) -> None:
        self.server.send({"jsonrpc": "2.0", "id": relay_id, "method": "tools/call"})

    def last_written(self) -> Message:
        return self.written[-1]

    def input_required(
        self, inputs: dict[str, Any] | None = None, *, to: Any = None
    ) -> Message | None:
        """The server answers request ``to`` (else the last it was written)
        input_required; what the relay is given of it."""
        answer: dict[str, Any] = {"resultType": "input_required", "requestState": "s"}
        if inputs is not None:
            answer["inputRequests"] = inputs
        answered = self.last_written()["id"] if to is None else to
        return self.server.received({"jsonrpc": "2.0", "id": answered, "result": answer})

    def taken(self) -> list[Message]:
        delivered = list(self.delivered)
        self.delivered.clear()
        return delivered


def test_a_request_that_asks_without_end_fails_after_max_rounds() -> None:
    s = Scene()
    s.call(7)
    for _ in range(MAX_ROUNDS):
        assert s.input_required() is None  # state alone: retried at once
    assert s.taken() == []
    retries = len(s.written)

    s.input_required()

    (failed,) = s.taken()
    assert failed["id"] == 7
    assert f"after {MAX_ROUNDS} rounds" in failed["error"]["message"]
    assert len(s.written) == retries  # not retried again


def test_the_rounds_are_counted_per_request_and_start_again_after_an_answer() -> None:
    s = Scene()
    s.call(7)
    for _ in range(MAX_ROUNDS):
        s.input_required()
    final = s.server.received({"jsonrpc": "2.0", "id": s.last_written()["id"], "result": {}})
    assert final == {"jsonrpc": "2.0", "id": 7, "result": {}}

    s.call(7)  # the relay's ids are not reused; were one, it would start at zero
    for _ in range(MAX_ROUNDS):
        s.input_required()
    assert s.taken() == []


def test_an_ask_names_its_request_once() -> None:
    s = Scene()
    s.call(7)
    s.input_required({"name": FORM})
    (ask,) = s.taken()

    assert s.server.asked_for(ask["id"]) == 7
    assert s.server.asked_for(ask["id"]) is None
    assert s.server.asked_for(7) is None  # not an ask


def test_a_request_cancelled_while_its_retry_is_upstream_is_not_asked_again() -> None:
    s = Scene()
    s.call(7)
    s.input_required({"name": FORM})
    (ask,) = s.taken()
    s.server.send({"jsonrpc": "2.0", "id": ask["id"], "result": {"action": "accept"}})
    retry_id = s.last_written()["id"]

    s.server.send(
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}
    )
    assert s.last_written()["params"]["requestId"] == retry_id
    late = s.input_required({"name": FORM}, to=retry_id)  # answered before the cancel

    assert s.taken() == []  # no ask for a cancelled request
    assert late is not None and late["id"] == retry_id  # for the relay, which waits for none


def test_a_cancelled_request_leaves_nothing_behind() -> None:
    s = Scene()
    s.call(7)
    s.input_required({"name": FORM})
    s.server.send(
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}
    )

    kept = vars(s.server)
    assert [name for name in kept if isinstance(kept[name], dict) and kept[name]] == [
        "_capabilities",
        "_ask_owners",  # until the relay takes the ask it was delivered
    ]


def test_an_answer_to_the_servers_own_request_goes_to_it() -> None:
    s = Scene()
    answer = {"jsonrpc": "2.0", "id": 5, "result": {"roots": []}}
    s.server.send(answer)
    assert s.written == [answer]


def test_an_answer_without_an_id_is_left_to_the_relay_to_refuse() -> None:
    s = Scene()
    stray = {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}}
    assert s.server.received(stray) == stray


def test_an_input_request_that_is_not_one_fails_the_request_and_asks_nothing() -> None:
    s = Scene()
    s.call(7)
    s.input_required({"name": {"method": "elicitation/create", "params": [1]}})
    (failed,) = s.taken()
    assert failed["id"] == 7 and "'name' is not a request" in failed["error"]["message"]
    assert vars(s.server)["_ask_owners"] == {}


def test_a_2026_clients_request_goes_without_its_log_level() -> None:
    # Its log messages would name no request on stdio, and reach other apps.
    s = Scene()
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "x/y": 1}
    logged = {**meta, "io.modelcontextprotocol/logLevel": "debug"}
    s.server.send({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": logged}})
    assert s.last_written()["params"]["_meta"] == meta


def test_a_handshake_clients_meta_that_is_not_an_object_gives_way_to_the_envelope() -> None:
    s = Scene()
    s.server.send({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": "x"}})
    meta = s.last_written()["params"]["_meta"]
    assert meta["io.modelcontextprotocol/protocolVersion"] == "2026-07-28"


LISTING = {**FOUND, "capabilities": {"tools": {"listChanged": True}}}


def listening() -> Scene:
    s = Scene()
    s.server = ModernServer(
        LISTING, name="demo", write=s.written.append, deliver=s.delivered.append
    )
    s.server.start()
    return s


def test_a_listen_the_server_ends_is_opened_again_until_it_ends_them_at_once() -> None:
    s = listening()
    for _ in range(MAX_RELISTENS):
        s.server.received({"jsonrpc": "2.0", "id": s.last_written()["id"], "result": {}})
        assert s.last_written()["method"] == "subscriptions/listen"
    ended = len(s.written)
    s.server.received({"jsonrpc": "2.0", "id": s.last_written()["id"], "result": {}})
    assert len(s.written) == ended  # ended every time with nothing heard: no more


def test_a_listen_that_hears_something_counts_its_ends_anew() -> None:
    s = listening()
    for _ in range(MAX_RELISTENS + 2):
        listen_id = s.last_written()["id"]
        changed = {"_meta": {"io.modelcontextprotocol/subscriptionId": listen_id}}
        heard = s.server.received(
            {"jsonrpc": "2.0", "method": "notifications/tools/list_changed", "params": changed}
        )
        assert heard == {
            "jsonrpc": "2.0",
            "method": "notifications/tools/list_changed",
            "params": {},
        }
        s.server.received({"jsonrpc": "2.0", "id": listen_id, "result": {}})
        assert s.last_written()["method"] == "subscriptions/listen"


def test_a_listen_the_server_refuses_is_not_opened_again() -> None:
    s = listening()
    refusal = {"code": -32603, "message": "no"}
    s.server.received({"jsonrpc": "2.0", "id": s.last_written()["id"], "error": refusal})
    assert len(s.written) == 1


def test_a_subscription_the_server_does_not_take_is_refused() -> None:
    s = Scene()  # its capabilities: tools alone
    s.server.send(
        {"jsonrpc": "2.0", "id": 1, "method": "resources/subscribe", "params": {"uri": "a://b"}}
    )
    (refused,) = s.taken()
    assert refused["error"]["code"] == -32601 and s.written == []
