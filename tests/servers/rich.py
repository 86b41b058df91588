"""A real MCPServer that uses every relay feature, and tells what reached it, for relay tests.

    python rich.py

Everything the relay forwards that a test wants to check on the server's side
(subscribe, unsubscribe, logging/setLevel, a tool starting, a tool being
cancelled) is recorded in this process and announced at once to the clients
as a ``notifications/message`` log entry with ``logger="rich"`` and
``data={"event": ..., ...}`` (the relay broadcasts log entries, so a test can
wait for one instead of sleeping). ``events`` returns the whole record.

Resources: ``rich://counter``. Any uri can be subscribed to, except those
starting with ``rich://refused`` (the server answers an error); a subscribe
to ``rich://slow-subscribe`` takes a second.

Tools:
  progress(steps)   reports ``steps`` progress notifications, answers "done STEPS"
  hold(label)       waits until ``release(label)``; answers "released LABEL"
  release(label)    lets ``hold(label)`` finish (before or after it started)
  touch(uri)        sends notifications/resources/updated for ``uri``
  grow(name)        adds a tool called NAME (answering "grown") and sends
                    notifications/tools/list_changed
  sample(prompt)    asks the client for sampling; answers its text, or "error CODE: MESSAGE"
  ask(question)     asks the client for a name (elicitation); answers "ACTION NAME", or
                    "error CODE: MESSAGE"
  big(megabytes)    ``big_text(megabytes)``: that many MiB of UTF-8
  emit(lines)       writes those raw lines to stdout (the wire), then answers "emitted"
  events()          the record, as JSON
  mark(label, padding)  appends LABEL as a line to the file named by $RICH_MARKS, which
                    outlives the process: how often a call really ran, across restarts
"""

from __future__ import annotations

import asyncio
import json
import os
import warnings
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from pydantic import BaseModel

EVENTS: list[dict[str, Any]] = []
GATES: dict[str, asyncio.Event] = {}
SLOW_SUBSCRIBE_S = 1.0  # long enough for a test to act while the hub waits on it
WIRE: int | None = None  # the real stdout, for ``emit``: the SDK diverts fd 1 to stderr


class Name(BaseModel):
    """What ``ask`` elicits."""

    name: str


def big_text(megabytes: float) -> str:
    """Numbered 64-byte cells with multibyte characters, ``megabytes`` MiB of UTF-8 in all.

    The numbers show where a chunk was lost or reordered; the multibyte
    characters land on every read-buffer boundary sooner or later.
    """
    cells = round(megabytes * 1024 * 1024) // 64
    filler = "é€" + "x" * 51  # 56 bytes of UTF-8 after the 8-byte number
    return "".join(f"{i:07d}|{filler}" for i in range(cells))


async def record(session: Any, event: str, **fields: Any) -> None:
    entry = {"event": event, **fields}
    EVENTS.append(entry)
    await session.send_log_message(level="info", data=entry, logger="rich")


def build() -> MCPServer:
    server: MCPServer = MCPServer("rich", version="7.7.7")

    @server.resource("rich://counter")
    def counter() -> str:
        return "counter"

    @server.tool()
    async def progress(steps: int, ctx: Context) -> str:
        for step in range(steps):
            await ctx.report_progress(step + 1, steps)
        return f"done {steps}"

    @server.tool()
    async def hold(label: str, ctx: Context) -> str:
        gate = GATES.setdefault(label, asyncio.Event())
        await record(ctx.session, "started", label=label)
        try:
            await gate.wait()
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await record(ctx.session, "cancelled", label=label)
            raise
        return f"released {label}"

    @server.tool()
    def release(label: str) -> str:
        GATES.setdefault(label, asyncio.Event()).set()
        return "released"

    @server.tool()
    async def touch(uri: str, ctx: Context) -> str:
        await ctx.session.send_resource_updated(uri)
        return "touched"

    @server.tool()
    async def grow(name: str, ctx: Context) -> str:
        server.add_tool(lambda: "grown", name=name, description="added by grow")
        await ctx.session.send_tool_list_changed()
        return f"grown {name}"

    @server.tool()
    async def sample(prompt: str, ctx: Context) -> str:
        message = types.SamplingMessage(role="user", content=types.TextContent(text=prompt))
        try:
            reply = await ctx.session.create_message([message], max_tokens=10)
        except MCPError as error:
            return f"error {error.error.code}: {error.error.message}"
        return reply.content.text  # type: ignore[union-attr]  # a text reply is all tests send

    @server.tool()
    async def ask(question: str, ctx: Context) -> str:
        try:
            answer = await ctx.elicit(question, Name)
        except MCPError as error:
            return f"error {error.error.code}: {error.error.message}"
        return f"{answer.action} {answer.data.name if answer.action == 'accept' else ''}".strip()

    @server.tool(structured_output=False)  # else the SDK sends the text twice
    def big(megabytes: float) -> str:
        return big_text(megabytes)

    @server.tool()
    def emit(lines: list[str]) -> str:
        assert WIRE is not None
        os.write(WIRE, "".join(line + "\n" for line in lines).encode())
        return "emitted"

    @server.tool()
    def events() -> str:
        return json.dumps(EVENTS)

    @server.tool()
    def mark(label: str, padding: str = "") -> str:
        with open(os.environ["RICH_MARKS"], "a", encoding="utf-8") as marks:
            marks.write(label + "\n")
        return f"marked {label}"

    _add_subscriptions_and_logging(server)
    return server


def _add_subscriptions_and_logging(server: MCPServer) -> None:
    """MCPServer has no decorators for these; the low-level server takes the handlers."""

    async def subscribe(
        ctx: ServerRequestContext[Any], params: types.SubscribeRequestParams
    ) -> dict[str, Any]:
        if params.uri.startswith("rich://refused"):
            raise MCPError(code=-32602, message="rich://refused cannot be subscribed to")
        await record(ctx.session, "subscribe", uri=params.uri)
        if params.uri == "rich://slow-subscribe":
            await anyio.sleep(SLOW_SUBSCRIBE_S)
        return {}

    async def unsubscribe(
        ctx: ServerRequestContext[Any], params: types.UnsubscribeRequestParams
    ) -> dict[str, Any]:
        await record(ctx.session, "unsubscribe", uri=params.uri)
        return {}

    async def set_level(
        ctx: ServerRequestContext[Any], params: types.SetLevelRequestParams
    ) -> dict[str, Any]:
        await record(ctx.session, "setLevel", level=params.level)
        return {}

    lowlevel = server._lowlevel_server  # the only way to add these handlers
    lowlevel.add_request_handler("resources/subscribe", types.SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler(
        "resources/unsubscribe", types.UnsubscribeRequestParams, unsubscribe
    )
    lowlevel.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)


if __name__ == "__main__":
    # Logging and sampling are deprecated for 2026-07-28; relays still carry them.
    warnings.simplefilter("ignore", MCPDeprecationWarning)
    WIRE = os.dup(1)  # taken before the SDK claims fd 1
    build().run("stdio")
