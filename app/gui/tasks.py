"""The work of one window on the event loop, ended when the window closes.

A dialog deleted on close may still have work pending (a check of its form,
a catalog read, the answer of a save); once it is gone, that work would
touch widgets that no longer exist. Each dialog runs its coroutines through
its own :class:`WindowTasks`, which cancels them as the dialog closes. The
tray's runner still starts them, so a failure is reported as any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

Run = Callable[[Coroutine[Any, Any, object]], None]


class WindowTasks:
    def __init__(self, run: Run) -> None:
        self._run = run
        self._tasks: set[asyncio.Future[object]] = set()
        self.closed = False

    def run(self, work: Coroutine[Any, Any, object]) -> None:
        self._run(self._while_open(work))

    async def _while_open(self, work: Coroutine[Any, Any, object]) -> None:
        if self.closed:  # closed before the loop got to it
            work.close()
            return
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        try:
            await task
        except asyncio.CancelledError:
            if not self.closed:
                raise
        finally:
            self._tasks.discard(task)

    def cancel(self) -> None:
        """The window closes: nothing it started runs on."""
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
