"""BackendSession (app/core/rpc/backend.py) against a real child process.

The peer is tests/servers/raw_peer.py, a raw NDJSON JSON-RPC program without
the MCP SDK, so the tests decide exactly what the "server" says and when.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from app.core.rpc.backend import (
    METHOD_NOT_FOUND,
    PROTOCOL_VERSION,
    BackendClosed,
    BackendSession,
    RpcError,
)
from app.core.rpc.framing import MalformedLine, Message, MessageReader
from app.core.supervise.stdin import StreamInput
from tests.helpers import PYTHON, SERVERS

pytestmark = pytest.mark.anyio

RAW_PEER = SERVERS / "raw_peer.py"
TIMEOUT_S = 10.0  # every answer from the peer is immediate; this only bounds a broken test
EXIT_TIMEOUT_S = 10.0


class Peer:
    """A raw_peer process with a running BackendSession on its stdio."""

    def __init__(self, process: asyncio.subprocess.Process, *, with_handler: bool) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self.messages: list[Message] = []  # what reached on_message
        self.malformed: list[MalformedLine] = []
        self._arrived = asyncio.Event()
        self.session = BackendSession(
            MessageReader(process.stdout),
            StreamInput(process.stdin),
            name="raw",
            on_message=self._on_message if with_handler else None,
            on_malformed=self.malformed.append,
        )
        self.runner = asyncio.create_task(self.session.run())

    def _on_message(self, message: Message, raw: bytes) -> None:
        self.messages.append(message)
        self._arrived.set()

    async def wait_for_messages(self, count: int) -> list[Message]:
        async with asyncio.timeout(TIMEOUT_S):
            while len(self.messages) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.messages

    async def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()  # raw_peer ends at end of input
        async with asyncio.timeout(EXIT_TIMEOUT_S):
            await self.process.wait()
            await self.runner


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Awaitable[Peer]]]:
    """``await connect(with_handler=...)`` starts a raw peer and a running session on it."""
    peers: list[Peer] = []

    async def start(*, with_handler: bool = True) -> Peer:
        process = await asyncio.create_subprocess_exec(
            PYTHON, str(RAW_PEER), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        peers.append(Peer(process, with_handler=with_handler))
        return peers[-1]

    yield start
    for peer in peers:
        await peer.close()


async def test_each_answer_reaches_the_request_it_belongs_to_even_out_of_order(connect) -> None:
    peer = await connect()

    # The peer holds all three and answers them last-first.
    results = await asyncio.gather(
        *(peer.session.request("hold", {"count": 3}, timeout=TIMEOUT_S) for _ in range(3))
    )

    assert results == [{"id": "tray-1"}, {"id": "tray-2"}, {"id": "tray-3"}]
    assert peer.session.in_flight == 0


async def test_a_request_returns_the_result_the_server_sent(connect) -> None:
    peer = await connect()

    result = await peer.session.request("echo", {"text": "héllo", "n": [1, 2]}, timeout=TIMEOUT_S)

    assert result == {"text": "héllo", "n": [1, 2]}


async def test_an_error_response_raises_rpc_error_with_code_message_and_data(connect) -> None:
    peer = await connect()

    with pytest.raises(RpcError) as raised:
        await peer.session.request("fail", {"why": "testing"}, timeout=TIMEOUT_S)

    assert raised.value.code == -32000
    assert raised.value.text == "it failed"
    assert raised.value.data == {"why": "testing"}
    assert str(raised.value) == "it failed (code -32000)"
    assert peer.session.in_flight == 0


async def test_requests_waiting_when_the_server_exits_fail_with_backend_closed(connect) -> None:
    peer = await connect()
    waiting = [
        asyncio.create_task(peer.session.request("hang", timeout=TIMEOUT_S)) for _ in range(2)
    ]
    # Once the peer has answered this, it has read (and is ignoring) both hangs.
    await peer.session.request("echo", timeout=TIMEOUT_S)
    assert peer.session.in_flight == 2

    peer.session.notify("exit")

    for task in waiting:
        with pytest.raises(BackendClosed, match="raw closed its output"):
            async with asyncio.timeout(TIMEOUT_S):
                await task
    async with asyncio.timeout(EXIT_TIMEOUT_S):
        assert await peer.process.wait() == 7
        await peer.runner  # run() returns normally at end of stream
    assert peer.session.in_flight == 0


async def test_a_request_the_server_never_answers_times_out_and_is_forgotten(connect) -> None:
    peer = await connect()

    with pytest.raises(TimeoutError):
        await peer.session.request("hang", timeout=0.2)

    assert peer.session.in_flight == 0
    assert await peer.session.request("echo", {"still": "alive"}, timeout=TIMEOUT_S) == {
        "still": "alive"
    }


async def test_a_late_answer_to_a_timed_out_request_is_not_given_to_the_next_one(
    connect,
) -> None:
    peer = await connect()
    with pytest.raises(TimeoutError):
        await peer.session.request("hold", {"count": 2, "reverse": False}, timeout=0.2)

    # This releases both: the late answer for tray-1 comes first, then ours.
    result = await peer.session.request("hold", {"count": 2, "reverse": False}, timeout=TIMEOUT_S)

    assert result == {"id": "tray-2"}
    assert peer.session.in_flight == 0
    assert peer.messages == []  # a stale answer to the hub is not a message for a client


async def test_a_ping_from_the_server_is_answered_by_the_session(connect) -> None:
    peer = await connect()

    result = await peer.session.request("ask", {"method": "ping"}, timeout=TIMEOUT_S)

    assert result == {"reply": {"jsonrpc": "2.0", "id": "peer-1", "result": {}}}
    assert peer.messages == []  # answered by the session, not handed on


async def test_a_server_request_without_a_handler_is_refused_with_method_not_found(
    connect,
) -> None:
    peer = await connect(with_handler=False)

    result = await peer.session.request(
        "ask", {"method": "sampling/createMessage", "params": {}}, timeout=TIMEOUT_S
    )

    reply = result["reply"]
    assert reply["id"] == "peer-1"
    assert "result" not in reply
    assert reply["error"]["code"] == METHOD_NOT_FOUND == -32601
    assert "sampling/createMessage" in reply["error"]["message"]


async def test_server_requests_and_notifications_go_to_the_handler_when_there_is_one(
    connect,
) -> None:
    peer = await connect()

    await peer.session.request(
        "notify", {"method": "notifications/tools/list_changed"}, timeout=TIMEOUT_S
    )
    asking = asyncio.create_task(
        peer.session.request("ask", {"method": "roots/list"}, timeout=TIMEOUT_S)
    )
    messages = await peer.wait_for_messages(2)
    asking.cancel()

    assert messages == [
        {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"},
        {"jsonrpc": "2.0", "id": "peer-1", "method": "roots/list"},  # for the relay to route
    ]


async def test_initialize_performs_the_handshake_and_caches_the_result(connect) -> None:
    peer = await connect()

    result = await peer.session.initialize(timeout=TIMEOUT_S, capabilities={"roots": {}})

    assert peer.session.initialize_result == result
    assert result["serverInfo"] == {"name": "raw-peer", "version": "1"}
    sent = result["received"]
    assert sent["protocolVersion"] == PROTOCOL_VERSION
    assert sent["capabilities"] == {"roots": {}}
    assert sent["clientInfo"]["name"] == "mcp-tray"
    seen = await peer.session.request("notifications", timeout=TIMEOUT_S)
    assert seen == {"methods": ["notifications/initialized"]}


async def test_ping_returns_once_the_server_answers_and_records_when_it_spoke(connect) -> None:
    peer = await connect()
    before = peer.session.last_message_at

    await peer.session.ping(timeout=TIMEOUT_S)

    assert peer.session.last_message_at > before
    assert peer.session.in_flight == 0


async def test_a_line_that_is_not_json_is_reported_and_the_session_carries_on(
    connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="app.core.rpc.backend")
    peer = await connect()

    await peer.session.request("garbage", timeout=TIMEOUT_S)

    assert len(peer.malformed) == 1
    assert peer.malformed[0].preview == "hello from a stray print()"
    assert "raw wrote something that is not MCP to stdout" in caplog.text
    assert await peer.session.request("echo", {"ok": 1}, timeout=TIMEOUT_S) == {"ok": 1}


async def test_only_lines_the_server_ended_are_passed_on_unparsed() -> None:
    """A dying server's last line, cut short, must be read (and refused), never passed
    on as it is: its request then gets the crash's answer instead of half a result."""
    whole = b'{"jsonrpc":"2.0","id":1,"result":{"text":"whole"}}\n'
    cut = b'{"jsonrpc":"2.0","id":2,"result":{"text":"cut sh'
    stream = asyncio.StreamReader()
    stream.feed_data(whole + cut)
    stream.feed_eof()
    offered: list[bytes] = []
    malformed: list[MalformedLine] = []

    def take(line: bytes) -> bool:
        offered.append(line)
        return True

    session = BackendSession(
        MessageReader(stream),
        StreamInput(_NoWriter()),  # type: ignore[arg-type]
        name="dying",
        on_malformed=malformed.append,
        on_line=take,
    )
    async with asyncio.timeout(TIMEOUT_S):
        await session.run()

    assert offered == [whole.rstrip(b"\n")]
    assert len(malformed) == 1 and "cut sh" in malformed[0].preview


class _NoWriter:
    """A server input nothing is written to in the test."""
