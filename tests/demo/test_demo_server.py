"""The demo server, run for real: ``python -m app.demo`` in a subprocess, driven
by the SDK's stdio client, with ``MCP_TRAY_HOME`` pointing at a temporary folder.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent, TextResourceContents

pytestmark = pytest.mark.anyio

# Generous on purpose: the first start in a fresh venv compiles the SDK's
# bytecode, which took ~20 s on a cold disk; a warm start takes under a second.
SESSION_TIMEOUT = 60.0
# Per request, so a hung call fails on its own line rather than at the session bound.
REQUEST_TIMEOUT = 10.0
MAX_LINE_BYTES = 1 << 20  # far above any answer the demo gives


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the hub runs on asyncio (qasync in the tray); trio is not a target


@asynccontextmanager
async def demo_server(home: Path) -> AsyncIterator[Client]:
    """A client connected to a fresh demo server process whose files live under ``home``."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "app.demo"],
        env={"MCP_TRAY_HOME": str(home)},
        cwd=home,  # nothing may depend on, or be written to, the working directory
    )
    # "legacy" (the initialize handshake) is how the hub talks to every backend.
    client = Client(params, mode="legacy", read_timeout_seconds=REQUEST_TIMEOUT)
    with anyio.fail_after(SESSION_TIMEOUT):
        async with client:
            yield client


def notes_file(home: Path) -> Path:
    return home / "data" / "demo-notes.json"


def structured(result: CallToolResult) -> Any:
    assert not result.is_error, error_text(result)
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


async def test_the_demo_server_introduces_itself_and_lists_its_tools(tmp_path: Path) -> None:
    async with demo_server(tmp_path) as client:
        server_info, instructions = client.server_info, client.instructions
        tools = await client.list_tools()

    assert server_info is not None
    assert server_info.name == "MCP Tray demo"
    assert instructions is not None
    assert "MCP Tray" in instructions
    assert {tool.name for tool in tools.tools} == {
        "current_time",
        "add_note",
        "list_notes",
        "delete_note",
    }


async def test_current_time_in_a_named_timezone_carries_that_zones_offset(tmp_path: Path) -> None:
    async with demo_server(tmp_path) as client:
        result = await client.call_tool("current_time", {"timezone": "Asia/Tokyo"})

    answer = structured(result)
    reported = datetime.fromisoformat(answer["iso8601"])
    assert answer["timezone"] == "Asia/Tokyo"
    assert reported.utcoffset() == timedelta(hours=9)  # Japan keeps no daylight saving time
    assert abs(datetime.now(UTC) - reported) < timedelta(minutes=1)


async def test_current_time_without_a_timezone_reports_local_time(tmp_path: Path) -> None:
    async with demo_server(tmp_path) as client:
        result = await client.call_tool("current_time", {})

    answer = structured(result)
    reported = datetime.fromisoformat(answer["iso8601"])
    assert answer["timezone"] == "local"
    assert reported.tzinfo is not None
    assert abs(datetime.now(UTC) - reported) < timedelta(minutes=1)


async def test_an_unknown_timezone_is_a_tool_error_that_suggests_valid_names(
    tmp_path: Path,
) -> None:
    async with demo_server(tmp_path) as client:
        unknown = await client.call_tool("current_time", {"timezone": "Mars/Olympus_Mons"})
        path_like = await client.call_tool("current_time", {"timezone": "../../etc/passwd"})

    for result in (unknown, path_like):
        assert result.is_error
        assert "Unknown timezone" in error_text(result)
        assert "Europe/Paris" in error_text(result)


async def test_notes_can_be_added_listed_and_deleted(tmp_path: Path) -> None:
    async with demo_server(tmp_path) as client:
        milk = structured(await client.call_tool("add_note", {"text": "buy milk"}))
        call = structured(await client.call_tool("add_note", {"text": "call Ada"}))
        listed = structured(await client.call_tool("list_notes", {}))
        deleted = structured(await client.call_tool("delete_note", {"note_id": milk["id"]}))
        remaining = structured(await client.call_tool("list_notes", {}))

    assert [note["text"] for note in listed["result"]] == ["buy milk", "call Ada"]
    assert deleted == milk
    assert remaining["result"] == [call]
    # The atomic write's temporary file must not be left behind.
    assert [path.name for path in notes_file(tmp_path).parent.iterdir()] == ["demo-notes.json"]


async def test_deleting_an_unknown_note_is_a_tool_error_that_points_to_list_notes(
    tmp_path: Path,
) -> None:
    async with demo_server(tmp_path) as client:
        result = await client.call_tool("delete_note", {"note_id": 42})

    assert result.is_error
    assert "no note with id 42" in error_text(result)
    assert "list_notes" in error_text(result)


async def test_an_empty_note_is_refused(tmp_path: Path) -> None:
    async with demo_server(tmp_path) as client:
        result = await client.call_tool("add_note", {"text": "   "})

    assert result.is_error
    assert "needs some text" in error_text(result)
    assert not notes_file(tmp_path).exists()


async def test_notes_survive_a_server_restart_and_ids_are_never_reused(tmp_path: Path) -> None:
    async with demo_server(tmp_path) as first:
        await first.call_tool("add_note", {"text": "first"})
        second_note = structured(await first.call_tool("add_note", {"text": "second"}))
        await first.call_tool("delete_note", {"note_id": second_note["id"]})

    async with demo_server(tmp_path) as restarted:
        seen = structured(await restarted.call_tool("list_notes", {}))
        third_note = structured(await restarted.call_tool("add_note", {"text": "third"}))

    assert [note["text"] for note in seen["result"]] == ["first"]
    assert third_note["id"] > second_note["id"]


async def test_the_notes_resource_holds_every_note_as_json(tmp_path: Path) -> None:
    async with demo_server(tmp_path) as client:
        await client.call_tool("add_note", {"text": "read me"})
        result = await client.read_resource("notes://all")

    [contents] = result.contents
    assert isinstance(contents, TextResourceContents)
    assert contents.mime_type == "application/json"
    assert [note["text"] for note in json.loads(contents.text)] == ["read me"]


async def test_a_damaged_notes_file_is_reported_by_the_tools_and_left_untouched(
    tmp_path: Path,
) -> None:
    damaged = notes_file(tmp_path)
    damaged.parent.mkdir(parents=True)
    damaged.write_text('{"notes": [oops', encoding="utf-8")

    async with demo_server(tmp_path) as client:  # the server starts regardless
        listed = await client.call_tool("list_notes", {})
        added = await client.call_tool("add_note", {"text": "would overwrite"})

    for result in (listed, added):
        assert result.is_error
        assert str(damaged) in error_text(result)
        assert "damaged" in error_text(result)
    assert damaged.read_text(encoding="utf-8") == '{"notes": [oops'


async def test_the_server_writes_only_protocol_messages_to_stdout(tmp_path: Path) -> None:
    """Stdout is the MCP channel: diagnostics go to stderr, and EOF on stdin ends the server."""
    initialize = {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    }
    with anyio.fail_after(SESSION_TIMEOUT):
        async with await anyio.open_process(
            [sys.executable, "-m", "app.demo"],
            env={**os.environ, "MCP_TRAY_HOME": str(tmp_path)},
            cwd=tmp_path,
        ) as process:
            # One request at a time: closing stdin with a call in flight ends the
            # server before it answers, and this test wants every answer.
            conversation = JsonRpcPipe(process)
            await conversation.request(1, "initialize", initialize)
            await conversation.notify("notifications/initialized")
            await conversation.request(2, "tools/call", {"name": "current_time"})
            await conversation.close_stdin()
            trailing = await conversation.read_rest()
            returncode = await process.wait()
            stderr = await conversation.read_stderr()

    assert returncode == 0, stderr
    assert trailing == b""
    assert conversation.answered_ids == [1, 2]
    assert "Serving on stdio" in stderr


class JsonRpcPipe:
    """Just enough of a JSON-RPC client to see every byte the server writes to stdout."""

    def __init__(self, process: Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        self._stdin = process.stdin
        self._stdout = BufferedByteReceiveStream(process.stdout)
        self._stderr = process.stderr
        self.answered_ids: list[int] = []

    async def notify(self, method: str) -> None:
        await self._send({"jsonrpc": "2.0", "method": method})

    async def request(self, request_id: int, method: str, params: dict[str, Any]) -> None:
        await self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        # Any non-JSON-RPC line (a stray print, a log line) fails json.loads or the key check.
        answer = json.loads(await self._stdout.receive_until(b"\n", MAX_LINE_BYTES))
        assert answer["jsonrpc"] == "2.0"
        assert "result" in answer, answer
        self.answered_ids.append(answer["id"])

    async def close_stdin(self) -> None:
        await self._stdin.aclose()

    async def read_rest(self) -> bytes:
        return b"".join([chunk async for chunk in self._stdout])

    async def read_stderr(self) -> str:
        return b"".join([chunk async for chunk in self._stderr]).decode()

    async def _send(self, message: dict[str, Any]) -> None:
        await self._stdin.send(json.dumps(message).encode() + b"\n")
