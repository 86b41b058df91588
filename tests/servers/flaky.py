"""A real MCPServer that misbehaves on request, for supervisor tests.

    python flaky.py [options]

--crash-at-start        print a fatal line to stderr and exit 3 before serving
--exit-after-file PATH  seconds of uptime after which to exit 4, read from PATH at
                        each start ("never" or a missing file: stay up)
--exit-after-calls N    exit 5 right after answering the N-th ``work`` call
--hang-after SECONDS    freeze the event loop that long after start (stops answering)
--stubborn              ignore SIGTERM and keep running after stdin closes
--grandchild PIDFILE    start a ``sleep`` grandchild and write its pid to PIDFILE
--garbage               write non-MCP text to stdout before and while serving

Tools: ``work`` (answers "done N"), ``slow(seconds)`` (reports progress, loop free)
and ``block(seconds)`` (busy, holding the loop).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer


def main() -> None:
    options = _options()
    if options.crash_at_start:
        print("fatal: cannot open the database at /nonexistent/db.sqlite", file=sys.stderr)
        sys.exit(3)
    if options.stubborn:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if options.grandchild:
        child = subprocess.Popen(["sleep", "1000"])
        Path(options.grandchild).write_text(str(child.pid))
    if options.garbage:
        sys.stdout.write("hello from a stray print()\n")
        sys.stdout.flush()
        threading.Timer(0.3, _garbage_on_fd1).start()
    _arm_timed_exit(options.exit_after_file)
    print(f"flaky server {os.getpid()} serving", file=sys.stderr, flush=True)
    _server(options).run("stdio")
    if options.stubborn:
        threading.Event().wait()  # stdin closed, but this server will not leave


def _server(options: argparse.Namespace) -> MCPServer:
    @contextlib.asynccontextmanager
    async def lifespan(server: MCPServer) -> AsyncIterator[None]:
        if options.hang_after is not None:
            # Block the event loop itself, as a deadlocked server would.
            asyncio.get_running_loop().call_later(options.hang_after, time.sleep, 3600)
        yield

    server: MCPServer = MCPServer("flaky", lifespan=lifespan)
    calls = 0

    @server.tool()
    def work() -> str:
        """Answer, and maybe crash right after answering."""
        nonlocal calls
        calls += 1
        if options.exit_after_calls and calls >= options.exit_after_calls:
            threading.Timer(0.05, os._exit, args=(5,)).start()
        return f"done {calls}"

    @server.tool()
    async def slow(seconds: float, ctx: Context) -> str:
        """Work for a while, reporting progress twice; the event loop stays free."""
        await ctx.report_progress(0, 2)
        await asyncio.sleep(seconds)
        await ctx.report_progress(2, 2)
        return f"slept {seconds}"

    @server.tool()
    async def block(seconds: float) -> str:
        """Hold the event loop, as CPU-bound work in a single-threaded server does."""
        time.sleep(seconds)
        return "finished"

    return server


def _garbage_on_fd1() -> None:
    os.write(1, b'\x00\xff not json either\n{"half": \n')


def _arm_timed_exit(path: str | None) -> None:
    if not path:
        return
    try:
        text = Path(path).read_text().strip()
    except FileNotFoundError:
        return
    if text != "never":
        threading.Timer(float(text), os._exit, args=(4,)).start()


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crash-at-start", action="store_true")
    parser.add_argument("--exit-after-file")
    parser.add_argument("--exit-after-calls", type=int)
    parser.add_argument("--hang-after", type=float)
    parser.add_argument("--stubborn", action="store_true")
    parser.add_argument("--grandchild")
    parser.add_argument("--garbage", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    main()
