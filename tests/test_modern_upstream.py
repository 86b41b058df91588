"""A server the hub speaks to at spec revision 2026-07-28, reached through ``mcp-tray attach``.

A real hub supervises two servers over stdio: the SDK's conformance "everything
server" (tests/servers/everything.py), whose config entry asks for 2026-07-28,
and tests/servers/modern_only.py, which refuses ``initialize`` and has no
``protocolVersion`` in its entry (the hub finds it with ``server/discover``).
SDK clients of both eras attach as an editor would. A handshake-era client
(``mode="legacy"``) is asked the server's ``input_required`` inputs as the
server's own requests and sees only the final result; a 2026-07-28 client
(``mode="auto"``, which settles on 2026-07-28) gets ``input_required`` and
retries itself. The translation, one rule at a time: app.core.rpc.modern_server.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from pydantic import FileUrl

from tests.hubprocess import HubProcess
from tests.test_conformance import EVERYTHING
from tests.test_revision_2026 import CALL_TIMEOUT_S, text

pytestmark = pytest.mark.anyio

REVISION = "2026-07-28"
MODERN_ONLY = Path(__file__).parent / "servers" / "modern_only.py"
ATTACH_S = 60.0  # `mcp-tray attach` and the SDK's import, on a cold machine
NOTICE_S = 10.0  # a notification the server sent before answering the call that caused it

# What the everything server's input_required tools ask, and what they answer once the
# client gives the answers of Asked below; each ask as Asked records it.
INPUT_REQUIRED_TOOLS = {
    "test_input_required_result_elicitation": (
        "Hello, Ada!",
        ["elicitation/create: What is your name? ['name']"],
    ),
    "test_input_required_result_sampling": (
        "Model said: Paris",
        ["sampling/createMessage: What is the capital of France? (at most 100 tokens)"],
    ),
    "test_input_required_result_list_roots": ("Client exposed 2 root(s).", ["roots/list"]),
    "test_input_required_result_multiple_inputs": (
        "All inputs received.",
        [
            "elicitation/create: What is your name? ['name']",
            "roots/list",
            "sampling/createMessage: Generate a greeting (at most 50 tokens)",
        ],
    ),
    "test_input_required_result_multi_round": (
        "Ada likes blue.",
        [
            "elicitation/create: Step 1: What is your name? ['name']",
            "elicitation/create: Step 2: What is your favorite color? ['color']",
        ],
    ),
    "test_input_required_result_request_state": (
        "state-ok: confirmation received",
        ["elicitation/create: Please confirm ['ok']"],
    ),
}
INPUT_REQUIRED_PROMPT = (
    "Use the following context: tests",
    ["elicitation/create: What context should the prompt use? ['context']"],
)
# The field values a user types into each form the everything server shows.
FORM_ANSWERS: dict[str, str | int] = {
    "name": "Ada",
    "color": "blue",
    "ok": True,
    "context": "tests",
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    home = tmp_path_factory.mktemp("home")
    everything = {"command": sys.executable, "args": [str(EVERYTHING), "--stdio"]}
    servers = {
        "everything": {**everything, "protocolVersion": REVISION},
        "modern-only": {"command": sys.executable, "args": [str(MODERN_ONLY)]},
    }
    (home / "config.json").write_text(json.dumps({"mcpServers": servers}))
    process = HubProcess(home)
    try:
        process.wait_for_line(r"everything is running")
        process.wait_for_line(r"modern-only is running")
        yield process
    finally:
        process.stop()
    assert process.unexpected_warnings() == []


@asynccontextmanager
async def attached(home: Path, name: str, mode: str, **callbacks: Any) -> AsyncIterator[Client]:
    """tests.test_revision_2026.attached, for the server ``name`` (that one is "rich")."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "app", "attach", name],
        env={**os.environ, "MCP_TRAY_HOME": str(home)},
    )
    with anyio.fail_after(ATTACH_S):
        async with Client(
            params, mode=mode, read_timeout_seconds=CALL_TIMEOUT_S, **callbacks
        ) as client:
            yield client


@dataclass
class Asked:
    """A client's sampling, elicitation and roots callbacks: each records what it was
    asked and answers it (forms from FORM_ANSWERS, the model "Paris", two roots)."""

    log: list[str] = field(default_factory=list)
    refusal: str | None = None  # else the elicitation callback refuses with these words

    def callbacks(self) -> dict[str, Any]:
        return {
            "elicitation_callback": self.elicit,
            "sampling_callback": self.sample,
            "list_roots_callback": self.roots,
        }

    def taken(self) -> list[str]:
        """What was asked since the last time, sorted (one round's asks run at once)."""
        asked, self.log = sorted(self.log), []
        return asked

    async def elicit(self, context: Any, params: types.ElicitRequestParams) -> Any:
        assert isinstance(params, types.ElicitRequestFormParams), params
        fields = list(params.requested_schema["properties"])
        self.log.append(f"elicitation/create: {params.message} {fields}")
        if self.refusal is not None:
            return types.ErrorData(code=-1, message=self.refusal)
        return types.ElicitResult(
            action="accept", content={name: FORM_ANSWERS[name] for name in fields}
        )

    async def sample(self, context: Any, params: types.CreateMessageRequestParams) -> Any:
        # Content may be an image or audio block; the everything server asks in text.
        asked = params.messages[0].content.text  # type: ignore[union-attr]
        self.log.append(f"sampling/createMessage: {asked} (at most {params.max_tokens} tokens)")
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(text="Paris"), model="test-model"
        )

    async def roots(self, context: Any) -> types.ListRootsResult:
        self.log.append("roots/list")
        return types.ListRootsResult(
            roots=[
                types.Root(uri=FileUrl("file:///work/a")),
                types.Root(uri=FileUrl("file:///work/b")),
            ]
        )


def prompt_text(result: Any) -> str:
    return str(result.messages[0].content.text)  # the everything server's prompt is text


async def outcome(
    call: Awaitable[Any], asked: Asked, read: Callable[[Any], str] = text
) -> tuple[str, list[str]]:
    """A call's text (or its error's words) and what the client was asked for it."""
    try:
        answered = read(await call)
    except MCPError as error:
        answered = f"error: {error}"
    return answered, asked.taken()


@pytest.mark.parametrize(
    ("mode", "revision"), [("legacy", "2025-11-25"), ("auto", REVISION)], ids=["2025", "2026"]
)
async def test_each_input_required_tool_and_prompt_finishes_with_the_clients_answers(
    hub: HubProcess, mode: str, revision: str
) -> None:
    asked = Asked()
    async with attached(hub.home, "everything", mode, **asked.callbacks()) as client:
        assert client.protocol_version == revision
        tools = {
            tool: await outcome(client.call_tool(tool, {}), asked) for tool in INPUT_REQUIRED_TOOLS
        }
        prompt = await outcome(
            client.get_prompt("test_input_required_result_prompt"), asked, prompt_text
        )

    assert tools == INPUT_REQUIRED_TOOLS
    assert prompt == INPUT_REQUIRED_PROMPT


def handshake_era_only() -> pytest.WarningsRecorder:
    """The SDK's warning that a method is gone at 2026-07-28, which these clients use."""
    return pytest.warns(MCPDeprecationWarning, match="2026-07-28")


@pytest.mark.parametrize(
    ("callbacks", "why"),
    [
        ({"refusal": "the user closed the form"}, "the user closed the form"),
        (None, "the client cannot answer elicitation/create: it did not declare that capability"),
    ],
    ids=["refused", "not-capable"],
)
async def test_a_handshake_client_that_cannot_give_the_input_gets_an_error_and_the_server_runs_on(
    hub: HubProcess, callbacks: dict[str, Any] | None, why: str
) -> None:
    asked = Asked(**callbacks) if callbacks is not None else Asked()
    given = asked.callbacks() if callbacks is not None else {}
    async with attached(hub.home, "everything", "legacy", **given) as client:
        refused = await outcome(client.call_tool("test_input_required_result_elicitation"), asked)
        after = await outcome(client.call_tool("test_simple_text"), asked)

    answered, _ = refused
    assert answered.startswith("error: the server needs more input to finish this request")
    assert "input 'user_name' was not given: " + why in answered
    assert after == ("This is a simple text response for testing.", [])
    assert {row["name"]: row["state"] for row in hub.status()}["everything"] == "running"


async def test_a_handshake_client_hears_of_list_changes_through_the_hubs_listen(
    hub: HubProcess,
) -> None:
    changes: list[types.ToolListChangedNotification] = []
    heard = anyio.Event()

    async def note(message: object) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changes.append(message)
            heard.set()

    async with attached(hub.home, "everything", "legacy", message_handler=note) as client:
        for subscribed in (False, True):
            if subscribed:  # the hub answers it, and listens again with the URI added
                with handshake_era_only():
                    await client.subscribe_resource("test://watched-resource")
            heard = anyio.Event()
            assert text(await client.call_tool("test_trigger_tool_change")) == "tool list changed"
            with anyio.fail_after(NOTICE_S):
                await heard.wait()
        with handshake_era_only():
            await client.unsubscribe_resource("test://watched-resource")
        # The server sends its notifications before its answer: one more call, and any
        # second notice of the same change would be here.
        await client.call_tool("test_simple_text")

    assert len(changes) == 2


@pytest.mark.skip(
    reason="tests/servers/everything.py has nothing that sends notifications/resources/updated: "
    "its resources/subscribe handler records the URI, and no tool changes a resource"
)
async def test_a_handshake_client_subscribed_to_a_resource_hears_of_its_update() -> None:
    """Would subscribe to test://watched-resource, change it, and wait for the update."""


async def test_the_log_level_a_handshake_client_sets_goes_with_each_request_after(
    hub: HubProcess,
) -> None:
    logged: list[object] = []

    async def log(params: types.LoggingMessageNotificationParams) -> None:
        logged.append(params.data)

    async with attached(hub.home, "everything", "legacy", logging_callback=log) as client:
        heard = {}
        for level in ("info", "error"):
            with handshake_era_only():
                await client.set_logging_level(level)  # answered by the hub
            await client.call_tool("test_tool_with_logging")
            await client.call_tool("test_simple_text")  # its log entries came before
            heard[level], logged[:] = list(logged), []

    assert heard == {
        "info": ["Tool execution started", "Tool processing data", "Tool execution completed"],
        "error": [],
    }


async def test_a_server_that_refuses_initialize_is_spoken_to_in_2026_with_each_clients_envelope(
    hub: HubProcess,
) -> None:
    hub.wait_for_line(rf"modern-only is spoken to in MCP {REVISION}")
    editor_2025 = types.Implementation(name="editor-2025", version="1")
    editor_2026 = types.Implementation(name="editor-2026", version="1")
    async with attached(
        hub.home, "modern-only", "legacy", client_info=editor_2025, **Asked().callbacks()
    ) as client:
        server = client.session.server_info
        tools = [tool.name for tool in (await client.list_tools()).tools]
        stamped = json.loads(text(await client.call_tool("envelope")))
    async with attached(hub.home, "modern-only", REVISION, client_info=editor_2026) as client:
        own = json.loads(text(await client.call_tool("envelope")))

    assert server is not None and server.name == "modern-only"
    assert tools == ["envelope"]
    assert stamped["io.modelcontextprotocol/protocolVersion"] == REVISION
    assert stamped["io.modelcontextprotocol/clientInfo"]["name"] == "mcp-tray"
    declared = stamped["io.modelcontextprotocol/clientCapabilities"]
    assert {"elicitation", "sampling", "roots"} <= declared.keys()
    # A 2026-07-28 client's request goes with its own envelope.
    assert own["io.modelcontextprotocol/protocolVersion"] == REVISION
    assert own["io.modelcontextprotocol/clientInfo"]["name"] == "editor-2026"


ENDLESS_TOOL = "test_input_required_result_capabilities"  # input_required, whatever it is given
ENDLESS_S = 5.0  # far more than a few rounds take: each is a pipe round trip or two
MAX_ROUNDS = 16  # the SDK's client gives up after 10; the hub, retrying for a client, may too


@pytest.fixture
def lone_hub(tray_home: Path) -> Iterator[HubProcess]:
    """A hub of its own: a retry loop that outlives its test would load the shared one."""
    entry = {"command": sys.executable, "args": [str(EVERYTHING), "--stdio"]}
    config = {"mcpServers": {"everything": {**entry, "protocolVersion": REVISION}}}
    (tray_home / "config.json").write_text(json.dumps(config))
    process = HubProcess(tray_home)
    try:
        process.wait_for_line(r"everything is running")
        yield process
    finally:
        process.stop()


@pytest.mark.parametrize("asking", [True, False], ids=["asking-the-client", "state-alone"])
async def test_a_call_the_server_answers_input_required_without_end_fails_after_some_rounds(
    lone_hub: HubProcess, asking: bool
) -> None:
    # The tool asks for sampling when the client declared it, else for nothing: its
    # requestState alone, which the hub sends back at once.
    asked = Asked()
    given = {"sampling_callback": asked.sample} if asking else {}
    answered = None
    async with attached(lone_hub.home, "everything", "legacy", **given) as client:
        with anyio.move_on_after(ENDLESS_S):
            answered, _ = await outcome(client.call_tool(ENDLESS_TOOL), asked)
        rounds = len(asked.log)

    assert answered is not None, f"no answer in {ENDLESS_S}s; the client was asked {rounds} times"
    assert answered.startswith("error: ")
    assert rounds <= MAX_ROUNDS


async def test_a_handshake_clients_input_is_asked_of_that_client_not_of_another_attached(
    hub: HubProcess,
) -> None:
    # The hub knows whose call the server's input_required answers: unlike a
    # handshake-era server's own request, it need not go to whichever client can answer.
    bystander = Asked()
    async with (
        attached(hub.home, "everything", "legacy", **bystander.callbacks()),
        attached(hub.home, "everything", "legacy") as caller,
    ):
        answered, _ = await outcome(
            caller.call_tool("test_input_required_result_elicitation"), Asked()
        )

    assert bystander.taken() == [], f"and the caller was answered {answered!r}"
    assert answered.startswith("error: ") and "input 'user_name' was not given" in answered
    assert "the client cannot answer elicitation/create" in answered
