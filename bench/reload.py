"""How fast a saved edit reaches an attached client, and what watching costs at idle.

    .venv/bin/python bench/reload.py [--edits N]

One hub (``mcp-tray serve`` in a temporary ``MCP_TRAY_HOME``) supervises a
small Python MCPServer project with ``"watch": true``; its tool answers the
``ANSWER`` written in ``server.py``.

1. **Save to new answer.** The server's own start time is measured first: a
   client spawns the server directly and waits for its ``initialize``
   answer. Then, through ``mcp-tray attach`` (the SDK's client, as an editor
   runs it), each edit rewrites ``server.py`` and the client calls the tool
   back to back until the answer is the new one. Target: at most the
   debounce + the server's start time + 150 ms.
2. **Failed calls.** A second attached client calls the tool without pause
   during all the edits; every error, and every answer older than one the
   client already saw, counts as failed. Target: zero.
3. **Idle cost of watching.** Two hubs with 20 such servers each, one with
   ``watch`` on and one with it off: the hub process's CPU time over
   ``IDLE_S`` seconds once every server is running. The operating system
   counts CPU time in clock ticks (10 ms on Linux), so 0 means under 10 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import psutil
from benchkit import ROOT, Hub
from mcp import Client, StdioServerParameters

# The server the hot-restart tests edit, with its ANSWER line rewritten per edit.
SERVER_CODE = (ROOT / "tests" / "servers" / "answer.py").read_text()
DEBOUNCE_MS = 300  # the default
MARGIN_MS = 150  # the target's allowance for stopping the old process and relaying
IDLE_SERVERS = 20
IDLE_S = 10.0
START_RUNS = 5
READY_TIMEOUT_S = 120.0  # 20 servers starting at once on two cores
CALL_TIMEOUT_S = 30.0  # a call held across a restart answers once the new process is up
EDIT_TIMEOUT_S = 30.0


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.server = root / "server.py"
        root.mkdir(parents=True)
        (root / "pyproject.toml").write_text("[project]\nname = 'edited'\n")
        self.save("v0")

    def save(self, answer: str) -> None:
        self.server.write_text(
            re.sub(r"^ANSWER = .*$", f"ANSWER = {answer!r}", SERVER_CODE, count=1, flags=re.M)
        )

    def entry(self, *, watch: bool) -> dict[str, Any]:
        return {"command": sys.executable, "args": [str(self.server)], "watch": watch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=20, help="successive edits to time")
    edits = parser.parse_args().edits
    scratch = Path(tempfile.mkdtemp(prefix="mcp-tray-bench-projects-"))
    try:
        start_ms = [1000 * server_start_s(Project(scratch / f"s{n}")) for n in range(START_RUNS)]
        save_ms, failed, calls = anyio.run(edit_while_calling, Project(scratch / "edited"), edits)
        idle = {watch: idle_cost(scratch, watch=watch) for watch in (False, True)}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    start = statistics.median(start_ms)
    target = DEBOUNCE_MS + start + MARGIN_MS
    rows = [
        ("server's own start (spawn → initialize)", start_ms, "ms", ""),
        ("save → first call with the new answer", save_ms, "ms", f"≤ {target:.0f}"),
    ]
    for watch, (cpu_ms, threads) in idle.items():
        label = f"hub CPU over {IDLE_S:g} s idle, {IDLE_SERVERS} servers"
        note = f"watch {'on' if watch else 'off'}; hub has {threads} threads"
        rows.append((label, [cpu_ms], "ms", note))
    print(f"{'measurement':<46} {'median':>8} {'p90':>8} {'min':>8} {'max':>8} unit  note")
    for label, samples, unit, note in rows:
        values = [statistics.median(samples), _p90(samples), min(samples), max(samples)]
        print(f"{label:<46} " + " ".join(f"{v:8.1f}" for v in values) + f" {unit:<5} {note}")
    verdict = "met" if statistics.median(save_ms) <= target else "NOT met"
    print(f"\nsave → new answer: target {verdict} ({edits} edits, debounce {DEBOUNCE_MS} ms)")
    print(f"failed calls during the edits: {failed} of {calls} (target 0)")
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"{os.cpu_count()} CPUs; load average {load}")


def _p90(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


# ----- the measurements


def server_start_s(project: Project) -> float:
    async def once() -> float:
        started = time.perf_counter()
        async with sdk_client([sys.executable, str(project.server)], os.environ.copy()):
            return time.perf_counter() - started

    return anyio.run(once)


async def edit_while_calling(project: Project, edits: int) -> tuple[list[float], int, int]:
    with Hub({"edited": project.entry(watch=True)}) as hub:
        hub.wait_for("edited is running", READY_TIMEOUT_S)
        attach = [sys.executable, "-m", "app", "attach", "edited"]
        async with sdk_client(attach, hub.env) as timed, sdk_client(attach, hub.env) as steady:
            await expect(timed, "v0")
            caller = SteadyCaller(steady)
            durations: list[float] = []
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(caller.run)
                for number in range(1, edits + 1):
                    durations.append(await time_one_edit(project, timed, f"v{number}"))
                caller.stop = True
    return [1000 * d for d in durations], caller.failed, caller.calls


async def time_one_edit(project: Project, client: Client, answer: str) -> float:
    project.save(answer)
    saved = time.perf_counter()
    with anyio.fail_after(EDIT_TIMEOUT_S):
        while await call(client) != answer:
            pass
    return time.perf_counter() - saved


class SteadyCaller:
    """Calls without pause; an error or an answer older than one already seen is a failure."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.stop = False
        self.calls = 0
        self.failed = 0
        self.newest = 0

    async def run(self) -> None:
        while not self.stop:
            self.calls += 1
            try:
                version = int((await call(self.client)).removeprefix("v"))
            except Exception as error:  # any failure at all is what this counts
                self.failed += 1
                print(f"failed call: {error!r}", file=sys.stderr)
                continue
            if version < self.newest:
                self.failed += 1
            self.newest = max(self.newest, version)


async def call(client: Client) -> str:
    result = await client.call_tool("answer", {})
    if result.is_error:
        raise RuntimeError(f"the call failed: {result.content}")
    text: str = result.content[0].text  # type: ignore[union-attr]
    return text


async def expect(client: Client, answer: str) -> None:
    if (got := await call(client)) != answer:
        raise RuntimeError(f"expected {answer!r}, got {got!r}")


def idle_cost(scratch: Path, *, watch: bool) -> tuple[float, int]:
    """The hub's CPU time (ms) over IDLE_S seconds once all its servers run (not theirs),
    and its thread count (watching adds threads that block until a change)."""
    projects = [Project(scratch / f"idle-{watch}-{n}") for n in range(IDLE_SERVERS)]
    servers = {f"s{n}": project.entry(watch=watch) for n, project in enumerate(projects)}
    with Hub(servers) as hub:
        hub.wait_for("is running", READY_TIMEOUT_S, count=IDLE_SERVERS)
        process = psutil.Process(hub.process.pid)
        before = process.cpu_times()
        time.sleep(IDLE_S)  # the quantity measured is what happens while nothing happens
        after = process.cpu_times()
        threads = process.num_threads()
    return 1000 * ((after.user - before.user) + (after.system - before.system)), threads


@asynccontextmanager
async def sdk_client(command: list[str], env: dict[str, str]) -> AsyncIterator[Client]:
    server = StdioServerParameters(command=command[0], args=command[1:], env=env)
    async with Client(server, mode="legacy", read_timeout_seconds=CALL_TIMEOUT_S) as client:
        yield client


if __name__ == "__main__":
    main()
