"""Running work on qasync's loop from outside it (start-up and shutdown of the tray app)."""

from __future__ import annotations

import asyncio

import qasync
from PySide6.QtWidgets import QApplication

from app.gui.qtloop import run_until_done


def test_no_callback_runs_without_a_running_loop_once_the_work_is_done(qapp: QApplication) -> None:
    """qasync's run_until_complete processes Qt's events once more after the loop stops:
    a callback due then ran with no running loop (a spawning server lost its supervisor)."""
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    seen: list[bool] = []

    def due_after_the_work() -> None:
        seen.append(asyncio.events._get_running_loop() is loop)

    # Work whose end schedules a callback, as a finished request or a spawn does.
    work: asyncio.Future[int] = loop.create_future()
    work.add_done_callback(lambda _: loop.call_soon(due_after_the_work))
    loop.call_soon(work.set_result, 7)

    try:
        assert run_until_done(loop, work) == 7
        run_until_done(loop, asyncio.sleep(0))  # the next run of the loop
    finally:
        loop.close()
        asyncio.set_event_loop(None)

    assert seen and all(seen)
