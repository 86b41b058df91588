"""Test helpers: the fault-injecting server's config, and bounded waits on hub events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from app.core.config import ServerConfig
from app.core.events import (
    ConfigApplied,
    ConfigProblem,
    Event,
    EventBus,
    SecretsMissing,
    ServerExited,
    ServerLogLine,
    ServerStateChanged,
    SourcesChanged,
)

SERVERS = Path(__file__).parent / "servers"
FLAKY = SERVERS / "flaky.py"
PYTHON = sys.executable
# Screenshots and other files worth looking at after a run (gitignored).
ARTIFACTS = Path(
    os.environ.get("MCP_TRAY_TEST_ARTIFACTS", Path(__file__).parents[1] / "test-artifacts")
)
EVENT_TIMEOUT_S = 30.0  # generous: a first MCPServer start on a cold machine takes seconds
# An MCP initialize request as an HTTP client first posts it.
INITIALIZE_REQUEST: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "1"},
    },
}
FREEZE_WITHIN_S = 10.0
FREEZE_POLL_S = 0.005  # no event tells of another process stopping: its state is looked at


async def freeze(pid: int) -> None:
    """SIGSTOP a process, and wait until every thread of it has stopped: a thread woken
    in read() by the signal could otherwise still take what is in its stdin pipe."""
    os.kill(pid, signal.SIGSTOP)
    with anyio.fail_after(FREEZE_WITHIN_S):
        while not all(_thread_state(task) == "T" for task in Path(f"/proc/{pid}/task").iterdir()):
            await anyio.sleep(FREEZE_POLL_S)


def _thread_state(task: Path) -> str:
    with contextlib.suppress(OSError):
        return (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
    return "T"  # a thread that ended reads nothing either


def flaky(*options: str, **restart: int) -> ServerConfig:
    """A ServerConfig running tests/servers/flaky.py, with fast restart limits by default."""
    limits = {"initialDelayMs": 10, "maxDelayMs": 100, "maxFailures": 3, **_camel(restart)}
    return ServerConfig.model_validate(
        {"command": PYTHON, "args": [str(FLAKY), *options], "restart": limits}
    )


def claude_desktop_config(path: Path, token: str) -> None:
    """A Claude-Desktop-shaped config at ``path``: two servers, one holding ``token`` in plain
    text (tests/servers/secretive.py, whose ``token`` tool answers it)."""
    servers = {
        "notes": {"command": PYTHON, "args": [str(FLAKY)]},
        "github": {
            "command": PYTHON,
            "args": [str(SERVERS / "secretive.py"), "GITHUB_TOKEN"],
            "env": {"GITHUB_TOKEN": token},
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mcpServers": servers}, indent=2))


def _camel(values: dict[str, int]) -> dict[str, int]:
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    return {camel(key): value for key, value in values.items()}


class EventRecorder:
    """Everything published on a bus, and bounded waits for what a test expects."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        for kind in (
            ServerStateChanged,
            ServerExited,
            ServerLogLine,
            SourcesChanged,
            ConfigProblem,
            ConfigApplied,
            SecretsMissing,
        ):
            bus.subscribe(kind, self._record)

    def _record(self, event: Any) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait_for(
        self, matches: Callable[[Event], bool], *, timeout: float = EVENT_TIMEOUT_S, after: int = 0
    ) -> Event:
        """The first event from index ``after`` on that ``matches``; waits for it if needed."""
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events[after:]:
                    if matches(event):
                        return event
                self._changed.clear()
                await self._changed.wait()

    async def wait_for_state(self, state: str, **kwargs: Any) -> ServerStateChanged:
        event = await self.wait_for(
            lambda e: isinstance(e, ServerStateChanged) and e.state == state, **kwargs
        )
        assert isinstance(event, ServerStateChanged)
        return event

    def states(self) -> list[str]:
        return [e.state for e in self.events if isinstance(e, ServerStateChanged)]


class ChunkByChunk:
    """A real StreamReader fed one chunk per read, recording what each read returned."""

    def __init__(self) -> None:
        self.stream = asyncio.StreamReader()
        self.reads: list[bytes] = []
        self._consumed = asyncio.Event()

    async def read(self, n: int = -1) -> bytes:
        chunk = await self.stream.read(n)
        self.reads.append(chunk)
        self._consumed.set()
        return chunk

    async def feed(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self._consumed.clear()
            self.stream.feed_data(chunk)
            await self._consumed.wait()  # the reader has taken exactly this chunk
        self.stream.feed_eof()
