"""Running a coroutine to its end on qasync's loop, without a pass outside the loop.

qasync's ``run_until_complete`` processes Qt's pending events once more after
the loop has stopped. That pass steps asyncio tasks with no running loop, so
whatever they do next (a subprocess's exit future, an ``asyncio.Queue``)
fails in odd places: a server spawning at that moment lost its supervisor.
:func:`run_until_done` stops where the coroutine ends and leaves the rest to
the next run of the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import qasync

T = TypeVar("T")


def run_until_done(loop: qasync.QEventLoop, work: Awaitable[T]) -> T:
    """Run the loop until ``work`` is done and return its result (or raise its error)."""
    future = asyncio.ensure_future(work, loop=loop)
    future.add_done_callback(lambda _: loop.stop())
    loop.run_forever()
    if not future.done():  # the loop was ended from elsewhere (Quit during start-up)
        future.cancel()
        raise RuntimeError("MCP Tray's event loop stopped before the work was done")
    return future.result()
