"""The activity record through a real hub: ``mcp-tray serve`` runs tests/servers/rich.py,
and the SDK's client attaches with ``mcp-tray attach`` as an editor's config does.

Each way a call ends is provoked, never waited for by time: answered, failed,
cancelled by the client once the server announced the call started (the relay
broadcasts rich.py's announcements), and cut short by SIGKILL to the server
while it holds the call. ``mcp-tray activity`` shows the rows, as a table and
as JSON, and follows new ones with ``-f``; a tray presenting this hub from
another process (RemoteHub) reads them and hears of new ones.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from app.core.activity import Outcome
from app.core.endpoint.remote import RemoteHub
from app.core.events import ActivityRecorded
from app.core.paths import HOME_ENV, default_paths
from app.core.rpc.errors import INVALID_PARAMS, SERVER_CRASHED
from tests.helpers import PYTHON, SERVERS
from tests.hubprocess import HubProcess, mcp_tray

pytestmark = pytest.mark.anyio

RICH = SERVERS / "rich.py"
APP = types.Implementation(name="claude-code", version="2.0.1")
ATTACH_S = 60.0  # `mcp-tray attach` and the SDK's import, on a cold machine
CALL_S = 30.0  # a call, or a kill and the call's answer, on a loaded machine
LINE_S = 30.0  # a line from `mcp-tray activity -f`


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    """``mcp-tray serve`` with one server, rich, running."""
    home = tmp_path / "home"
    home.mkdir()
    rich = {"command": PYTHON, "args": [str(RICH)], "restart": {"initialDelayMs": 0}}
    (home / "config.json").write_text(json.dumps({"mcpServers": {"rich": rich}}))
    process = HubProcess(home)
    try:
        process.wait_for_line(r"rich is running")
        yield process
    finally:
        process.stop()
    assert process.unexpected_warnings() == []


class Announcements:
    """What rich.py announced (a call started, was cancelled), heard as the app hears it."""

    def __init__(self) -> None:
        self.heard: list[dict[str, Any]] = []
        self._new = anyio.Event()

    async def __call__(self, params: types.LoggingMessageNotificationParams) -> None:
        if params.logger == "rich" and isinstance(params.data, dict):
            self.heard.append(params.data)
            self._new.set()
            self._new = anyio.Event()

    async def wait_for(self, event: str, label: str) -> None:
        with anyio.fail_after(CALL_S):
            while {"event": event, "label": label} not in self.heard:
                await self._new.wait()


@asynccontextmanager
async def editor(home: Path, **options: Any) -> AsyncIterator[Client]:
    """The SDK's client, named claude-code, attached to rich."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "app", "attach", "rich"],
        env={**os.environ, HOME_ENV: str(home)},
    )
    with anyio.fail_after(ATTACH_S):
        async with Client(
            params, mode="legacy", client_info=APP, read_timeout_seconds=CALL_S, **options
        ) as client:
            yield client


def recorded(hub: HubProcess) -> list[dict[str, Any]]:
    """The hub's rows of rich, as ``mcp-tray activity rich --json`` prints them."""
    result = mcp_tray(hub.home, "activity", "rich", "--json", "-n", "500")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def calls(hub: HubProcess) -> list[tuple[str, str, str | None, str, int | None]]:
    """The rows of what the test asked for (the SDK also lists tools on its own)."""
    return [
        (row["app"], row["method"], row["tool"], row["outcome"], row["code"])
        for row in recorded(hub)
        if row["method"] != "tools/list"
    ]


async def test_calls_answered_or_failed_each_have_a_row_with_the_app_and_tool(
    hub: HubProcess,
) -> None:
    async with editor(hub.home) as client:
        assert not (await client.call_tool("progress", {"steps": 1})).is_error
        assert (await client.call_tool("progress", {"steps": "many"})).is_error
        with pytest.raises(MCPError) as refused:
            await client.read_resource("rich://nothing-here")

    assert refused.value.error.code == INVALID_PARAMS
    assert calls(hub) == [
        ("claude-code", "tools/call", "progress", "ok", None),
        ("claude-code", "tools/call", "progress", "tool-error", None),
        ("claude-code", "resources/read", None, "error", INVALID_PARAMS),
    ]
    assert all(0 <= row["duration_s"] < CALL_S for row in recorded(hub))


async def test_a_call_the_app_cancels_has_a_cancelled_row(hub: HubProcess) -> None:
    announced = Announcements()
    async with editor(hub.home, logging_callback=announced) as client:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as group:
                group.start_soon(client.call_tool, "hold", {"label": "cancel-me"})
                await announced.wait_for("started", "cancel-me")
                scope.cancel()  # the SDK tells the server: notifications/cancelled
        await announced.wait_for("cancelled", "cancel-me")  # the relay passed it on

    assert calls(hub) == [("claude-code", "tools/call", "hold", "cancelled", None)]


async def test_a_call_running_when_its_server_is_killed_has_a_crashed_row(
    hub: HubProcess,
) -> None:
    hub.expect_warnings(r"rich was killed by SIGKILL")
    announced = Announcements()
    lost: list[MCPError] = []
    async with editor(hub.home, logging_callback=announced) as client:

        async def held_call() -> None:
            try:
                await client.call_tool("hold", {"label": "kill-me"})
            except MCPError as error:
                lost.append(error)

        async with anyio.create_task_group() as group:
            group.start_soon(held_call)
            await announced.wait_for("started", "kill-me")  # the server has it: not repeated
            (row,) = await anyio.to_thread.run_sync(hub.status)
            os.kill(row["pid"], signal.SIGKILL)

    assert [error.error.code for error in lost] == [SERVER_CRASHED]
    assert calls(hub) == [("claude-code", "tools/call", "hold", "crashed", None)]


async def test_the_command_prints_the_requests_and_each_tools_counts_then_follows_new_ones(
    hub: HubProcess,
) -> None:
    async with editor(hub.home) as client:
        for steps in (1, 2, 3):
            await client.call_tool("progress", {"steps": steps})
        printed = mcp_tray(hub.home, "activity", "rich")
        with following(hub.home) as lines:
            assert _until(lines, "Following new requests").startswith("Following")
            await client.call_tool("release", {"label": "followed"})
            followed = _until(lines, "release")

    assert printed.returncode == 0, printed.stderr
    table, summary = printed.stdout.split("\n\n")
    header, *rows = table.splitlines()
    assert header.split() == ["TIME", "APP", "SERVER", "METHOD", "TOOL", "TOOK", "OUTCOME"]
    progress = [row.split() for row in rows if "progress" in row]
    assert [row[1:5] + row[-1:] for row in progress] == [
        ["claude-code", "rich", "tools/call", "progress", "ok"]
    ] * 3
    titles = ["SERVER", "TOOL", "OR", "METHOD", "CALLS", "FAILED", "MEDIAN"]
    assert summary.splitlines()[0].split() == titles
    counted = next(line.split() for line in summary.splitlines() if " progress " in line)
    assert counted[:4] == ["rich", "progress", "3", "0"]
    assert followed.split()[1:5] == ["claude-code", "rich", "tools/call", "release"]
    assert followed.split()[-1] == "ok"


async def test_a_tray_presenting_the_hub_from_another_process_gets_the_rows_and_new_ones(
    hub: HubProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOME_ENV, str(hub.home))
    remote = RemoteHub(default_paths())
    told: list[ActivityRecorded] = []
    arrived = anyio.Event()

    def hear(event: ActivityRecorded) -> None:
        told.append(event)
        arrived.set()

    remote.bus.subscribe(ActivityRecorded, hear)
    await remote.start()
    try:
        async with editor(hub.home) as client:
            await client.call_tool("release", {"label": "remote"})
            with anyio.fail_after(CALL_S):
                while not any(row.tool == "release" for e in told for row in e.rows):
                    await arrived.wait()
                    arrived = anyio.Event()
        rows = await remote.activity("rich")
        everything = await remote.activity()
    finally:
        await remote.shutdown()

    (row,) = [row for row in rows if row.tool == "release"]
    assert (row.app, row.server, row.outcome) == ("claude-code", "rich", Outcome.OK)
    assert row in [r for e in told for r in e.rows]
    assert everything == rows


def test_the_command_says_when_no_hub_runs_or_the_server_is_unknown(
    tmp_path: Path, hub: HubProcess
) -> None:
    alone = mcp_tray(tmp_path, "activity")
    assert alone.returncode == 1
    assert "MCP Tray is not running" in alone.stderr
    unknown = mcp_tray(hub.home, "activity", "nowhere")
    assert unknown.returncode == 1
    assert "no server named 'nowhere'" in unknown.stderr
    empty = mcp_tray(hub.home, "activity")
    assert empty.stdout.strip() == (
        "No requests yet: no server has been asked anything since MCP Tray started."
    )


# ----- `mcp-tray activity -f`, read line by line


@contextmanager
def following(home: Path) -> Iterator[queue.Queue[str | None]]:
    """``mcp-tray activity rich -f -n 0`` running; its lines arrive in the queue (None:
    it ended)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "activity", "rich", "-f", "-n", "0"],
        env={**os.environ, HOME_ENV: str(home)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield lines
    finally:
        process.send_signal(signal.SIGINT)  # as Ctrl-C
        process.wait(timeout=LINE_S)
        reader.join(timeout=LINE_S)
        assert process.stdout is not None
        process.stdout.close()


def _until(lines: queue.Queue[str | None], text: str) -> str:
    """The next line holding ``text`` (those before it are passed over)."""
    while True:
        line = lines.get(timeout=LINE_S)
        assert line is not None, f"`mcp-tray activity -f` ended before printing {text!r}"
        if text in line:
            return line
