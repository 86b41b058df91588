"""Bad input on either side of the relay stays with whoever sent it.

A client that writes garbage, a server that prints to stdout, a result of tens
of megabytes, random JSON-RPC-shaped noise: afterwards the hub still answers,
the server keeps its process, and every other client's calls succeed. A real
Hub runs in this test's event loop and supervises tests/servers/rich.py; the
clients are the hand-written NDJSON ones of tests/relaykit.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.events import ServerLogLine
from app.core.paths import HOME_ENV
from tests.relaykit import (
    READ_LIMIT,
    WAIT_S,
    RawClient,
    Tray,
    is_notification,
    is_response,
    result_text,
    tray_in,
)
from tests.servers.rich import big_text

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # module scope: one hub serves the whole module, on one loop


@pytest.fixture(scope="module")
async def shared_tray(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Tray]:
    async with tray_in(tmp_path_factory.mktemp("home")) as running:
        yield running


@pytest.fixture
async def tray(shared_tray: Tray) -> AsyncIterator[Tray]:
    """The shared hub, checked to be undisturbed after the test."""
    before = await shared_tray.status()
    try:
        yield shared_tray
    finally:
        await shared_tray.close_clients()
    after = await shared_tray.status()
    assert (after["state"], after["pid"]) == ("running", before["pid"]), "the server was disturbed"


@pytest.fixture
async def own_tray(tray_home: Path) -> AsyncIterator[Tray]:
    """A hub of this test's own, for tests that may break it."""
    async with tray_in(tray_home) as running:
        yield running


async def assert_undisturbed(tray: Tray) -> None:
    """Another client's calls succeed and the hub answers status with the server running."""
    bystander = await tray.attach()
    assert await bystander.call("progress", steps=2) == "done 2"
    assert (await tray.status())["state"] == "running"


def errors_received(client: RawClient) -> list[tuple[Any, int]]:
    return [(m.get("id"), m["error"]["code"]) for m in client.inbox if "error" in m]


# ----- a client's malformed input

MALFORMED = {
    "a line that is not JSON": (b"this is not json\n", [(None, -32700)]),
    "a line that is not UTF-8": (b'\xff\xfe{"id": 1}\n', [(None, -32700)]),
    # Valid JSON that is not a request object is an invalid request, not a parse error.
    "a JSON array": (b"[1, 2, 3]\n", [(None, -32600)]),
    "an empty array": (b"[]\n", [(None, -32600)]),
    "a batch": (b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]\n', [(None, -32600)]),
    "a JSON string": (b'"ping"\n', [(None, -32600)]),
    "a number": (b"42\n", [(None, -32600)]),
    "arrays nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000 + b"\n", [(None, -32700)]),
    "a request without jsonrpc": (b'{"id":8,"method":"ping"}\n', [(8, -32600)]),
    "a request with jsonrpc 1.0": (
        b'{"jsonrpc":"1.0","id":"v1","method":"ping"}\n',
        [("v1", -32600)],
    ),
    # The id is read from the line's start, as `mcp-tray attach` reads it.
    "a request cut after its id": (
        b'{"jsonrpc":"2.0","id":9,"method":"tools/list",\n',
        [(9, -32700)],
    ),
    "a method that is not a string": (b'{"jsonrpc":"2.0","id":7,"method":5}\n', [(7, -32600)]),
    "a response with an unknown id": (b'{"jsonrpc":"2.0","id":"nobody-asked","result":{}}\n', []),
    "an error response with an unknown id": (
        b'{"jsonrpc":"2.0","id":99,"error":{"code":1,"message":"no"}}\n',
        [],
    ),
    "an empty object": (b"{}\n", []),
    "a cancel of a request that does not exist": (
        b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":4242}}\n',
        [],
    ),
    "a notification the server does not know": (
        b'{"jsonrpc":"2.0","method":"notifications/bogus","params":{"x":[1,2]}}\n',
        [],
    ),
    "blank lines": (b"\n\r\n   \n", []),
}


@pytest.mark.parametrize("payload, expected_errors", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_client_input_gets_a_readable_answer_and_disturbs_no_one(
    tray: Tray, payload: bytes, expected_errors: list[tuple[Any, int]]
) -> None:
    bad = await tray.attach()

    bad.send_bytes(payload)
    await bad.barrier()

    assert errors_received(bad) == expected_errors
    assert await bad.call("progress", steps=1) == "done 1"  # its own connection still works
    await assert_undisturbed(tray)


async def test_a_half_written_line_at_disconnect_disturbs_no_one(tray: Tray) -> None:
    bad = await tray.attach()
    bad.send_bytes(b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"pro')

    await bad.close()

    await assert_undisturbed(tray)


async def test_a_client_that_disconnects_in_the_middle_of_a_large_request_disturbs_no_one(
    tray: Tray,
) -> None:
    bad = await tray.attach()
    bad.send_bytes(b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + b"x" * 3_000_000)

    await bad.close()

    await assert_undisturbed(tray)


# JSON-RPC 2.0: when the id itself is unusable, the error answer carries a null id.
NULL_ID = object()
UNROUTABLE = [
    pytest.param(
        b'{"jsonrpc":"2.0","id":[1],"method":"tools/list"}\n',
        NULL_ID,
        id="a request id that is a list",
    ),
    pytest.param(
        b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":[1]}\n',
        None,
        id="a cancel whose params are a list",
    ),
    pytest.param(
        b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":{"a":1}}}\n',
        None,
        id="a cancel whose request id is an object",
    ),
    pytest.param(
        b'{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":["rich://x"]}\n',
        3,
        id="a subscribe whose params are a list",
    ),
    pytest.param(
        b'{"jsonrpc":"2.0","id":4,"method":"tools/call","params":"progress"}\n',
        4,
        id="a request whose params are a string",
    ),
]


@pytest.mark.parametrize("payload, answered_id", UNROUTABLE)
async def test_a_client_message_the_relay_cannot_route_is_refused_and_the_client_stays(
    tray: Tray, payload: bytes, answered_id: Any
) -> None:
    bad = await tray.attach()

    bad.send_bytes(payload)

    if answered_id is not None:
        answer = await bad.response(None if answered_id is NULL_ID else answered_id)
        assert answer["error"]["code"] in (-32600, -32602)
    assert await bad.call("progress", steps=1) == "done 1"


# ----- a server's malformed output


async def test_garbage_on_the_servers_stdout_reaches_no_client_and_disturbs_no_one(
    tray: Tray,
) -> None:
    client, other = await tray.attach(), await tray.attach()
    garbage = [
        "hello from a stray print()",
        "[1, 2]",
        '"just a string"',
        "{}",
        '{"jsonrpc":"2.0","id":424242,"result":{"stray":true}}',
        '{"jsonrpc":"2.0","id":"tray-999","result":{"stray":true}}',
        '{"jsonrpc":"2.0","id":1.5,"error":{"code":1,"message":"stray"}}',
        '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":999999,'
        '"progress":1}}',
        '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":[1]}}',
        '{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":[1]}}',
    ]
    noted = len(tray.events.events)

    assert await client.call("emit", lines=garbage) == "emitted"

    await client.barrier()
    await other.barrier()
    for receiver in (client, other):
        stray = [m for m in receiver.inbox if "stray" in json.dumps(m) or "999999" in json.dumps(m)]
        assert stray == []
        assert receiver.received(is_notification("notifications/progress")) == []
    await tray.events.wait_for(
        lambda e: isinstance(e, ServerLogLine) and "hello from a stray print()" in e.line,
        after=noted,
    )
    await assert_undisturbed(tray)


async def test_a_server_message_whose_method_is_not_a_string_is_not_passed_on(
    tray: Tray,
) -> None:
    client = await tray.attach()

    assert await client.call("emit", lines=['{"jsonrpc":"2.0","method":5}']) == "emitted"

    await client.barrier()
    assert [m for m in client.inbox if "method" in m and not isinstance(m["method"], str)] == []


async def test_a_progress_notification_with_an_unhashable_token_does_not_stop_the_relay(
    own_tray: Tray,
) -> None:
    client, other = await own_tray.attach(), await own_tray.attach()
    line = '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":[1]}}'

    emitted = client.start("tools/call", {"name": "emit", "arguments": {"lines": [line]}})

    async with asyncio.timeout(3.0):  # short: the known failure waits
        assert result_text(await client.response(emitted)) == "emitted"
        assert await other.call("progress", steps=1) == "done 1"


# ----- size


async def test_a_50_mb_tool_result_arrives_intact_through_mcp_tray_attach(tray: Tray) -> None:
    attach = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        "attach",
        "rich",
        env={**os.environ, HOME_ENV: str(tray.home)},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=READ_LIMIT,
    )
    assert attach.stdin is not None and attach.stdout is not None
    call = {"name": "big", "arguments": {"megabytes": 50}}
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call}
    attach.stdin.write(json.dumps(request).encode() + b"\n")
    try:
        async with asyncio.timeout(60):
            line = await attach.stdout.readline()
    finally:
        attach.stdin.close()
        async with asyncio.timeout(WAIT_S):
            status = await attach.wait()

    response = json.loads(line)
    assert response["id"] == 1
    text, expected = result_text(response), big_text(50)
    assert len(text.encode()) == len(expected.encode()) == 50 * 1024 * 1024
    assert text == expected
    assert status == 0


# ----- random noise

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
METHODS = (
    st.sampled_from(
        [
            "initialize",
            "ping",
            "server/discover",
            "tools/list",
            "tools/call",
            "resources/list",
            "resources/read",
            "resources/subscribe",
            "resources/unsubscribe",
            "logging/setLevel",
            "completion/complete",
            "sampling/createMessage",
            "notifications/initialized",
            "notifications/cancelled",
            "notifications/progress",
            "notifications/roots/list_changed",
        ]
    )
    | JSON
)
# Never a real tool's name: a random call of ``hold`` or ``big`` would be slow, not wrong.
TOOL_NAMES = st.text(max_size=8).map(lambda name: f"no-such-tool-{name}") | JSON
IDS = JSON
PARAMS = JSON | st.fixed_dictionaries(
    {},
    optional={
        "name": TOOL_NAMES,
        "arguments": JSON,
        "uri": JSON,
        "requestId": IDS,
        "level": JSON,
        "cursor": JSON,
        "capabilities": JSON,
        "_meta": st.fixed_dictionaries({}, optional={"progressToken": JSON}),
    },
)
MESSAGES = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.just("2.0") | JSON,
        "id": st.integers(min_value=0, max_value=5) | IDS,
        "method": METHODS,
        "params": PARAMS,
        "result": JSON,
        "error": JSON,
    },
)
LINES = MESSAGES.map(lambda message: json.dumps(message).encode() + b"\n") | st.binary(
    max_size=40
).map(lambda data: data.replace(b"\n", b"") + b"\n")


@settings(
    max_examples=50,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the work tree; a failure prints its example
    suppress_health_check=[HealthCheck.too_slow],
)
@given(lines=st.lists(LINES, min_size=1, max_size=8))
async def test_random_json_rpc_noise_from_one_client_never_disturbs_another(
    shared_tray: Tray, lines: list[bytes]
) -> None:
    pid = (await shared_tray.status())["pid"]
    noisy = await RawClient.attach(shared_tray.paths.socket_path)
    try:
        for line in lines:
            noisy.send_bytes(line)
        with contextlib.suppress(ConnectionError, TimeoutError):
            await noisy.barrier()  # the noise has been read (or the hub hung up on it)
    finally:
        await noisy.close()

    other = await RawClient.attach(shared_tray.paths.socket_path)
    try:
        answer = await other.request(
            "tools/call", {"name": "progress", "arguments": {"steps": 1}}, request_id=0
        )
        assert is_response(0)(answer)
        assert result_text(answer) == "done 1"
    finally:
        await other.close()
    status = await shared_tray.status()
    assert (status["state"], status["pid"]) == ("running", pid)
