"""Editors attached through ``mcp-tray attach``: the SDK's client, run as a real stdio command.

A real hub (``mcp-tray serve``) supervises tests/servers/flaky.py; clients
connect the way an editor's config makes them, and the server is killed,
restarted and hung under them.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from app.core.endpoint import client as control
from app.core.paths import default_paths
from tests.helpers import FLAKY, INITIALIZE_REQUEST, PYTHON
from tests.hubprocess import HubProcess, mcp_tray

pytestmark = pytest.mark.anyio

CALL_TIMEOUT_S = 30.0


def write_config(home: Path, **servers: dict[str, object]) -> None:
    (home / "config.json").write_text(json.dumps({"mcpServers": servers}))


def flaky_entry(*flags: str, **restart: int) -> dict[str, object]:
    return {"command": PYTHON, "args": [str(FLAKY), *flags], "restart": restart}


@pytest.fixture
def hub(tray_home: Path) -> Iterator[HubProcess]:
    if not (tray_home / "config.json").exists():
        write_config(tray_home, flaky=flaky_entry(initialDelayMs=50))
    process = HubProcess(tray_home)
    process.wait_for_line(r"is running")
    yield process
    process.stop()


@asynccontextmanager
async def attached(home: Path, name: str = "flaky") -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "app", "attach", name],
        env={**os.environ, "MCP_TRAY_HOME": str(home)},
    )
    client = Client(params, mode="legacy", read_timeout_seconds=CALL_TIMEOUT_S)
    with anyio.fail_after(60):
        async with client:
            yield client


def _leaves(error: BaseException) -> Iterator[BaseException]:
    """The exceptions inside (nested) exception groups, as task groups raise them."""
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _leaves(inner)
    else:
        yield error


def server_pid(hub: HubProcess, name: str = "flaky") -> int:
    return next(row["pid"] for row in hub.status() if row["name"] == name)


def text(result: object) -> str:
    return result.content[0].text  # type: ignore[attr-defined]


async def test_an_attached_client_lists_and_calls_tools(hub: HubProcess) -> None:
    async with attached(hub.home) as client:
        tools = await client.list_tools()
        result = await client.call_tool("work", {})

    assert {tool.name for tool in tools.tools} >= {"work", "slow", "block"}
    assert text(result) == "done 1"


async def test_an_unknown_server_name_is_a_readable_error_listing_the_configured_ones(
    hub: HubProcess,
) -> None:
    with pytest.raises(BaseExceptionGroup) as refused:
        async with attached(hub.home, "nope"):
            pass

    (error,) = [e for e in _leaves(refused.value) if isinstance(e, MCPError)]
    assert error.error.code == -31004
    assert "no server named 'nope'" in str(error) and "configured: flaky" in str(error)


async def test_a_server_killed_between_calls_is_invisible_to_the_client(hub: HubProcess) -> None:
    async with attached(hub.home) as client:
        assert text(await client.call_tool("work", {})) == "done 1"
        first = server_pid(hub)

        os.kill(first, signal.SIGKILL)
        hub.wait_for_line(r"flaky restarting in")  # the kill has happened: between calls
        result = await client.call_tool("work", {})

        assert text(result) == "done 1"  # a fresh process counts from one again
        assert server_pid(hub) != first


async def call_slow_and_interrupt(
    client: Client, interrupt: Callable[[], Awaitable[None]]
) -> MCPError:
    """Start a long tool call, run ``interrupt`` once the server is inside it; the call's error."""
    started = anyio.Event()
    refusal: list[MCPError] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        started.set()  # the server reports progress from inside the call

    async def call_slow() -> None:
        try:
            await client.call_tool("slow", {"seconds": 30}, progress_callback=on_progress)
        except MCPError as error:
            refusal.append(error)

    async with anyio.create_task_group() as group:
        group.start_soon(call_slow)
        await started.wait()
        await interrupt()
    (error,) = refusal
    return error


async def test_a_call_running_when_the_server_dies_gets_a_readable_error_and_the_next_succeeds(
    hub: HubProcess,
) -> None:
    async with attached(hub.home) as client:
        pid = server_pid(hub)

        async def kill_server() -> None:
            os.kill(pid, signal.SIGKILL)

        error = await call_slow_and_interrupt(client, kill_server)
        next_result = await client.call_tool("work", {})

    assert "flaky crashed while handling this call and was restarted" in str(error)
    assert error.error.code == -31001
    assert text(next_result) == "done 1"


async def test_tools_list_keeps_answering_while_the_server_is_down(tray_home: Path) -> None:
    # A long first backoff keeps the server down while the client lists.
    write_config(tray_home, flaky=flaky_entry(initialDelayMs=3000, maxDelayMs=3000))
    hub = HubProcess(tray_home)
    try:
        hub.wait_for_line(r"flaky is running")
        async with attached(tray_home) as client:
            before = await client.list_tools()
            os.kill(server_pid(hub), signal.SIGKILL)
            hub.wait_for_line(r"flaky restarting in")

            during = await client.list_tools()

            assert hub.status()[0]["state"] == "backoff"
            assert [t.name for t in during.tools] == [t.name for t in before.tools]
    finally:
        hub.stop()


async def test_two_clients_with_colliding_ids_each_get_their_own_answers(hub: HubProcess) -> None:
    async with attached(hub.home) as first, attached(hub.home) as second:
        answers: dict[str, list[str]] = {"first": [], "second": []}
        progress: dict[str, int] = {"first": 0, "second": 0}

        async def calls(label: str, client: Client) -> None:
            async def on_progress(p: float, total: float | None, message: str | None) -> None:
                progress[label] += 1

            for _ in range(5):
                result = await client.call_tool(
                    "slow",
                    {"seconds": 0.01 if label == "first" else 0.02},
                    progress_callback=on_progress,
                )
                answers[label].append(text(result))

        async with anyio.create_task_group() as group:
            group.start_soon(calls, "first", first)
            group.start_soon(calls, "second", second)

    assert answers == {"first": ["slept 0.01"] * 5, "second": ["slept 0.02"] * 5}
    assert progress == {"first": 10, "second": 10}  # each saw only its own


async def test_a_planned_restart_under_continuous_calls_fails_no_request(hub: HubProcess) -> None:
    failures: list[BaseException] = []
    done = anyio.Event()
    counts = {"first": 0, "second": 0}

    async def keep_calling(label: str, client: Client) -> None:
        while not done.is_set():
            try:
                await client.call_tool("slow", {"seconds": 0.05})
                counts[label] += 1
            except MCPError as error:
                failures.append(error)

    async with attached(hub.home) as first, attached(hub.home) as second:
        pid = server_pid(hub)
        async with anyio.create_task_group() as group:
            group.start_soon(keep_calling, "first", first)
            group.start_soon(keep_calling, "second", second)
            restart = await anyio.to_thread.run_sync(mcp_tray, hub.home, "restart", "flaky")
            done.set()

    assert restart.returncode == 0, restart.stderr
    assert server_pid(hub) != pid
    assert failures == []
    assert counts["first"] > 0 and counts["second"] > 0


async def test_an_editor_stays_attached_across_a_hub_restart(tray_home: Path) -> None:
    write_config(tray_home, flaky=flaky_entry())
    hubs = [HubProcess(tray_home)]
    hubs[0].wait_for_line(r"flaky is running")

    async def restart_hub() -> None:
        hubs[0].send(signal.SIGKILL)  # the hub dies with a call in flight
        await anyio.to_thread.run_sync(hubs[0].process.wait, 10)
        hubs.append(HubProcess(tray_home))

    try:
        async with attached(tray_home) as client:
            assert text(await client.call_tool("work", {})) == "done 1"
            error = await call_slow_and_interrupt(client, restart_hub)
            result = await client.call_tool("work", {})  # same session, new hub

        assert error.error.code == -31007 and "MCP Tray restarted" in str(error)
        assert text(result) == "done 1"
    finally:
        for hub in hubs:
            hub.stop()


async def test_attach_starts_a_hub_when_none_is_running(tray_home: Path) -> None:
    write_config(tray_home, flaky=flaky_entry())
    try:
        async with attached(tray_home) as client:
            result = await client.call_tool("work", {})
        assert text(result) == "done 1"
    finally:
        status = mcp_tray(tray_home, "status", "--json")
        assert status.returncode == 0  # the hub it started stays for the next editor
        stop_hub()


def stop_hub() -> None:
    """End a hub this test did not start itself, and wait until it is gone."""
    pid = control.call(default_paths().socket_path, "hello")["pid"]
    process = psutil.Process(pid)
    process.terminate()
    process.wait(timeout=15)


async def test_an_unshared_server_runs_one_process_per_client_and_ends_with_it(
    tray_home: Path,
) -> None:
    write_config(tray_home, flaky={**flaky_entry(), "shared": False})
    hub = HubProcess(tray_home)
    try:
        hub.wait_for_line(r"control socket")
        async with attached(tray_home) as first, attached(tray_home) as second:
            answers = [
                text(await first.call_tool("work", {})),
                text(await first.call_tool("work", {})),
                text(await second.call_tool("work", {})),
            ]
            rows = {row["name"]: row for row in hub.status()}
        hub.wait_for_line(r"flaky#1 ended with its client")
        hub.wait_for_line(r"flaky#2 ended with its client")

        assert answers == ["done 1", "done 2", "done 1"]  # each client has its own process
        assert rows["flaky#1"]["pid"] != rows["flaky#2"]["pid"]
        assert rows["flaky"]["state"] == "stopped"  # no process until a client attaches
        assert {row["name"] for row in hub.status()} == {"flaky"}
    finally:
        hub.stop()


async def test_a_call_sent_as_the_server_dies_is_answered_and_the_session_carries_on(
    hub: HubProcess,
) -> None:
    async with attached(hub.home) as client:
        assert text(await client.call_tool("work", {})) == "done 1"

        os.kill(server_pid(hub), signal.SIGKILL)
        # No wait: the call races the death. If the dying server never read it
        # (the hub checks how much of its stdin was left unread), it goes to the
        # next process; if the server may have read it, it fails readably.
        try:
            outcome = text(await client.call_tool("work", {}))
        except MCPError as error:
            outcome = f"{error.error.code}: {error}"
        following = text(await client.call_tool("work", {}))

    assert outcome == "done 1" or outcome.startswith("-31001: flaky crashed"), outcome
    assert following in {"done 1", "done 2"}


def test_attach_imports_neither_pydantic_nor_the_mcp_sdk_nor_qt(hub: HubProcess) -> None:
    request = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "app", "attach", "flaky"],
        input=json.dumps(request) + "\n",
        env={**os.environ, "MCP_TRAY_HOME": str(hub.home)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert json.loads(result.stdout) == {"jsonrpc": "2.0", "id": 1, "result": {}}
    modules = {
        line.split("|")[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    imported = {module.split(".")[0] for module in modules}
    assert "json" in imported  # the flag worked
    assert not imported & {"pydantic", "mcp", "PySide6", "qasync", "anyio"}
    # Nor the other commands' modules, which building the whole command line would load.
    assert not {m for m in modules if m.startswith("app.cli.")}, modules


def test_requests_sent_before_stdin_closes_are_all_answered(hub: HubProcess) -> None:
    """As a server run directly answers a script piped into it: stdin ending is not a
    reason to drop the answers still on their way."""
    requests = [
        INITIALIZE_REQUEST,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "work"}},
    ]
    result = subprocess.run(
        [sys.executable, "-m", "app", "attach", "flaky"],
        input="".join(json.dumps(request) + "\n" for request in requests),
        env={**os.environ, "MCP_TRAY_HOME": str(hub.home)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [answer.get("id") for answer in answers] == [1, 2, 3], result.stdout
    assert all("result" in answer for answer in answers)
    assert result.returncode == 0, result.stderr


def test_attach_says_what_to_do_when_no_hub_can_be_started(tray_home: Path) -> None:
    (tray_home / "config.json").write_text('{"mcpServers": {"x": {"comand": "y"}}}')
    request = {"jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {}}

    result = subprocess.run(
        [sys.executable, "-m", "app", "attach", "x"],
        input=json.dumps(request) + "\n",
        env={**os.environ, "MCP_TRAY_HOME": str(tray_home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    answer = json.loads(result.stdout)
    assert result.returncode == 1
    assert answer["id"] == 7 and answer["error"]["code"] == -31005
    assert "mcp-tray config check" in answer["error"]["message"]


class RawAttach:
    """``mcp-tray attach`` with the editor's side written and read by hand, line by line."""

    def __init__(self, home: Path, name: str = "flaky", **env: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "attach", name],
            env={**os.environ, "MCP_TRAY_HOME": str(home), **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.received: list[dict[str, Any]] = []
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self._lines.put(json.loads(line))
        self._lines.put(None)

    def send(self, line: bytes | dict[str, Any]) -> None:
        assert self.process.stdin is not None
        data = line if isinstance(line, bytes) else json.dumps(line).encode() + b"\n"
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def request(self, request_id: Any, method: str, params: dict[str, Any] | None = None) -> None:
        self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}})

    def answer(self, request_id: Any) -> dict[str, Any]:
        """The next answer to ``request_id``, waiting for it (bounded)."""
        while True:
            for message in self.received:
                if "method" not in message and message.get("id") == request_id:
                    self.received.remove(message)
                    return message
            message = self._lines.get(timeout=CALL_TIMEOUT_S)
            if message is None:
                raise AssertionError(f"attach ended before answering {request_id!r}")
            self.received.append(message)

    def rest(self) -> list[dict[str, Any]]:
        """Everything else it writes until it exits."""
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.close()  # attach ends at the end of its input
        while (message := self._lines.get(timeout=CALL_TIMEOUT_S)) is not None:
            self.received.append(message)
        self.process.wait(CALL_TIMEOUT_S)
        return self.received


INITIALIZE = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t"}}


async def test_deeply_nested_json_through_attach_gets_a_parse_error_and_the_session_carries_on(
    hub: HubProcess,
) -> None:
    editor = RawAttach(hub.home)
    editor.request(1, "initialize", INITIALIZE)
    for request_id in (2, 3, 4):
        editor.request(request_id, "tools/list")
    answered = [editor.answer(request_id) for request_id in (1, 2, 3, 4)]

    editor.send(b"[" * 100_000 + b"]" * 100_000 + b"\n")
    refused = editor.answer(None)
    editor.request(5, "tools/call", {"name": "work", "arguments": {}})
    result = editor.answer(5)
    rest = editor.rest()

    assert all("result" in answer for answer in answered)
    assert refused["error"]["code"] == -32700
    assert result["result"]["content"][0]["text"] == "done 1"
    assert rest == []  # nothing answered twice: the connection to the hub was never lost


async def test_attach_giving_up_on_a_hub_that_went_away_answers_what_it_read_meanwhile(
    hub: HubProcess,
) -> None:
    editor = RawAttach(hub.home, MCP_TRAY_ATTACH_RECONNECT_S="2")
    editor.request(1, "initialize", INITIALIZE)
    editor.answer(1)
    editor.request(2, "tools/call", {"name": "slow", "arguments": {"seconds": 60}})
    hub.send(signal.SIGKILL)  # gone without a word: only attach can answer the call

    lost = editor.answer(2)  # attach has seen the hub go, and is looking for it again
    editor.request(3, "tools/list")
    gave_up = editor.answer(3)
    rest = editor.rest()

    assert lost["error"]["code"] == -31007
    assert gave_up["error"]["code"] == -31005
    assert "start it again" in gave_up["error"]["message"]
    assert rest == [] and editor.process.returncode == 1
