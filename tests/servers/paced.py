"""A real MCPServer whose one long call goes a step at a time, when told to.

Tools:
  paced(steps)   reports progress 1 at once, then each next step after one ``go``;
                 answers "paced STEPS"
  go()           lets ``paced`` take its next step (before or after it waits)
"""

from __future__ import annotations

import asyncio

from mcp.server.mcpserver import Context, MCPServer

TURNS: asyncio.Queue[None] = asyncio.Queue()
server = MCPServer("paced")


@server.tool()
async def paced(steps: int, ctx: Context) -> str:
    for step in range(1, steps + 1):
        if step > 1:
            await TURNS.get()
        await ctx.report_progress(step, steps)
    return f"paced {steps}"


@server.tool()
def go() -> str:
    TURNS.put_nowait(None)
    return "going"


if __name__ == "__main__":
    server.run("stdio")
