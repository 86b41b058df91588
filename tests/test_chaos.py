"""Chaos: four editors keep calling while their shared server is killed again and again.

A real hub (``mcp-tray serve``) supervises tests/servers/flaky.py with restart
limits so fast and lenient that it never parks. Four SDK clients, each through
its own ``mcp-tray attach`` process, call a seeded mix of ``tools/list``,
``work`` and ``slow`` without pause, while the test ends the server after a
random number of answered requests, waiting each time until the hub reports a
fresh process so that every fault hits a live server. The faults take turns:
a SIGKILL; a SIGSTOP until every client waits on the frozen server, then a
SIGKILL; a SIGSTOP alone, which the hub must find out itself (the stall
timeout) and end.

The promise under test (DESIGN.md, "Relay semantics"): no client loses its
session, every request gets exactly one answer, lists never fail, a call the
crash interrupted gets an error that names the server, and nothing outlives
the hub.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCError, JSONRPCRequest, JSONRPCResponse

from tests.helpers import FLAKY, PYTHON, freeze
from tests.hubprocess import HubProcess, survivors

pytestmark = pytest.mark.anyio

# Failures print the seed; CHAOS_SEED=N replays that mix or tries another one.
SEED = int(os.environ.get("CHAOS_SEED", "20251121"))
CLIENTS = 4
KILLS = 8
KILL_AFTER_ANSWERS = (2, 12)  # each kill waits for this many more answers (random, inclusive)
FAST_RESTARTS = {
    "initialDelayMs": 20,
    "maxDelayMs": 200,
    "maxFailures": 1000,  # never parks
    "pingIntervalMs": 100,
    "stallTimeoutMs": 2000,  # a frozen server is found out within seconds
}
FAULTS = ("kill", "freeze, then kill", "freeze")
CALL_TIMEOUT_S = 20.0  # one request, including a restart it may wait for on a busy machine
RESTART_TIMEOUT_S = 20.0  # from a kill to the hub's "is running" line for the next process
CHAOS_LIMIT_S = 150.0  # the whole storm (about 50 s here): attach, every fault, the final calls
ORPHAN_DEADLINE_S = 3.0  # DESIGN.md: nothing outlives the hub by more than this
TOOLS = "block,slow,work"
SPEC_CODES = range(-32768, -31999)  # JSON-RPC reserves these; DESIGN.md: the hub uses none


@dataclass(frozen=True)
class Answer:
    """What one request came back with: a result's text, an error, or nothing in time."""

    client: int
    request: str
    text: str | None = None
    error: MCPError | None = None
    expected: str | None = None  # what the result must say, when the request decides it

    def problem(self) -> str | None:
        """Why this answer breaks the promise, or None when it keeps it."""
        if self.error is not None:
            if self.request == "tools/list":
                return "a list failed, though it is safe to repeat"
            if self.error.code in SPEC_CODES or "flaky" not in self.error.message:
                return "the error is not the hub's own, or does not name the server"
            return None
        if self.text is None:
            return f"no answer within {CALL_TIMEOUT_S:g}s"
        if self.expected is not None and self.text != self.expected:
            return f"expected {self.expected!r}: the answer of another request?"
        return None

    def __str__(self) -> str:
        outcome = self.text if self.error is None else f"error {self.error.code}: {self.error}"
        return f"client {self.client} {self.request} -> {outcome}: {self.problem()}"


class Tally:
    """Every answer the clients got, in order, and a bounded wait for more of them."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self._grew = anyio.Event()

    def record(self, answer: Answer) -> None:
        self.answers.append(answer)
        self._grew.set()
        self._grew = anyio.Event()

    async def reach(self, count: int) -> None:
        with anyio.fail_after(CALL_TIMEOUT_S):
            while len(self.answers) < count:
                await self._grew.wait()


@dataclass
class Wire:
    """What crossed one client's stdio: ids it sent requests under, ids answered, how often.

    Counted below the SDK, because the SDK silently drops a second answer
    that arrives while the first is still being delivered.
    """

    requests: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    moved: anyio.Event = field(default_factory=anyio.Event)  # replaced at each count

    def count(self, counter: Counter[str], key: str) -> None:
        counter[key] += 1
        self.moved.set()
        self.moved = anyio.Event()

    def waiting(self) -> int:
        """How many of its requests wait for an answer."""
        return self.requests.total() - self.answers.total()

    def not_answered_once(self) -> dict[str, tuple[int, int]]:
        """Each id not sent exactly once and answered exactly once: (sent, answered)."""
        ids = self.requests.keys() | self.answers.keys()
        return {
            key: (self.requests[key], self.answers[key])
            for key in ids
            if (self.requests[key], self.answers[key]) != (1, 1)
        }


class _CountedReads:
    """The SDK's read stream, counting the answers that come through it."""

    def __init__(self, inner: Any, wire: Wire) -> None:
        self._inner = inner
        self._wire = wire

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        item = await self._inner.receive()
        if isinstance(item, SessionMessage) and isinstance(
            item.message, JSONRPCResponse | JSONRPCError
        ):
            self._wire.count(self._wire.answers, repr(item.message.id))
        return item

    def __aiter__(self) -> _CountedReads:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _CountedReads:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _CountedWrites:
    """The SDK's write stream, counting the requests that go out through it."""

    def __init__(self, inner: Any, wire: Wire) -> None:
        self._inner = inner
        self._wire = wire

    async def send(self, item: SessionMessage) -> None:
        if isinstance(item.message, JSONRPCRequest):
            self._wire.count(self._wire.requests, repr(item.message.id))
        await self._inner.send(item)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _CountedWrites:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


@asynccontextmanager
async def counted_stdio(
    params: StdioServerParameters, wire: Wire
) -> AsyncIterator[tuple[_CountedReads, _CountedWrites]]:
    """The SDK's own stdio transport, seen through a counter on each direction."""
    async with stdio_client(params) as (reads, writes):
        yield _CountedReads(reads, wire), _CountedWrites(writes, wire)


@asynccontextmanager
async def attached(home: Path, wire: Wire) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "app", "attach", "flaky"],
        env={**os.environ, "MCP_TRAY_HOME": str(home)},
    )
    transport = counted_stdio(params, wire)
    async with Client(transport, mode="legacy", read_timeout_seconds=CALL_TIMEOUT_S) as client:
        yield client


@pytest.fixture
def hub(tray_home: Path) -> Iterator[HubProcess]:
    """A hub whose flaky server restarts within milliseconds and never gives up.

    The test stops it itself, to see what is left afterwards; this only
    cleans up after a test that failed before that.
    """
    entry = {"command": PYTHON, "args": [str(FLAKY)], "restart": FAST_RESTARTS}
    (tray_home / "config.json").write_text(json.dumps({"mcpServers": {"flaky": entry}}))
    process = HubProcess(tray_home)
    yield process
    if process.process.poll() is None:
        process.stop()


async def ask(client: Client, number: int, rng: random.Random) -> Answer:
    """One request of the seeded mix. ``slow`` sleeps a client-specific time, so a
    result delivered to the wrong request or client shows in its text."""
    request = rng.choice(["tools/list", "tools/list", "work", "slow"])
    try:
        with anyio.fail_after(CALL_TIMEOUT_S):
            if request == "tools/list":
                # "bypass": the SDK would otherwise answer repeated lists from its own cache.
                listed = await client.list_tools(cache_mode="bypass")
                names = ",".join(sorted(tool.name for tool in listed.tools))
                return Answer(number, request, names, expected=TOOLS)
            if request == "work":
                return Answer(number, request, _text(await client.call_tool("work", {})))
            seconds = rng.choice([0.05, 0.1, 0.2]) + number / 1000
            result = await client.call_tool("slow", {"seconds": seconds})
            return Answer(number, f"slow {seconds}", _text(result), expected=f"slept {seconds}")
    except MCPError as error:
        return Answer(number, request, error=error)
    except TimeoutError:
        return Answer(number, request)


async def keep_calling(client: Client, number: int, tally: Tally, stop: anyio.Event) -> None:
    rng = random.Random(SEED + number)
    while not stop.is_set():
        tally.record(await ask(client, number, rng))


async def live_server(hub: HubProcess, killed: list[psutil.Process]) -> psutil.Process:
    """The server process the hub announced after the last kill, once it is running.

    ``wait_for_line`` also matches lines seen before, so the pattern skips the
    announcements of processes already killed: the match is always fresh.
    """
    dead = "|".join(str(process.pid) for process in killed) or "none"
    pattern = rf"flaky is running \(pid (?!(?:{dead})\))(\d+)\)"
    announced = await anyio.to_thread.run_sync(hub.wait_for_line, pattern, RESTART_TIMEOUT_S)
    (row,) = await anyio.to_thread.run_sync(hub.status)
    assert (row["state"], row["pid"]) == ("running", int(announced[1])), row
    return psutil.Process(row["pid"])


async def kill_repeatedly(hub: HubProcess, tally: Tally, wires: list[Wire]) -> list[psutil.Process]:
    """End the live server KILLS times, each after a random number of answers, with
    each of FAULTS in turn.

    Counting answers instead of sleeping puts the faults at random points of
    the traffic, while every wait stays tied to something that happens.
    """
    rng = random.Random(SEED)
    killed: list[psutil.Process] = []
    for number in range(KILLS):
        server = await live_server(hub, killed)
        await tally.reach(len(tally.answers) + rng.randint(*KILL_AFTER_ANSWERS))
        fault = FAULTS[number % len(FAULTS)]
        if fault != "kill":
            await freeze(server.pid)
            await every_client_waiting(wires)  # on the frozen server, or on its cached list
        if fault != "freeze":
            server.send_signal(signal.SIGKILL)
        killed.append(server)
    await live_server(hub, killed)  # up again, so the final calls meet a live server
    return killed


async def every_client_waiting(wires: list[Wire]) -> None:
    with anyio.fail_after(CALL_TIMEOUT_S):
        while not all(wire.waiting() > 0 for wire in wires):
            moved = [wire.moved for wire in wires]
            async with anyio.create_task_group() as group:

                async def first_move(event: anyio.Event) -> None:
                    await event.wait()
                    group.cancel_scope.cancel()

                for event in moved:
                    group.start_soon(first_move, event)


def attach_processes() -> list[psutil.Process]:
    """This test's ``mcp-tray attach`` processes (the SDK starts them as our children)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):  # a child that just ended is not ours to count
            if "attach" in child.cmdline():
                found.append(child)
    return found


def _text(result: object) -> str:
    return result.content[0].text  # type: ignore[attr-defined, no-any-return]


async def test_four_clients_keep_their_sessions_and_get_one_answer_each_through_eight_faults(
    hub: HubProcess,
) -> None:
    tally, stop = Tally(), anyio.Event()
    wires = [Wire() for _ in range(CLIENTS)]
    with anyio.fail_after(CHAOS_LIMIT_S):
        await live_server(hub, [])
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(attached(hub.home, w)) for w in wires]
            shims = attach_processes()
            async with anyio.create_task_group() as group:
                for number, client in enumerate(clients):
                    group.start_soon(keep_calling, client, number, tally, stop)
                killed = await kill_repeatedly(hub, tally, wires)
                stop.set()
            final = [_text(await client.call_tool("work", {})) for client in clients]
        (row,) = await anyio.to_thread.run_sync(hub.status)
    family = hub.descendants()
    hub.stop()

    context = f"seed {SEED}, {len(tally.answers)} answers"
    assert [str(answer) for answer in tally.answers if answer.problem()] == [], context
    assert [wire.not_answered_once() for wire in wires] == [{}] * CLIENTS, context
    assert all(re.fullmatch(r"done \d+", text) for text in final), final
    assert {answer.client for answer in tally.answers} == set(range(CLIENTS)), context
    assert len(killed) == KILLS and row["restarts"] >= KILLS, row
    assert len(shims) == CLIENTS, shims
    assert survivors([*shims, *killed, *family], within=ORPHAN_DEADLINE_S) == []
